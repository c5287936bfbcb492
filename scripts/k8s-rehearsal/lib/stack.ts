/**
 * Reads what the stacks synthesized (`cdktf.out/stacks/<stack>/cdk.tf.json`): the node groups of
 * `shared`, and every Kubernetes namespace, ResourceQuota, LimitRange and Helm release of an
 * application stack. The rehearsal keeps no second copy of these settings.
 */
import { readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { RehearsalError } from "./processes";

/** The parts of a synthesized Terraform JSON document the rehearsal reads. */
export interface StackJson {
  readonly resource?: Record<string, Record<string, Record<string, unknown>>>;
  readonly data?: Record<string, Record<string, Record<string, unknown>>>;
  readonly provider?: Record<string, unknown>;
  readonly output?: Record<string, { value?: unknown }>;
}

/** A stack's JSON and the folder it was synthesized into (relative paths resolve from there). */
export interface Stack {
  readonly name: string;
  readonly dir: string;
  readonly json: StackJson;
}

export function stackDir(outDir: string, name: string): string {
  return join(outDir, "stacks", name);
}

/** Reads `<outDir>/stacks/<name>/cdk.tf.json`, with a message that says how to produce it. */
export function readStack(outDir: string, name: string): Stack {
  const dir = stackDir(outDir, name);
  const file = join(dir, "cdk.tf.json");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new RehearsalError(
      `${file} not found: run \`npm run synth\` first (it writes every stack to cdktf.out/stacks/<stack>/cdk.tf.json).`,
    );
  }
  return { name, dir, json: JSON.parse(text) as StackJson };
}

/** cdktf writes a single nested block as an object, Terraform JSON also allows a one-item list. */
export function block(value: unknown): Record<string, unknown> | undefined {
  if (Array.isArray(value)) return value.length > 0 ? block(value[0]) : undefined;
  return value !== null && typeof value === "object"
    ? (value as Record<string, unknown>)
    : undefined;
}

/** Repeated nested blocks: a list, or one object standing for a list of one. */
export function blocks(value: unknown): Record<string, unknown>[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value.map((v) => block(v)).filter((v) => v !== undefined);
  const one = block(value);
  return one ? [one] : [];
}

/** Every resource of one type, with its address (`type.id`). */
export function resourcesOfType(
  json: StackJson,
  type: string,
): { address: string; id: string; attrs: Record<string, unknown> }[] {
  return Object.entries(json.resource?.[type] ?? {}).map(([id, attrs]) => ({
    address: `${type}.${id}`,
    id,
    attrs,
  }));
}

const WHOLE_REFERENCE = /^\$\{([a-zA-Z_][\w-]*)\.([\w-]+)\.([^}]+)\}$/;

/**
 * Resolves a whole-string reference to another resource of the same stack
 * (`${kubernetes_namespace_v1.api.metadata[0].name}`, `.id` of a namespace) to the value that
 * resource was configured with. Literals pass through; anything else is an error naming it.
 */
export function resolveReference(json: StackJson, value: unknown, where: string): unknown {
  if (typeof value !== "string" || !value.includes("${")) return value;
  const match = WHOLE_REFERENCE.exec(value);
  const target = match ? json.resource?.[match[1]!]?.[match[2]!] : undefined;
  if (!match || !target) {
    throw new RehearsalError(
      `${where}: cannot resolve ${value} from the synthesized JSON alone (only references to another resource's configured values in the same stack can be rehearsed)`,
    );
  }
  let path = match[3]!;
  if (path === "id" && match[1]!.startsWith("kubernetes_namespace")) path = "metadata[0].name";
  let current: unknown = target;
  for (const part of path.split(".")) {
    const indexed = /^([\w-]+)((?:\[\d+\])*)$/.exec(part);
    if (!indexed) {
      throw new RehearsalError(`${where}: cannot follow ${value} (at "${part}")`);
    }
    current = (current as Record<string, unknown> | undefined)?.[indexed[1]!];
    for (const index of indexed[2]!.match(/\d+/g) ?? []) {
      // A single nested block written as an object stands for a list of one.
      current = Array.isArray(current)
        ? current[Number(index)]
        : index === "0"
          ? current
          : undefined;
    }
  }
  if (current === undefined) throw new RehearsalError(`${where}: ${value} has no value`);
  return resolveReference(json, current, where);
}

// --- node groups (shared) ----------------------------------------------------------------------

/** A fake node group: what kwok nodes to create for one `aws_eks_node_group`. */
export interface NodeGroup {
  readonly address: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: readonly { key: string; value?: string; effect: string }[];
  readonly desiredSize: number;
  readonly instanceTypes: readonly string[];
  readonly capacityType: string;
}

const TAINT_EFFECTS: Record<string, string> = {
  NO_SCHEDULE: "NoSchedule",
  NO_EXECUTE: "NoExecute",
  PREFER_NO_SCHEDULE: "PreferNoSchedule",
};

function literalString(value: unknown, where: string): string {
  if (typeof value !== "string" || value.includes("${")) {
    throw new RehearsalError(
      `${where} must be a literal string in the synthesized JSON, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** The node groups `shared` declares, with their labels, taints and desired sizes. */
export function nodeGroups(shared: Stack): NodeGroup[] {
  const groups = resourcesOfType(shared.json, "aws_eks_node_group").map(({ address, attrs }) => {
    const scaling = block(attrs.scaling_config);
    const desired = Number(scaling?.desired_size);
    if (!Number.isInteger(desired) || desired < 0) {
      throw new RehearsalError(`${address}.scaling_config.desired_size must be a whole number`);
    }
    const labels: Record<string, string> = {};
    for (const [key, value] of Object.entries(block(attrs.labels) ?? {})) {
      labels[key] = literalString(value, `${address}.labels.${key}`);
    }
    const taints = blocks(attrs.taint).map((taint, i) => {
      const effect = TAINT_EFFECTS[String(taint.effect)];
      if (!effect)
        throw new RehearsalError(`${address}.taint[${i}].effect is ${String(taint.effect)}`);
      return {
        key: literalString(taint.key, `${address}.taint[${i}].key`),
        ...(taint.value === undefined
          ? {}
          : { value: literalString(taint.value, `${address}.taint[${i}].value`) }),
        effect,
      };
    });
    const name = resolveReference(shared.json, attrs.node_group_name, `${address}.node_group_name`);
    return {
      address,
      name: literalString(name ?? address.split(".")[1], `${address}.node_group_name`),
      labels,
      taints,
      desiredSize: desired,
      instanceTypes: Array.isArray(attrs.instance_types) ? attrs.instance_types.map(String) : [],
      capacityType: typeof attrs.capacity_type === "string" ? attrs.capacity_type : "ON_DEMAND",
    };
  });
  if (groups.length === 0) {
    throw new RehearsalError(
      `the shared stack declares no aws_eks_node_group; nothing to fake nodes from`,
    );
  }
  return groups.sort((a, b) => a.name.localeCompare(b.name));
}

/** The region the shared stack's AWS provider targets (zones are `<region>a`, `b`, ...). */
export function awsRegion(shared: Stack): string {
  const aws = blocks(shared.json.provider?.aws)[0];
  const region = aws?.region;
  if (typeof region !== "string" || region.includes("${")) {
    throw new RehearsalError(`the shared stack's aws provider has no literal region`);
  }
  return region;
}

/**
 * The availability zones the node groups span: the distinct zones of the subnets the node groups
 * use, read from `aws_subnet.availability_zone` (a literal, or an index into
 * `data.aws_availability_zones.<x>.names`, which maps to `<region>` + a, b, c...).
 */
export function nodeZones(shared: Stack): string[] {
  const region = awsRegion(shared);
  const zones = new Set<string>();
  for (const { address, attrs } of resourcesOfType(shared.json, "aws_eks_node_group")) {
    const subnets = Array.isArray(attrs.subnet_ids) ? attrs.subnet_ids : [];
    for (const ref of subnets) {
      const match = /^\$\{aws_subnet\.([\w-]+)\.id\}$/.exec(String(ref));
      const subnet = match ? shared.json.resource?.aws_subnet?.[match[1]!] : undefined;
      if (!subnet) {
        throw new RehearsalError(
          `${address}.subnet_ids: ${String(ref)} is not an aws_subnet of the stack`,
        );
      }
      zones.add(zoneName(region, subnet.availability_zone, `aws_subnet.${match![1]}`));
    }
  }
  if (zones.size === 0) throw new RehearsalError(`the shared stack's node groups name no subnets`);
  return [...zones].sort();
}

export function zoneName(region: string, value: unknown, where: string): string {
  if (typeof value === "string" && !value.includes("${")) return value;
  const indexed = /\.names\[(\d+)\]\}$/.exec(String(value));
  if (indexed) return `${region}${String.fromCharCode(97 + Number(indexed[1]))}`;
  const element = /element\([^,]+\.names,\s*(\d+)\)\}$/.exec(String(value));
  if (element) return `${region}${String.fromCharCode(97 + Number(element[1]))}`;
  throw new RehearsalError(
    `${where}.availability_zone: cannot tell the zone from ${JSON.stringify(value)}`,
  );
}

// --- namespaces, quotas, limit ranges (application stacks) -------------------------------------

/** A Kubernetes object to create, with the resource it came from. */
export interface KubeObject {
  readonly address: string;
  readonly manifest: Record<string, unknown>;
}

function camel(key: string): string {
  return key.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
}

function stringMap(
  json: StackJson,
  value: unknown,
  where: string,
): Record<string, string> | undefined {
  const map = block(value);
  if (!map) return undefined;
  return Object.fromEntries(
    Object.entries(map).map(([k, v]) => [k, String(resolveReference(json, v, `${where}.${k}`))]),
  );
}

function metadata(
  json: StackJson,
  attrs: Record<string, unknown>,
  address: string,
  namespaced: boolean,
) {
  const meta = block(attrs.metadata);
  if (!meta) throw new RehearsalError(`${address} has no metadata block`);
  if (meta.generate_name !== undefined) {
    throw new RehearsalError(
      `${address}.metadata.generate_name cannot be rehearsed; give it a name`,
    );
  }
  const name = resolveReference(json, meta.name, `${address}.metadata.name`);
  const out: Record<string, unknown> = { name: literalString(name, `${address}.metadata.name`) };
  if (namespaced) {
    const ns = resolveReference(json, meta.namespace ?? "default", `${address}.metadata.namespace`);
    out.namespace = literalString(ns, `${address}.metadata.namespace`);
  }
  const labels = stringMap(json, meta.labels, `${address}.metadata.labels`);
  if (labels) out.labels = labels;
  const annotations = stringMap(json, meta.annotations, `${address}.metadata.annotations`);
  if (annotations) out.annotations = annotations;
  return out;
}

function quotaSpec(json: StackJson, address: string, attrs: Record<string, unknown>) {
  const spec = block(attrs.spec) ?? {};
  const out: Record<string, unknown> = {};
  const hard = stringMap(json, spec.hard, `${address}.spec.hard`);
  if (hard) out.hard = hard;
  if (Array.isArray(spec.scopes)) out.scopes = spec.scopes.map(String);
  const selector = block(spec.scope_selector);
  if (selector) {
    out.scopeSelector = {
      matchExpressions: blocks(selector.match_expression).map((e) => ({
        scopeName: e.scope_name,
        operator: e.operator,
        ...(Array.isArray(e.values) ? { values: e.values.map(String) } : {}),
      })),
    };
  }
  return out;
}

function limitRangeSpec(json: StackJson, address: string, attrs: Record<string, unknown>) {
  const spec = block(attrs.spec) ?? {};
  return {
    limits: blocks(spec.limit).map((limit, i) => {
      const item: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(limit)) {
        item[camel(key)] =
          key === "type" ? value : stringMap(json, value, `${address}.spec.limit[${i}].${key}`);
      }
      return item;
    }),
  };
}

/** The Kubernetes resource types the rehearsal creates, in the order it creates them. */
export const KUBERNETES_RESOURCE_TYPES = [
  "kubernetes_namespace_v1",
  "kubernetes_resource_quota_v1",
  "kubernetes_limit_range_v1",
] as const;

/**
 * Every namespace, ResourceQuota and LimitRange of an application stack as a Kubernetes manifest,
 * namespaces first. Any other `kubernetes_*` resource is an error, so the rehearsal never quietly
 * deploys less than the stack would.
 */
export function kubernetesObjects(stack: Stack): KubeObject[] {
  const known = new Set<string>(KUBERNETES_RESOURCE_TYPES);
  const unknown = Object.keys(stack.json.resource ?? {}).filter(
    (type) => type.startsWith("kubernetes_") && !known.has(type),
  );
  if (unknown.length > 0) {
    throw new RehearsalError(
      `stack ${stack.name} declares ${unknown.join(", ")}, which the rehearsal does not translate yet (scripts/k8s-rehearsal/lib/stack.ts)`,
    );
  }
  const objects: KubeObject[] = [];
  for (const { address, attrs } of resourcesOfType(stack.json, "kubernetes_namespace_v1")) {
    objects.push({
      address,
      manifest: {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: metadata(stack.json, attrs, address, false),
      },
    });
  }
  for (const { address, attrs } of resourcesOfType(stack.json, "kubernetes_resource_quota_v1")) {
    objects.push({
      address,
      manifest: {
        apiVersion: "v1",
        kind: "ResourceQuota",
        metadata: metadata(stack.json, attrs, address, true),
        spec: quotaSpec(stack.json, address, attrs),
      },
    });
  }
  for (const { address, attrs } of resourcesOfType(stack.json, "kubernetes_limit_range_v1")) {
    objects.push({
      address,
      manifest: {
        apiVersion: "v1",
        kind: "LimitRange",
        metadata: metadata(stack.json, attrs, address, true),
        spec: limitRangeSpec(stack.json, address, attrs),
      },
    });
  }
  return objects;
}

// --- helm releases ------------------------------------------------------------------------------

/** One `helm_release`, normalised with the Helm provider's defaults. */
export interface HelmRelease {
  readonly address: string;
  readonly name: string;
  readonly namespace: string;
  /** Absolute chart folder (a relative `chart` resolves from the stack's folder). */
  readonly chart: string;
  /** The `values` documents, in order. */
  readonly values: readonly string[];
  /** The raw attributes, for the translation to helm's flags. */
  readonly attrs: Readonly<Record<string, unknown>>;
}

/** Resolves `chart`: a relative path (or `${path.module}/...`) is relative to the stack folder. */
export function chartPath(stack: Stack, chart: unknown, where: string): string {
  if (typeof chart !== "string" || chart === "")
    throw new RehearsalError(`${where}.chart is missing`);
  const local = chart.replace(/^\$\{path\.module\}\//, "");
  if (local.includes("${")) throw new RehearsalError(`${where}.chart: cannot resolve ${chart}`);
  return isAbsolute(local) ? local : resolve(stack.dir, local);
}

/** Every `helm_release` of a stack. */
export function helmReleases(stack: Stack): HelmRelease[] {
  return resourcesOfType(stack.json, "helm_release").map(({ address, attrs }) => {
    const name = literalString(
      resolveReference(stack.json, attrs.name, `${address}.name`),
      `${address}.name`,
    );
    const namespace = literalString(
      resolveReference(stack.json, attrs.namespace ?? "default", `${address}.namespace`),
      `${address}.namespace`,
    );
    const values = attrs.values === undefined ? [] : attrs.values;
    if (!Array.isArray(values) || values.some((v) => typeof v !== "string")) {
      throw new RehearsalError(`${address}.values must be a list of strings`);
    }
    return {
      address,
      name,
      namespace,
      chart: chartPath(stack, attrs.chart, address),
      values: values as string[],
      attrs,
    };
  });
}
