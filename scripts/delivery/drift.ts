/**
 * The nightly drift report: every stack planned against the real infrastructure; any change means
 * the infrastructure and the code disagree. With `RELEASE_DRIFT=1`, `plan-stacks.sh` also writes
 * `<stack>.releases.json` (`release-drift --out`): live objects of the stack's Helm releases that
 * differ from what the release renders, which the plan cannot see
 * (hashicorp/terraform-provider-helm#372). Either kind of difference is drift. One issue labelled
 * `drift` tracks it.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  DEFAULT_COMMENT_BUDGET,
  hasChanges,
  renderPlanReport,
  type StackReport,
} from "./plan-report";
import { DeliveryError } from "./errors";
import { readPlanDirectory } from "./plan-files";
import {
  MISSING_OBJECT_PATH,
  parseReleaseDriftReport,
  type ReleaseDifference,
  type ReleaseDriftReport,
} from "./releases";
import type { Observation } from "./tracking-issue";

export const DRIFT_LABEL = "drift";
export const DRIFT_TITLE = "Drift: infrastructure differs from main";

/** Rows of the live-drift table shown in the issue; the rest are counted. */
export const LIVE_DRIFT_ROWS = 50;
/** Characters of a rendered or live value shown in a cell. */
const VALUE_CHARS = 100;

/** A stack's `<stack>.releases.json`: its report, or why it could not be read. */
export type StackLiveDrift =
  | { readonly stack: string; readonly report: ReleaseDriftReport }
  | { readonly stack: string; readonly error: string };

const RELEASES_FILE = /^([a-z0-9_-]+)\.releases\.json$/;

/** Reads every `<stack>.releases.json` of a plan folder, in stack name order (none: `[]`). */
export function readReleaseDriftFiles(dir: string): StackLiveDrift[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((file) => [file, RELEASES_FILE.exec(file)?.[1]] as const)
    .filter((entry): entry is readonly [string, string] => entry[1] !== undefined)
    .sort(([, a], [, b]) => a.localeCompare(b))
    .map(([file, stack]) => {
      try {
        return {
          stack,
          report: parseReleaseDriftReport(file, readFileSync(join(dir, file), "utf8")),
        };
      } catch (error) {
        if (!(error instanceof DeliveryError)) throw error;
        return { stack, error: error.message };
      }
    });
}

function liveDifferences(live: readonly StackLiveDrift[]): ReleaseDifference[] {
  return live.flatMap((l) => ("report" in l ? l.report.differences : []));
}

/** Inline code for a table cell: pipes escaped, one line, backticks fenced by two. */
function cell(text: string): string {
  const flat = text.replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
  return flat.includes("`") ? `\`\` ${flat} \`\`` : `\`${flat}\``;
}

/** Characters kept before the first difference when a long value is cut to where it differs. */
const CONTEXT_CHARS = 12;

/**
 * A value for a table cell, cut to {@link VALUE_CHARS}. When it is long, the cut starts a little
 * before where it first differs from `other` (an image reference differs only in its tag), so
 * the cell shows the change rather than the prefix both values share.
 */
function value(v: unknown, other: unknown): string {
  if (v === null || v === undefined) return "_absent_";
  const text = JSON.stringify(v);
  if (text.length <= VALUE_CHARS) return cell(text);
  const against = other === null || other === undefined ? "" : JSON.stringify(other);
  let same = 0;
  while (same < text.length && same < against.length && text[same] === against[same]) same++;
  const start = Math.max(0, Math.min(same - CONTEXT_CHARS, text.length - VALUE_CHARS));
  const cut = text.slice(start, start + VALUE_CHARS);
  return cell(`${start > 0 ? "…" : ""}${cut}${start + VALUE_CHARS < text.length ? "…" : ""}`);
}

/**
 * The issue's section on live drift of the Helm releases: a table row per difference (stack,
 * release, object, path, rendered and live value), at most {@link LIVE_DRIFT_ROWS}; a line per
 * stack whose report could not be read. Empty when no stack was checked.
 */
export function renderLiveDrift(live: readonly StackLiveDrift[], runUrl: string): string {
  if (live.length === 0) return "";
  const differences = liveDifferences(live);
  const lines = ["### Live objects of the Helm releases", ""];
  lines.push(
    "Values the rendered release sets that differ in the cluster (a `kubectl edit`, say), which " +
      "the Helm provider's plan does not see (hashicorp/terraform-provider-helm#372).",
    "",
  );
  if (differences.length > 0) {
    lines.push(
      "| stack | release | object | path | rendered | live |",
      "|---|---|---|---|---|---|",
      ...differences.slice(0, LIVE_DRIFT_ROWS).map((d) => {
        const object = `${cell(`${d.kind}/${d.name}`)} in ${cell(d.namespace)}`;
        return d.path === MISSING_OBJECT_PATH
          ? `| ${cell(d.stack)} | ${cell(d.release)} | ${object} | (the whole object) | present | **missing** |`
          : `| ${cell(d.stack)} | ${cell(d.release)} | ${object} | ${cell(d.path)} | ${value(d.rendered, d.live)} | ${value(d.live, d.rendered)} |`;
      }),
      "",
    );
    if (differences.length > LIVE_DRIFT_ROWS) {
      lines.push(
        `… and ${differences.length - LIVE_DRIFT_ROWS} more, in the run's artifacts (\`<stack>.releases.json\`): ${runUrl}`,
        "",
      );
    }
  }
  for (const l of live) {
    if ("error" in l) {
      lines.push(`- ${cell(l.stack)}: the live comparison could not be read: ${l.error}`);
    } else if (l.report.differences.length === 0) {
      const releases = l.report.releases.map((r) => cell(r.release)).join(", ") || "no release";
      lines.push(`- ${cell(l.stack)}: no live differences (${releases})`);
    }
  }
  return `${lines.join("\n").trimEnd()}\n`;
}

/**
 * Builds the drift observation from the stacks' plans and, when given, the live comparison of
 * their Helm releases: a stack drifts when its plan has changes or a live object differs.
 */
export function driftObservation(
  stacks: readonly StackReport[],
  runUrl: string,
  commit: string,
  live: readonly StackLiveDrift[] = [],
): Observation {
  const planned = stacks.filter(hasChanges).map((s) => s.stack);
  const liveDrifted = [...new Set(liveDifferences(live).map((d) => d.stack))];
  const drifted = [...new Set([...planned, ...liveDrifted])];
  const failed = [
    ...stacks.filter((s) => s.status === "failed").map((s) => s.stack),
    ...live.filter((l) => "error" in l).map((l) => l.stack),
  ];
  const liveSection = renderLiveDrift(live, runUrl);
  const report = renderPlanReport(stacks, {
    title: "Nightly plan",
    context: [`Run: ${runUrl}`, `Commit: \`${commit}\``],
    fullPlanHint: `The full plans are in the run's artifacts: ${runUrl}`,
    budget: Math.max(20_000, DEFAULT_COMMENT_BUDGET - liveSection.length - 1_000),
  }).markdown;
  const state = drifted.length > 0 ? "problem" : failed.length > 0 ? "unknown" : "clear";
  const list = (names: readonly string[]) => names.map((s) => `\`${s}\``).join(", ");
  const body = [
    `The nightly plan found changes in ${list(planned) || "no stack"}.`,
    ...(liveDrifted.length > 0
      ? [
          `Live objects of the Helm releases differ from what they render in ${list(liveDrifted)} (see _Live objects of the Helm releases_).`,
        ]
      : []),
    "Either apply the code (merge, or run the stack's deploy workflow) or bring the change back into code.",
    "This issue closes itself after the first clean nightly plan.",
    "",
    report,
    ...(liveSection ? ["", liveSection] : []),
  ].join("\n");
  const names = drifted.map((s) =>
    !liveDrifted.includes(s)
      ? s
      : planned.includes(s)
        ? `${s} (plan, live objects)`
        : `${s} (live objects)`,
  );
  const comment =
    state === "problem"
      ? `Still drifting (${names.join(", ")}): ${runUrl}`
      : `The nightly plan is clean again: ${runUrl}`;
  return { title: DRIFT_TITLE, label: DRIFT_LABEL, state, body, comment };
}

/**
 * The drift observation of a folder written by `plan-stacks.sh`: the plans (`<stack>.json`,
 * `<stack>.error.log`) and the live comparisons of the Helm releases (`<stack>.releases.json`).
 */
export function planFolderObservation(dir: string, runUrl: string, commit: string): Observation {
  return driftObservation(readPlanDirectory(dir), runUrl, commit, readReleaseDriftFiles(dir));
}
