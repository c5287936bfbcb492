import { describe, expect, it } from "vitest";
import {
  alertObservation,
  alertTitle,
  chatMessage,
  findFailure,
  logTail,
  runOutcome,
  type RunReport,
} from "../../scripts/delivery/alert";
import type { RunJob } from "../../scripts/delivery/github";
import { decideIssueAction, type OpenIssue } from "../../scripts/delivery/tracking-issue";

const RUN = "https://github.com/example-org/api-platform/actions/runs/9876543210";
const COMMIT = "3f1c2a9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39";
/** Jobs as the "list jobs for a workflow run attempt" API returns them (trimmed to what is read). */
const jobs: RunJob[] = [
  {
    id: 101,
    name: "checks / format, lint, type-check, test, synth",
    conclusion: "success",
    htmlUrl: `${RUN}/job/101`,
    steps: [{ name: "Test", conclusion: "success", number: 6 }],
  },
  {
    id: 102,
    name: "deploy dev",
    conclusion: "failure",
    htmlUrl: `${RUN}/job/102`,
    steps: [
      { name: "cdktf deploy dev", conclusion: "success", number: 5 },
      { name: "Smoke test", conclusion: "failure", number: 7 },
      { name: "Summary", conclusion: "success", number: 8 },
    ],
  },
];
const failure = findFailure(jobs)!;
const report = (state: RunReport["state"], extra: Partial<RunReport> = {}): RunReport => ({
  workflow: "deploy-dev",
  runUrl: RUN,
  commit: COMMIT,
  state,
  ...extra,
});
const open = (number: number, workflow = "deploy-dev"): OpenIssue => ({
  number,
  title: alertTitle(workflow),
  labels: ["deploy-failure"],
});

describe("run outcome from needs.*.result", () => {
  it.each([
    ["success success success", "clear"],
    ["success skipped", "clear"],
    ["success failure skipped", "problem"],
    ["failure cancelled", "problem"],
    ["success cancelled", "unknown"],
    ["", "unknown"],
  ])("%j -> %s", (results, state) => {
    expect(runOutcome(results.split(" ").filter(Boolean))).toBe(state);
  });
});

describe("the failing step", () => {
  it("is the first failed step of the first failed job", () => {
    expect(failure).toEqual({
      job: "deploy dev",
      jobId: 102,
      jobUrl: `${RUN}/job/102`,
      step: "Smoke test",
    });
  });
  it("is undefined when no job failed", () => {
    expect(findFailure(jobs.slice(0, 1))).toBeUndefined();
  });
});

describe("log tail", () => {
  const log = [
    "\uFEFF2026-11-25T16:01:02.1234567Z ##[group]Run npm run --silent delivery -- smoke",
    "2026-11-25T16:01:02.1234567Z ##[endgroup]",
    ...Array.from(
      { length: 80 },
      (_, i) =>
        `2026-11-25T16:01:${String(i % 60).padStart(2, "0")}.0000000Z \u001b[31msmoke: attempt ${i + 1}: GET /readyz answered 503\u001b[0m`,
    ),
    "2026-11-25T16:10:59.0000000Z ##[group]Run actions/upload-artifact",
    "2026-11-25T16:10:59.0000000Z ##[endgroup]",
    "2026-11-25T16:11:00.0000000Z ##[error]Process completed with exit code 1.",
    "",
  ].join("\r\n");
  it("keeps the last lines without timestamps, colours or group markers", () => {
    const tail = logTail(log);
    const lines = tail.split("\n");
    expect(lines).toHaveLength(60);
    expect(lines.at(-1)).toBe("##[error]Process completed with exit code 1.");
    expect(lines[0]).toBe("smoke: attempt 22: GET /readyz answered 503");
    expect(tail).not.toContain("\u001b");
    expect(tail).not.toMatch(/T16:|##\[group\]/);
  });
  it("is capped in characters", () => {
    expect(logTail(`${"x".repeat(20_000)}\n`).length).toBeLessThanOrEqual(6_001);
  });
});

describe("issue per workflow: open, update, close", () => {
  const failed = alertObservation(
    report("problem", { failure, log: "smoke: attempt 60: GET /readyz answered 503" }),
  );
  it("renders title, run link, commit, failing step and log tail", () => {
    expect(failed.title).toBe("Deploy failure: deploy-dev");
    expect(failed.label).toBe("deploy-failure");
    expect(failed.body).toContain(`| run | ${RUN} |`);
    expect(failed.body).toContain(`| commit | \`${COMMIT}\` |`);
    expect(failed.body).toContain(
      `job **deploy dev**, step **Smoke test** ([job log](${RUN}/job/102))`,
    );
    expect(failed.body).toContain("```text\nsmoke: attempt 60: GET /readyz answered 503\n```");
  });
  it("1. a first failure opens the issue", () => {
    expect(decideIssueAction(failed, [])).toMatchObject({
      kind: "open",
      title: "Deploy failure: deploy-dev",
    });
  });
  it("2. a further failure updates it with a comment naming the step", () => {
    const action = decideIssueAction(failed, [open(41)]);
    expect(action).toMatchObject({ kind: "update", number: 41 });
    expect(action.kind === "update" && action.comment).toContain(
      "Failed again at deploy dev / Smoke test",
    );
  });
  it("3. the next success closes it", () => {
    const action = decideIssueAction(alertObservation(report("clear")), [open(41)]);
    expect(action).toMatchObject({ kind: "close", numbers: [41] });
    expect(action.kind === "close" && action.comment).toContain("Succeeded again");
  });
  it("4. a success with no open issue does nothing", () => {
    expect(decideIssueAction(alertObservation(report("clear")), []).kind).toBe("none");
  });
  it("5. another workflow's issue is neither updated nor closed", () => {
    expect(decideIssueAction(failed, [open(7, "release")]).kind).toBe("open");
    expect(decideIssueAction(alertObservation(report("clear")), [open(7, "release")]).kind).toBe(
      "none",
    );
  });
  it("6. a run with a cancelled job leaves the issue open", () => {
    expect(decideIssueAction(alertObservation(report("unknown")), [open(41)]).kind).toBe("none");
  });
  it("a log holding a code fence cannot break out of the block", () => {
    const body = alertObservation(report("problem", { failure, log: "```\n# not a heading" })).body;
    expect(body).toContain("````text\n```\n# not a heading\n````");
  });
  it("says so when the failing job is unknown", () => {
    expect(alertObservation(report("problem")).body).toContain(
      "the failing job could not be determined",
    );
  });
});

describe("chat message", () => {
  it("names the workflow, the step, the short commit and the run", () => {
    expect(chatMessage(report("problem", { failure }))).toEqual({
      text: `:rotating_light: deploy-dev failed at deploy dev / Smoke test (commit 3f1c2a9d8e7b): ${RUN}`,
    });
  });
});
