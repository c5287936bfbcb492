/**
 * The nightly drift report: every stack planned against the real infrastructure; any change means
 * the infrastructure and the code disagree. One issue labelled `drift` tracks it.
 */
import { hasChanges, renderPlanReport, type StackReport } from "./plan-report";
import type { Observation } from "./tracking-issue";

export const DRIFT_LABEL = "drift";
export const DRIFT_TITLE = "Drift: infrastructure differs from main";

/** Builds the drift observation from the stacks' plans. */
export function driftObservation(
  stacks: readonly StackReport[],
  runUrl: string,
  commit: string,
): Observation {
  const drifted = stacks.filter(hasChanges).map((s) => s.stack);
  const failed = stacks.filter((s) => s.status === "failed").map((s) => s.stack);
  const report = renderPlanReport(stacks, {
    title: "Nightly plan",
    context: [`Run: ${runUrl}`, `Commit: \`${commit}\``],
    fullPlanHint: `The full plans are in the run's artifacts: ${runUrl}`,
  }).markdown;
  const state = drifted.length > 0 ? "problem" : failed.length > 0 ? "unknown" : "clear";
  const body = [
    `The nightly plan found changes in ${drifted.map((s) => `\`${s}\``).join(", ") || "no stack"}.`,
    "Either apply the code (merge, or run the stack's deploy workflow) or bring the change back into code.",
    "This issue closes itself after the first clean nightly plan.",
    "",
    report,
  ].join("\n");
  const comment =
    state === "problem"
      ? `Still drifting (${drifted.join(", ")}): ${runUrl}`
      : `The nightly plan is clean again: ${runUrl}`;
  return { title: DRIFT_TITLE, label: DRIFT_LABEL, state, body, comment };
}
