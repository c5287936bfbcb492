/**
 * Turns `terraform show -json` plan documents into the markdown of the pull-request plan comment,
 * the job summary and the drift issue.
 *
 * Format reference: https://developer.hashicorp.com/terraform/internals/json-format
 */
import { DeliveryError } from "./errors";

/** GitHub rejects issue and pull-request comments longer than 65,536 characters. */
export const GITHUB_COMMENT_LIMIT = 65_536;
/** The comment is cut well below the limit, leaving room for the header the comment action adds. */
export const DEFAULT_COMMENT_BUDGET = 60_000;
/** A job summary step may write at most 1 MiB. */
export const JOB_SUMMARY_BUDGET = 1_000_000;

/** How a resource is affected, as a reviewer reads it. */
export type ChangeKind = "create" | "update" | "delete" | "replace" | "import";

/** Buckets in the order they are listed: the dangerous ones first. */
export const CHANGE_ORDER: readonly ChangeKind[] = [
  "delete",
  "replace",
  "update",
  "create",
  "import",
];

const HEADINGS: Readonly<Record<ChangeKind, string>> = {
  delete: "Destroy",
  replace: "Replace (destroy and re-create)",
  update: "Update in place",
  create: "Create",
  import: "Import",
};

/** One resource whose plan is not a no-op. */
export interface ResourceChange {
  readonly address: string;
  readonly kind: ChangeKind;
  /** Terraform's `action_reason`, e.g. `replace_because_cannot_update`. */
  readonly reason?: string;
  /** Set when the resource was moved from another address. */
  readonly previousAddress?: string;
}

/** A stack whose plan succeeded. */
export interface PlannedStack {
  readonly stack: string;
  readonly status: "planned";
  readonly changes: readonly ResourceChange[];
  /** Root outputs whose value changes. */
  readonly outputChanges: readonly string[];
  /** Resources Terraform found changed outside Terraform while refreshing. */
  readonly driftedResources: number;
}

/** A stack whose plan failed. */
export interface FailedStack {
  readonly stack: string;
  readonly status: "failed";
  /** Terraform's error output (or the reason the plan document could not be read). */
  readonly error: string;
}

export type StackReport = PlannedStack | FailedStack;

/** Counts per bucket; `replace` is not counted again under create or delete. */
export type ChangeCounts = Readonly<Record<ChangeKind, number>>;

/**
 * Construct id prefix of a customer's workspace in the dev and prod stacks (`stacks/api.ts`:
 * `Customer-<id>`). cdktf joins the construct path with `_`, and a customer id is a DNS label
 * (no `_`), so the id is what follows the prefix up to the first `_`.
 */
export const CUSTOMER_CONSTRUCT_PREFIX = "Customer-";

const CUSTOMER_ADDRESS = new RegExp(
  `^(?:module\\.[\\w-]+\\.)*(?:data\\.)?[a-z0-9_]+\\.${CUSTOMER_CONSTRUCT_PREFIX}([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)_`,
);

/** The customer whose workspace a resource address belongs to, or undefined for the environment's own. */
export function customerOf(address: string): string | undefined {
  return CUSTOMER_ADDRESS.exec(address)?.[1];
}

/** A stack's changes split by owner: the environment's own first (key `undefined`), then each customer by id. */
export function changesByCustomer(
  changes: readonly ResourceChange[],
): Array<[string | undefined, ResourceChange[]]> {
  const groups = new Map<string | undefined, ResourceChange[]>();
  for (const change of changes) {
    const owner = customerOf(change.address);
    groups.set(owner, [...(groups.get(owner) ?? []), change]);
  }
  return [...groups.entries()].sort(([a], [b]) =>
    a === undefined ? -1 : b === undefined ? 1 : a.localeCompare(b),
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function classify(actions: readonly string[], importing: boolean): ChangeKind | undefined {
  const key = actions.join(",");
  switch (key) {
    case "create":
      return "create";
    case "update":
      return "update";
    case "delete":
      return "delete";
    case "delete,create":
    case "create,delete":
      return "replace";
    case "no-op":
      return importing ? "import" : undefined;
    case "read":
      return undefined;
    default:
      throw new Error(`unknown action list [${actions.join(", ")}]`);
  }
}

/**
 * Reads one plan document. Throws a {@link DeliveryError} naming the stack and the field when the
 * document is not a Terraform JSON plan.
 */
export function parsePlan(stack: string, document: unknown): PlannedStack {
  const where = `plan of stack "${stack}"`;
  if (!isRecord(document)) {
    throw new DeliveryError(`${where}: expected a JSON object from "terraform show -json".`);
  }
  const version = document.format_version;
  if (typeof version !== "string" || !/^1\.\d+$/.test(version)) {
    throw new DeliveryError(
      `${where}: format_version is ${JSON.stringify(version)}; expected "1.<minor>" (terraform show -json <planfile>).`,
    );
  }
  if (document.errored === true) {
    throw new DeliveryError(`${where}: the plan is marked errored; read the plan log.`);
  }
  const rawChanges = document.resource_changes ?? [];
  if (!Array.isArray(rawChanges)) {
    throw new DeliveryError(`${where}: resource_changes must be an array.`);
  }
  const changes: ResourceChange[] = [];
  rawChanges.forEach((entry: unknown, index) => {
    const at = `${where}: resource_changes[${index}]`;
    if (!isRecord(entry) || typeof entry.address !== "string" || !isRecord(entry.change)) {
      throw new DeliveryError(`${at} needs a string "address" and an object "change".`);
    }
    const actions = entry.change.actions;
    if (!Array.isArray(actions) || !actions.every((a) => typeof a === "string")) {
      throw new DeliveryError(`${at}.change.actions must be an array of strings.`);
    }
    let kind: ChangeKind | undefined;
    try {
      kind = classify(actions as string[], isRecord(entry.change.importing));
    } catch (error) {
      throw new DeliveryError(`${at} (${entry.address}): ${(error as Error).message}.`);
    }
    if (kind === undefined) return;
    changes.push({
      address: entry.address,
      kind,
      ...(typeof entry.action_reason === "string" ? { reason: entry.action_reason } : {}),
      ...(typeof entry.previous_address === "string"
        ? { previousAddress: entry.previous_address }
        : {}),
    });
  });
  const outputChanges: string[] = [];
  if (isRecord(document.output_changes)) {
    for (const [name, change] of Object.entries(document.output_changes)) {
      const actions = isRecord(change) && Array.isArray(change.actions) ? change.actions : [];
      if (!(actions.length === 1 && actions[0] === "no-op")) outputChanges.push(name);
    }
  }
  const drift = Array.isArray(document.resource_drift) ? document.resource_drift.length : 0;
  return { stack, status: "planned", changes, outputChanges, driftedResources: drift };
}

/** Parses the text of a plan file; a file that is not JSON is reported as such. */
export function parsePlanText(stack: string, text: string): PlannedStack {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new DeliveryError(
      `plan of stack "${stack}" is not JSON (${(error as Error).message}); expected the output of "terraform show -json <planfile>".`,
    );
  }
  return parsePlan(stack, document);
}

export function countChanges(stack: Pick<PlannedStack, "changes">): ChangeCounts {
  const counts: Record<ChangeKind, number> = {
    create: 0,
    update: 0,
    delete: 0,
    replace: 0,
    import: 0,
  };
  for (const change of stack.changes) counts[change.kind] += 1;
  return counts;
}

/** True when applying the plan would change something (resources or outputs). */
export function hasChanges(stack: StackReport): boolean {
  return stack.status === "planned" && (stack.changes.length > 0 || stack.outputChanges.length > 0);
}

/** Options for {@link renderPlanReport}. */
export interface RenderOptions {
  /** First heading line. */
  readonly title: string;
  /** Lines shown under the title (commit, image tags), already markdown. */
  readonly context?: readonly string[];
  /** Where the untruncated plan is, shown when the report had to be cut. */
  readonly fullPlanHint?: string;
  /**
   * Maximum length in characters.
   * @default DEFAULT_COMMENT_BUDGET
   */
  readonly budget?: number;
}

/** The rendered markdown and whether anything was left out to fit the budget. */
export interface RenderedReport {
  readonly markdown: string;
  readonly truncated: boolean;
}

function code(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(longest + 1);
  const pad = text.startsWith("`") || text.endsWith("`") ? " " : "";
  return `${fence}${pad}${text}${pad}${fence}`;
}

function codeBlock(text: string): string {
  const longest = Math.max(0, ...(text.match(/`{3,}/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  return `${fence}text\n${text.replace(/\s+$/, "")}\n${fence}`;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function summaryLine(counts: ChangeCounts): string {
  const parts = [
    `${counts.create} to add`,
    `${counts.update} to change`,
    `${counts.delete} to destroy`,
    `${counts.replace} to replace`,
  ];
  if (counts.import > 0) parts.push(`${counts.import} to import`);
  return parts.join(", ");
}

function statusCell(stack: StackReport): string {
  if (stack.status === "failed") return ":x: plan failed";
  const counts = countChanges(stack);
  const flags: string[] = [];
  if (counts.delete > 0) flags.push(`:warning: destroys ${counts.delete}`);
  if (counts.replace > 0) flags.push(`:warning: replaces ${counts.replace}`);
  if (flags.length > 0) return flags.join(", ");
  if (stack.changes.length > 0) return "changes";
  if (stack.outputChanges.length > 0) return "outputs only";
  return "no changes";
}

function tableRow(stack: StackReport): string {
  if (stack.status === "failed") {
    return `| ${code(stack.stack)} | – | – | – | – | ${statusCell(stack)} |`;
  }
  const c = countChanges(stack);
  return `| ${code(stack.stack)} | ${c.create} | ${c.update} | ${c.delete} | ${c.replace} | ${statusCell(stack)} |`;
}

/** Per-stack detail limits used while fitting the report into its budget. */
interface Limits {
  /** Addresses listed per stack; the rest are counted. */
  readonly addresses: number;
  /** Characters of a failed stack's error shown. */
  readonly errorChars: number;
}

function details(stack: StackReport, limits: Limits): string {
  if (stack.status === "failed") {
    let error = stack.error.trim();
    if (error.length > limits.errorChars) {
      error = `${error.slice(0, limits.errorChars)}\n… (${error.length - limits.errorChars} more characters in the full plan)`;
    }
    return [
      `<details open><summary><code>${escapeHtml(stack.stack)}</code>: plan failed</summary>`,
      "",
      codeBlock(error),
      "",
      "</details>",
    ].join("\n");
  }
  if (!hasChanges(stack)) return "";
  const lines = [
    `<details><summary><code>${escapeHtml(stack.stack)}</code>: ${summaryLine(countChanges(stack))}</summary>`,
    "",
  ];
  let listed = 0;
  let omitted = 0;
  const owners = changesByCustomer(stack.changes);
  // Headings per owner only when a customer is affected; otherwise the list reads as before.
  const byOwner = owners.some(([owner]) => owner !== undefined);
  for (const [owner, changes] of owners) {
    if (byOwner) {
      const who =
        owner === undefined ? "Environment (all customers share it)" : `Customer ${code(owner)}`;
      lines.push(`##### ${who}: ${summaryLine(countChanges({ changes }))}`, "");
    }
    for (const kind of CHANGE_ORDER) {
      const group = changes.filter((change) => change.kind === kind);
      if (group.length === 0) continue;
      const shown = group.slice(0, Math.max(0, limits.addresses - listed));
      listed += shown.length;
      omitted += group.length - shown.length;
      if (shown.length === 0) continue;
      lines.push(`**${HEADINGS[kind]}** (${group.length})`, "");
      for (const change of shown) {
        const notes: string[] = [];
        if (change.previousAddress) notes.push(`moved from ${code(change.previousAddress)}`);
        if (change.reason) notes.push(change.reason.replace(/_/g, " "));
        lines.push(`- ${code(change.address)}${notes.length ? ` (${notes.join("; ")})` : ""}`);
      }
      lines.push("");
    }
  }
  if (omitted > 0) lines.push(`… and ${omitted} more resources, listed in the full plan.`, "");
  if (stack.outputChanges.length > 0) {
    lines.push(`**Outputs changed**: ${stack.outputChanges.map(code).join(", ")}`, "");
  }
  lines.push("</details>");
  return lines.join("\n");
}

/** A row per customer and stack with changes in that customer's workspace, by customer id. */
function customerRows(stacks: readonly StackReport[]): string[] {
  const rows: Array<[string, string, string]> = [];
  for (const stack of stacks) {
    if (stack.status !== "planned") continue;
    for (const [owner, changes] of changesByCustomer(stack.changes)) {
      if (owner === undefined) continue;
      const c = countChanges({ changes });
      const flags: string[] = [];
      if (c.delete > 0) flags.push(`:warning: destroys ${c.delete}`);
      if (c.replace > 0) flags.push(`:warning: replaces ${c.replace}`);
      rows.push([
        owner,
        stack.stack,
        `| ${code(owner)} | ${code(stack.stack)} | ${c.create} | ${c.update} | ${c.delete} | ${c.replace} | ${flags.join(", ")} |`,
      ]);
    }
  }
  return rows
    .sort(([a, sa], [b, sb]) => a.localeCompare(b) || sa.localeCompare(sb))
    .map(([, , row]) => row);
}

function compose(
  stacks: readonly StackReport[],
  options: RenderOptions,
  limits: Limits,
  cut: boolean,
): string {
  const parts = [`### ${options.title}`, ""];
  if (options.context?.length) parts.push(options.context.join("  \n"), "");
  parts.push(
    "| stack | add | change | destroy | replace | |",
    "|---|--:|--:|--:|--:|---|",
    ...stacks.map(tableRow),
    "",
  );
  const customers = customerRows(stacks);
  if (customers.length > 0) {
    parts.push(
      "**Customers affected**",
      "",
      "| customer | stack | add | change | destroy | replace | |",
      "|---|---|--:|--:|--:|--:|---|",
      ...customers,
      "",
    );
  }
  const replaced = stacks.some((s) => s.status === "planned" && countChanges(s).replace > 0);
  if (replaced) parts.push("_Replacements are counted once, not again under add and destroy._", "");
  for (const stack of stacks) {
    const block = details(stack, limits);
    if (block) parts.push(block, "");
  }
  if (cut) {
    parts.push(
      `> [!NOTE]\n> This report was shortened to fit GitHub's comment size limit. ${options.fullPlanHint ?? "See the full plan."}`,
      "",
    );
  }
  return parts.join("\n");
}

/**
 * Renders the report: a table with a row per stack, a table of the customers whose workspaces
 * change (when any do), then the affected addresses per stack folded in `<details>`, grouped by
 * customer when customers are affected, then the error of every failed stack. When the whole report does not fit in
 * `budget` characters, address lists are shortened first, then error texts, so the table and
 * every failure stay visible; the result never exceeds the budget.
 */
export function renderPlanReport(
  stacks: readonly StackReport[],
  options: RenderOptions,
): RenderedReport {
  if (stacks.length === 0) throw new DeliveryError("no stacks to report: pass at least one plan.");
  const budget = options.budget ?? DEFAULT_COMMENT_BUDGET;
  const full: Limits = { addresses: Number.MAX_SAFE_INTEGER, errorChars: Number.MAX_SAFE_INTEGER };
  const whole = compose(stacks, options, full, false);
  if (whole.length <= budget) return { markdown: whole, truncated: false };

  // Largest address count that fits, with errors shortened to 4,000 characters at most.
  const fits = (limits: Limits) => compose(stacks, options, limits, true).length <= budget;
  for (const errorChars of [4_000, 1_000, 200]) {
    if (!fits({ addresses: 0, errorChars })) continue;
    let low = 0;
    let high = Math.max(...stacks.map((s) => (s.status === "planned" ? s.changes.length : 0)));
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if (fits({ addresses: middle, errorChars })) low = middle;
      else high = middle - 1;
    }
    return {
      markdown: compose(stacks, options, { addresses: low, errorChars }, true),
      truncated: true,
    };
  }
  // Only a table too long for the budget is left (hundreds of stacks): cut at a line boundary.
  const table = compose(stacks, options, { addresses: 0, errorChars: 0 }, true);
  const note = "\n\n… (cut to fit; see the full plan)\n";
  const head = table.slice(0, Math.max(0, budget - note.length));
  return { markdown: `${head.slice(0, head.lastIndexOf("\n"))}${note}`, truncated: true };
}
