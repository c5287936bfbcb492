/**
 * The emulator's exceptions (`rehearse/emulator-exceptions.yaml`): resources that the AWS emulator
 * cannot create (`exclude`), and attributes it does not read back as they were written
 * (`ignore-changes`). Everything else must apply and re-plan clean; an entry that matches no resource
 * is an error, so the file cannot outlive the stacks it describes.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { REPO_ROOT } from "../toolchain";

/** Default location of the exceptions file. */
export const EXCEPTIONS_FILE = join(REPO_ROOT, "rehearse", "emulator-exceptions.yaml");

/** What the rehearsal does with a listed resource. */
export type ExceptionEffect = "exclude" | "ignore-changes";

/** One entry of the exceptions file. */
export interface EmulatorException {
  /** Workspace the resource belongs to (`bootstrap`, `shared`). */
  readonly stack: string;
  /** Terraform resource type, for example `aws_eks_addon`. */
  readonly type: string;
  /** Construct path inside the stack (`State/Policy`); `*` matches any run of characters. */
  readonly path: string;
  /**
   * `exclude`: the emulator cannot create it; it is left out of the rehearsed configuration together
   * with every resource that reads one of its attributes. `ignore-changes`: it is created as written,
   * and the re-plan does not compare `attributes` (added to its `lifecycle.ignore_changes`).
   */
  readonly effect: ExceptionEffect;
  /** With `ignore-changes`: the top-level attributes the emulator reads back differently. */
  readonly attributes: readonly string[];
  /** The emulator's behaviour that makes the exception necessary. */
  readonly reason: string;
}

/** Parses and validates the exceptions file's text; throws listing every problem. */
export function parseExceptions(text: string, source = "emulator-exceptions.yaml") {
  const doc = parse(text) as unknown;
  const problems: string[] = [];
  const list =
    doc && typeof doc === "object" ? (doc as Record<string, unknown>).exceptions : undefined;
  if (!Array.isArray(list)) {
    throw new Error(`${source}: expected a top-level "exceptions" list`);
  }
  const out: EmulatorException[] = [];
  list.forEach((raw: unknown, i) => {
    const entry = (raw ?? {}) as Record<string, unknown>;
    const where = `${source}: exceptions[${i}]`;
    for (const field of ["stack", "type", "reason"] as const) {
      if (typeof entry[field] !== "string" || (entry[field] as string).trim() === "") {
        problems.push(`${where}.${field}: required, a non-empty string`);
      }
    }
    if (entry.effect !== "exclude" && entry.effect !== "ignore-changes") {
      problems.push(
        `${where}.effect: allowed: "exclude" or "ignore-changes", got ${String(entry.effect)}`,
      );
    }
    const attributes = entry.attributes ?? [];
    if (
      !Array.isArray(attributes) ||
      attributes.some((a) => typeof a !== "string" || !/^[a-z_][a-z0-9_]*$/.test(a)) ||
      (entry.effect === "ignore-changes") !== attributes.length > 0
    ) {
      problems.push(
        `${where}.attributes: with ignore-changes (and only then), a list of attribute names`,
      );
    }
    if (entry.path !== undefined && typeof entry.path !== "string") {
      problems.push(`${where}.path: a construct path glob such as "State/Policy"`);
    }
    out.push({
      stack: String(entry.stack),
      type: String(entry.type),
      path: typeof entry.path === "string" ? entry.path : "*",
      effect: entry.effect as ExceptionEffect,
      attributes: Array.isArray(attributes) ? (attributes as string[]) : [],
      reason: String(entry.reason).trim().replace(/\s+/g, " "),
    });
  });
  if (problems.length > 0) throw new Error(problems.join("\n"));
  return out;
}

/** A way the rehearsal differs from a real deploy that is not about one resource. */
export interface RehearsalDifference {
  /** Stable id the rehearsal's code names the difference by. */
  readonly id: string;
  /** What differs. */
  readonly what: string;
  /** Why, and what it means for what the rehearsal proves. */
  readonly reason: string;
}

/** Parses the file's `differences` list; throws listing every problem. */
export function parseDifferences(
  text: string,
  source = "emulator-exceptions.yaml",
): RehearsalDifference[] {
  const doc = parse(text) as unknown;
  const list =
    doc && typeof doc === "object" ? (doc as Record<string, unknown>).differences : undefined;
  if (!Array.isArray(list)) throw new Error(`${source}: expected a top-level "differences" list`);
  const problems: string[] = [];
  const seen = new Set<string>();
  const out = list.map((raw: unknown, i) => {
    const entry = (raw ?? {}) as Record<string, unknown>;
    const where = `${source}: differences[${i}]`;
    for (const key of Object.keys(entry)) {
      if (!["id", "what", "reason"].includes(key)) {
        problems.push(`${where}.${key}: unknown key; allowed: id, what, reason`);
      }
    }
    for (const field of ["id", "what", "reason"] as const) {
      if (typeof entry[field] !== "string" || (entry[field] as string).trim() === "") {
        problems.push(`${where}.${field}: required, a non-empty string`);
      }
    }
    const id = String(entry.id);
    if (!/^[a-z][a-z0-9-]*$/.test(id)) problems.push(`${where}.id: kebab-case, got ${id}`);
    if (seen.has(id)) problems.push(`${where}.id: ${id} is listed twice`);
    seen.add(id);
    const text = (v: unknown) => String(v).trim().replace(/\s+/g, " ");
    return { id, what: text(entry.what), reason: text(entry.reason) };
  });
  if (problems.length > 0) throw new Error(problems.join("\n"));
  return out;
}

/**
 * The differences the rehearsal may use. Code names a difference before relying on it, so a
 * difference that the file does not list and explain cannot exist; {@link unused} finds entries
 * the code no longer needs.
 */
export class Differences {
  private readonly used = new Set<string>();

  constructor(readonly list: readonly RehearsalDifference[]) {}

  static load(file = EXCEPTIONS_FILE): Differences {
    return new Differences(parseDifferences(readFileSync(file, "utf8"), file));
  }

  /** The listed difference `id`; throws if the file does not list it. */
  use(id: string): RehearsalDifference {
    const found = this.list.find((d) => d.id === id);
    if (!found) {
      throw new Error(
        `the rehearsal relies on a difference "${id}" that rehearse/emulator-exceptions.yaml does not list: add it with its reason`,
      );
    }
    this.used.add(id);
    return found;
  }

  /** Listed differences no code named. */
  unused(): RehearsalDifference[] {
    return this.list.filter((d) => !this.used.has(d.id));
  }
}

/** Reads the exceptions file. */
export function loadExceptions(file = EXCEPTIONS_FILE): EmulatorException[] {
  return parseExceptions(readFileSync(file, "utf8"), file);
}

/** Whether a glob with `*` wildcards matches the whole of `value`. */
export function globMatches(glob: string, value: string): boolean {
  const pattern = glob
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${pattern}$`).test(value);
}

/** A resource or data source of a synthesized stack. */
export interface SynthesizedBlock {
  /** Terraform address: `aws_s3_bucket.State_Bucket_1A2B` or `data.aws_region.Region`. */
  readonly address: string;
  readonly type: string;
  /** Block name (the logical id). */
  readonly name: string;
  /** Construct path inside the stack, for example `State/Bucket`. */
  readonly path: string;
  readonly managed: boolean;
}

type Json = Record<string, unknown>;
type Blocks = Record<string, Record<string, Json>>;

/** Every resource and data source of a synthesized `cdk.tf.json`, with its construct path. */
export function listBlocks(stack: string, config: Json): SynthesizedBlock[] {
  const blocks: SynthesizedBlock[] = [];
  for (const [kind, managed] of [
    ["resource", true],
    ["data", false],
  ] as const) {
    for (const [type, byName] of Object.entries((config[kind] ?? {}) as Blocks)) {
      for (const [name, body] of Object.entries(byName)) {
        const meta = ((body["//"] as Json | undefined)?.metadata ?? {}) as { path?: string };
        const fullPath = meta.path ?? name;
        blocks.push({
          address: `${managed ? "" : "data."}${type}.${name}`,
          type,
          name,
          path: fullPath.startsWith(`${stack}/`) ? fullPath.slice(stack.length + 1) : fullPath,
          managed,
        });
      }
    }
  }
  return blocks;
}

/** The addresses a block body refers to (interpolations and `depends_on`), among `known`. */
export function referencedAddresses(body: unknown, known: ReadonlySet<string>): Set<string> {
  const found = new Set<string>();
  const text = JSON.stringify(body);
  for (const match of text.matchAll(/(?:data\.)?[a-z][a-z0-9]*_[a-z0-9_]+\.[A-Za-z0-9_-]+/g)) {
    if (known.has(match[0])) found.add(match[0]);
  }
  return found;
}

/** A block left out of the rehearsed configuration, and why. */
export interface Exclusion {
  readonly address: string;
  readonly path: string;
  /** The exception's reason, or "reads <address>" for a block excluded because of another. */
  readonly reason: string;
}

/** The result of applying the `exclude` exceptions to one stack. */
export interface PrunedStack {
  readonly config: Json;
  readonly excluded: Exclusion[];
  /** Ordering-only edges that pointed at an excluded block: `from -> to`. */
  readonly droppedDependsOn: string[];
  /** Outputs removed because they read an excluded block. */
  readonly removedOutputs: string[];
  /** Resources whose re-plan does not compare some attributes: `address: attributes`. */
  readonly ignored: { address: string; attributes: readonly string[]; reason: string }[];
  /** Exceptions of this stack that matched no block: the file is out of date. */
  readonly unmatched: EmulatorException[];
}

/**
 * Applies the exceptions of `stack` to its synthesized configuration. `exclude`: each matching block,
 * then (transitively) every block that reads an attribute of an excluded one, is left out; a
 * `depends_on` edge to an excluded block only orders operations and carries no value, so it is dropped
 * instead; outputs that read an excluded block are removed. `ignore-changes`: the attributes are added
 * to the block's `lifecycle.ignore_changes` (creation is unaffected). The input is not modified.
 */
export function pruneStack(
  stack: string,
  config: Json,
  exceptions: readonly EmulatorException[],
): PrunedStack {
  const copy = structuredClone(config);
  const blocks = listBlocks(stack, copy);
  const known = new Set(blocks.map((b) => b.address));
  const bodies = new Map<string, Json>();
  for (const b of blocks) {
    const section = (b.managed ? copy.resource : copy.data) as Blocks;
    bodies.set(b.address, section[b.type][b.name]);
  }

  const excluded = new Map<string, Exclusion>();
  const unmatched: EmulatorException[] = [];
  const ignoring: { block: SynthesizedBlock; ex: EmulatorException }[] = [];
  for (const ex of exceptions.filter((e) => e.stack === stack)) {
    const hits = blocks.filter(
      (b) => b.managed && b.type === ex.type && globMatches(ex.path, b.path),
    );
    if (hits.length === 0) unmatched.push(ex);
    for (const block of hits) {
      if (ex.effect === "exclude") {
        excluded.set(block.address, {
          address: block.address,
          path: block.path,
          reason: ex.reason,
        });
      } else {
        ignoring.push({ block, ex });
      }
    }
  }

  // Value references (everything but depends_on) propagate the exclusion.
  const reads = new Map<string, Set<string>>();
  for (const [address, body] of bodies) {
    const values = { ...body };
    delete values.depends_on;
    reads.set(address, referencedAddresses(values, known));
  }
  let changed = true;
  while (changed) {
    changed = false;
    for (const b of blocks) {
      if (excluded.has(b.address)) continue;
      const cause = [...(reads.get(b.address) ?? [])].find((r) => excluded.has(r));
      if (cause) {
        excluded.set(b.address, { address: b.address, path: b.path, reason: `reads ${cause}` });
        changed = true;
      }
    }
  }

  const droppedDependsOn: string[] = [];
  for (const [address, body] of bodies) {
    if (excluded.has(address) || !Array.isArray(body.depends_on)) continue;
    const kept = (body.depends_on as string[]).filter((dep) => {
      if (!excluded.has(dep)) return true;
      droppedDependsOn.push(`${address} -> ${dep}`);
      return false;
    });
    if (kept.length > 0) body.depends_on = kept;
    else delete body.depends_on;
  }

  for (const b of blocks.filter((x) => excluded.has(x.address))) {
    const kind = b.managed ? "resource" : "data";
    const section = copy[kind] as Blocks;
    delete section[b.type][b.name];
    if (Object.keys(section[b.type]).length === 0) delete section[b.type];
  }

  const ignored: PrunedStack["ignored"] = [];
  for (const { block, ex } of ignoring.filter((i) => !excluded.has(i.block.address))) {
    const body = bodies.get(block.address)!;
    const lifecycle = (body.lifecycle ?? {}) as { ignore_changes?: string[] | "all" };
    if (lifecycle.ignore_changes !== "all") {
      const current = lifecycle.ignore_changes ?? [];
      lifecycle.ignore_changes = [...current, ...ex.attributes.filter((a) => !current.includes(a))];
    }
    body.lifecycle = lifecycle;
    ignored.push({ address: block.address, attributes: ex.attributes, reason: ex.reason });
  }

  const removedOutputs: string[] = [];
  const outputs = (copy.output ?? {}) as Record<string, unknown>;
  for (const [name, body] of Object.entries(outputs)) {
    if ([...referencedAddresses(body, known)].some((r) => excluded.has(r))) {
      delete outputs[name];
      removedOutputs.push(name);
    }
  }

  return {
    config: copy,
    excluded: [...excluded.values()],
    droppedDependsOn,
    removedOutputs,
    ignored,
    unmatched,
  };
}

/** A resource change in a plan, from `terraform show -json`. */
export interface PlannedChange {
  readonly address: string;
  readonly type: string;
  readonly actions: string[];
}

/** Resource and output changes of a plan other than no-op and data-source reads. */
export function plannedChanges(planJson: string): PlannedChange[] {
  const plan = JSON.parse(planJson) as {
    resource_changes?: { address: string; type: string; change: { actions: string[] } }[];
    output_changes?: Record<string, { actions: string[] }>;
  };
  const changes: PlannedChange[] = [];
  for (const rc of plan.resource_changes ?? []) {
    const actions = rc.change.actions;
    if (actions.every((a) => a === "no-op" || a === "read")) continue;
    changes.push({ address: rc.address, type: rc.type, actions });
  }
  for (const [name, oc] of Object.entries(plan.output_changes ?? {})) {
    if (oc.actions.every((a) => a === "no-op")) continue;
    changes.push({ address: `output.${name}`, type: "output", actions: oc.actions });
  }
  return changes;
}
