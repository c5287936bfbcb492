/**
 * Support dates: how long the EKS version the cluster runs, and the tools the project pins, are
 * supported by their makers. The table is data (`support-dates.ts`, rendered as
 * `docs/support-dates.md`); {@link supportObservation} turns it, a cluster version and a date into
 * the state of one tracking issue labelled `end-of-support`, which the nightly drift workflow keeps.
 */
import type { EksAddonName } from "../../config/eks-addons";
import type { Observation } from "./tracking-issue";

/** One EKS Kubernetes minor version and its support dates (UTC days, `YYYY-MM-DD`). */
export interface EksVersionSupport {
  readonly version: string;
  /** The day the version became available on EKS. */
  readonly released: string;
  /** The first day of extended support: from this day on, a cluster costs the extended rate. */
  readonly standardSupportEnds: string;
  /** The day EKS starts upgrading clusters still on the version. */
  readonly extendedSupportEnds: string;
  /** Where the dates come from, the authoritative source first. */
  readonly sources: readonly string[];
}

/** An add-on version and the cluster versions EKS lists it for. */
export interface AddonCompatibility {
  readonly addon: EksAddonName;
  readonly version: string;
  readonly clusterVersions: readonly string[];
  readonly sources: readonly string[];
}

/** A tool or provider the project pins, and the end of life of the release line that version is on. */
export interface ToolSupport {
  readonly name: string;
  /** The release line the end-of-life date covers (`24`, `3`, `1.11`). */
  readonly line: string;
  /** The exact version the project pins. */
  readonly version: string;
  /** The first day without fixes, or `null` when the maker publishes none. */
  readonly endOfLife: string | null;
  readonly sources: readonly string[];
  /** What else the sources say that matters for an upgrade. */
  readonly note: string;
}

/** The support table. */
export interface SupportTable {
  /** The day the rows were last compared with their sources. */
  readonly checkedOn: string;
  readonly eks: readonly EksVersionSupport[];
  readonly addons: readonly AddonCompatibility[];
  readonly tools: readonly ToolSupport[];
}

export const SUPPORT_LABEL = "end-of-support";
export const SUPPORT_TITLE = "End of support: the EKS version or a pinned tool needs an upgrade";
/** Days before the end of standard support from which the cluster's version is a problem. */
export const WARNING_DAYS = 90;
/** The EKS release calendar, where the dates of a version missing from the table are. */
export const EKS_CALENDAR =
  "https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html#kubernetes-release-calendar";

const DAY_MS = 86_400_000;

/** A `YYYY-MM-DD` day as days since 1970-01-01 (UTC); throws for anything else. */
export function dayNumber(day: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  const ms = match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : NaN;
  if (!match || new Date(ms).toISOString().slice(0, 10) !== day) {
    throw new Error(`${JSON.stringify(day)} is not a day: allowed form YYYY-MM-DD`);
  }
  return ms / DAY_MS;
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

/** `in 60 days`, `today`, `120 days ago`. */
function relative(days: number): string {
  if (days === 0) return "today";
  return days > 0 ? `in ${plural(days, "day")}` : `${plural(-days, "day")} ago`;
}

function cell(text: string): string {
  return text.replace(/\|/g, "\\|");
}

/**
 * The state of the support issue on `today`: a problem while the cluster's EKS version is within
 * {@link WARNING_DAYS} days of the end of standard support or past it, is missing from the table,
 * or while a tool's release line is past its end of life; clear otherwise. An end date counts as
 * reached on the day itself.
 */
export function supportObservation(
  table: SupportTable,
  clusterVersion: string,
  today: string,
  context: { readonly runUrl?: string } = {},
): Observation {
  const now = dayNumber(today);
  const findings: string[] = [];
  const rows: string[] = [];

  const eks = table.eks.find((row) => row.version === clusterVersion);
  if (!eks) {
    findings.push(
      `**EKS ${clusterVersion}** has no row in the support table: add its dates from ${EKS_CALENDAR} to \`scripts/delivery/support-dates.ts\`.`,
    );
  } else {
    const days = dayNumber(eks.standardSupportEnds) - now;
    const when = `${eks.standardSupportEnds} (${relative(days)})`;
    if (days <= 0) {
      findings.push(
        `**EKS ${eks.version}** left standard support on ${when}: the cluster is billed at the extended-support rate, and EKS upgrades it after ${eks.extendedSupportEnds}. Raise \`shared.kubernetesVersion\` one minor at a time.`,
      );
    } else if (days <= WARNING_DAYS) {
      findings.push(
        `**EKS ${eks.version}** leaves standard support on ${when}. Raise \`shared.kubernetesVersion\` before then; EKS upgrades one minor at a time.`,
      );
    }
    rows.push(
      `| EKS (cluster) | ${eks.version} | standard support until ${eks.standardSupportEnds} | ${relative(days)} | ${eks.sources[0]} |`,
    );
  }

  for (const tool of table.tools) {
    if (tool.endOfLife === null) {
      rows.push(
        `| ${cell(tool.name)} | ${tool.version} | no published end | | ${tool.sources[0]} |`,
      );
      continue;
    }
    const days = dayNumber(tool.endOfLife) - now;
    if (days <= 0) {
      findings.push(
        `**${tool.name} ${tool.line}** (pinned ${tool.version}) reached its end of life on ${tool.endOfLife} (${relative(days)}). ${tool.note}`,
      );
    }
    rows.push(
      `| ${cell(tool.name)} ${tool.line} | ${tool.version} | end of life ${tool.endOfLife} | ${relative(days)} | ${tool.sources[0]} |`,
    );
  }

  const run = context.runUrl ? ` ([run](${context.runUrl}))` : "";
  const body = [
    `The nightly support check of ${today}${run} found:`,
    "",
    ...findings.map((f) => `- ${f}`),
    "",
    "| what | pinned | until | when | source |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
    "",
    `Dates and sources: \`docs/support-dates.md\` (data in \`scripts/delivery/support-dates.ts\`, compared with its sources on ${table.checkedOn}). This issue closes by itself on the first night nothing above is due.`,
  ].join("\n");

  const state = findings.length > 0 ? "problem" : "clear";
  const nextEnd = eks
    ? `EKS ${eks.version} is in standard support until ${eks.standardSupportEnds}`
    : "";
  return {
    title: SUPPORT_TITLE,
    label: SUPPORT_LABEL,
    state,
    body,
    comment:
      state === "problem"
        ? `Still due on ${today}${run}:\n\n${findings.map((f) => `- ${f}`).join("\n")}`
        : `Nothing is due on ${today}${run}: ${nextEnd}, and no pinned tool is past its end of life.`,
  };
}

/** Inline code for a version in a table cell. */
function code(text: string): string {
  return `\`${text}\``;
}

function links(sources: readonly string[]): string {
  return sources.map((s) => `<${s}>`).join("<br>");
}

/** `docs/support-dates.md`, before formatting: the table, with the choice of version it supports. */
export function renderSupportDates(
  table: SupportTable,
  defaultVersion: string,
  pins: Readonly<Record<string, Readonly<Record<EksAddonName, string>>>>,
): string {
  const eks = table.eks.find((row) => row.version === defaultVersion);
  const lines = [
    "<!-- Generated from scripts/delivery/support-dates.ts by `npm run delivery -- support-dates --out docs/support-dates.md`; edit the data, not this file. -->",
    "",
    "# Support dates",
    "",
    `How long the EKS version the cluster runs, its add-ons and the tools this repository pins are supported, each with its sources. The rows were last compared with their sources on ${table.checkedOn}.`,
    "",
    `The configured EKS version is **${defaultVersion}**${eks ? `, in standard support until ${eks.standardSupportEnds}` : ""}. Every night the drift workflow runs \`npm run delivery -- support-issue\`, which opens (or updates) one issue labelled \`${SUPPORT_LABEL}\` when the configured version is within ${WARNING_DAYS} days of leaving standard support or past it, or when a tool below is past its end of life, and closes it when nothing is due. Extended support costs $0.60 per cluster hour instead of $0.10.`,
    "",
    "## EKS versions",
    "",
    "EKS upgrades a control plane one minor at a time: a cluster on an older minor moves up through each one in `shared.kubernetesVersion` (deploy `shared` once per step).",
    "",
    "| version | on EKS since | standard support until | extended support until | sources |",
    "| --- | --- | --- | --- | --- |",
    ...table.eks.map(
      (r) =>
        `| ${code(r.version)} | ${r.released} | ${r.standardSupportEnds} | ${r.extendedSupportEnds} | ${links(r.sources)} |`,
    ),
    "",
    "## EKS add-ons",
    "",
    "The versions the shared stack pins for each accepted minor (`config/eks-addons.ts`), and the cluster versions EKS lists them for. A pin for a cluster version its row does not list fails the tests. `aws eks describe-addon-versions --addon-name <add-on> --kubernetes-version <minor>` shows what EKS offers today.",
    "",
    `| add-on | version | listed for | pinned for | sources |`,
    "| --- | --- | --- | --- | --- |",
    ...table.addons.map((r) => {
      const pinnedFor = Object.entries(pins)
        .filter(([, p]) => p[r.addon] === r.version)
        .map(([v]) => v);
      return `| ${r.addon} | ${code(r.version)} | ${r.clusterVersions.join(", ")} | ${pinnedFor.join(", ") || "—"} | ${links(r.sources)} |`;
    }),
    "",
    "## Tools and providers",
    "",
    "A release line past its end of life opens the support issue. A row without a date has no published end; its note says what to watch.",
    "",
    "| tool | line | pinned | end of life | note | sources |",
    "| --- | --- | --- | --- | --- | --- |",
    ...table.tools.map(
      (r) =>
        `| ${cell(r.name)} | ${code(r.line)} | ${code(r.version)} | ${r.endOfLife ?? "none published"} | ${cell(r.note)} | ${links(r.sources)} |`,
    ),
    "",
  ];
  return lines.join("\n");
}

/** {@link renderSupportDates}, formatted as the repository formats Markdown (prettier). */
export async function supportDatesDocument(
  table: SupportTable,
  defaultVersion: string,
  pins: Readonly<Record<string, Readonly<Record<EksAddonName, string>>>>,
  file: string,
): Promise<string> {
  const prettier = await import("prettier");
  const options = (await prettier.resolveConfig(file)) ?? {};
  return prettier.format(renderSupportDates(table, defaultVersion, pins), {
    ...options,
    filepath: file,
  });
}
