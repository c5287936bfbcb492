/**
 * Alerts on failed delivery workflows: one issue per workflow labelled `deploy-failure`, opened on
 * the first failure, updated on each further one, closed by the next success; optionally a chat
 * message to an incoming webhook.
 */
import type { RunJob } from "./github";
import type { Observation } from "./tracking-issue";

export const ALERT_LABEL = "deploy-failure";
/** Log lines quoted in the issue. */
export const LOG_TAIL_LINES = 60;
const LOG_TAIL_CHARS = 6_000;

/** The workflows that alert; any other name is refused. */
export const ALERTING_WORKFLOWS = ["deploy-dev", "release", "shared", "drift"] as const;
export type AlertingWorkflow = (typeof ALERTING_WORKFLOWS)[number];

export function alertTitle(workflow: string): string {
  return `Deploy failure: ${workflow}`;
}

/**
 * The run's outcome from the results of the jobs it needed (`needs.*.result`): any failure is a
 * failure; success and skipped jobs are a success; a cancelled job leaves the state unknown.
 */
export function runOutcome(results: readonly string[]): Observation["state"] {
  if (results.length === 0) return "unknown";
  if (results.includes("failure")) return "problem";
  if (results.every((r) => r === "success" || r === "skipped")) return "clear";
  return "unknown";
}

/** Where the run failed: the first failed job and its first failed step. */
export interface FailurePoint {
  readonly job: string;
  readonly jobId: number;
  readonly jobUrl: string;
  readonly step: string;
}

export function findFailure(jobs: readonly RunJob[]): FailurePoint | undefined {
  const job = jobs.find((j) => j.conclusion === "failure");
  if (!job) return undefined;
  const step = job.steps.find((s) => s.conclusion === "failure");
  return {
    job: job.name,
    jobId: job.id,
    jobUrl: job.htmlUrl,
    step: step?.name ?? "(no failed step: the job itself failed)",
  };
}

/**
 * The last lines of a job log, without the runner's timestamps, colour codes and group markers,
 * at most {@link LOG_TAIL_LINES} lines and a few thousand characters.
 */
export function logTail(log: string, lines = LOG_TAIL_LINES): string {
  const cleaned = log
    .replace(/\r\n?/g, "\n")
    .split("\n")
    .map((line) =>
      line
        .replace(/^\uFEFF?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?/, "")
        // eslint-disable-next-line no-control-regex
        .replace(/\u001b\[[0-9;]*[A-Za-z]/g, ""),
    )
    .filter((line) => !/^##\[(group|endgroup)\]/.test(line) && !/^::(group|endgroup)::/.test(line));
  while (cleaned.length > 0 && cleaned[cleaned.length - 1]!.trim() === "") cleaned.pop();
  let tail = cleaned.slice(-lines).join("\n");
  if (tail.length > LOG_TAIL_CHARS) tail = `…${tail.slice(tail.length - LOG_TAIL_CHARS)}`;
  return tail;
}

function fence(text: string): string {
  const longest = Math.max(0, ...(text.match(/`{3,}/g) ?? []).map((run) => run.length));
  const marks = "`".repeat(Math.max(3, longest + 1));
  return `${marks}text\n${text}\n${marks}`;
}

/** What happened in the run being reported. */
export interface RunReport {
  readonly workflow: string;
  readonly runUrl: string;
  readonly commit: string;
  readonly state: Observation["state"];
  readonly failure?: FailurePoint;
  /** Tail of the failed job's log, or why it is missing. */
  readonly log?: string;
}

/** The tracking-issue observation for a run. */
export function alertObservation(report: RunReport): Observation {
  const title = alertTitle(report.workflow);
  const where = report.failure
    ? `job **${report.failure.job}**, step **${report.failure.step}** ([job log](${report.failure.jobUrl}))`
    : "(the failing job could not be determined; see the run)";
  const body = [
    `The \`${report.workflow}\` workflow failed.`,
    "",
    "| | |",
    "|---|---|",
    `| run | ${report.runUrl} |`,
    `| commit | \`${report.commit}\` |`,
    `| failed at | ${where} |`,
    "",
    ...(report.log ? ["Last lines of the log:", "", fence(report.log), ""] : []),
    "This issue is updated on every further failure and closed by the next successful run.",
  ].join("\n");
  const comment =
    report.state === "problem"
      ? `Failed again at ${report.failure ? `${report.failure.job} / ${report.failure.step}` : "an unknown step"}: ${report.runUrl} (commit \`${report.commit}\`)`
      : `Succeeded again: ${report.runUrl} (commit \`${report.commit}\`). Closing.`;
  return { title, label: ALERT_LABEL, state: report.state, body, comment };
}

/** The chat message for a failure (Slack-compatible incoming webhook payload). */
export function chatMessage(report: RunReport): { text: string } {
  const where = report.failure ? ` at ${report.failure.job} / ${report.failure.step}` : "";
  return {
    text: `:rotating_light: ${report.workflow} failed${where} (commit ${report.commit.slice(0, 12)}): ${report.runUrl}`,
  };
}
