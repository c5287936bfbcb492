import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { driftObservation, DRIFT_LABEL, DRIFT_TITLE } from "../../scripts/delivery/drift";
import { readPlanDirectory } from "../../scripts/delivery/plan-files";
import {
  applyIssueAction,
  decideIssueAction,
  syncTrackingIssue,
  type IssueTracker,
  type Observation,
  type OpenIssue,
} from "../../scripts/delivery/tracking-issue";

const observation = (state: Observation["state"]): Observation => ({
  title: "Deploy failure: deploy-dev",
  label: "deploy-failure",
  state,
  body: "body",
  comment: "comment",
});
const issue = (
  number: number,
  title = "Deploy failure: deploy-dev",
  labels = ["deploy-failure"],
): OpenIssue => ({
  number,
  title,
  labels,
});

describe("open, update or close", () => {
  it("opens an issue for a new problem", () => {
    expect(decideIssueAction(observation("problem"), [])).toEqual({
      kind: "open",
      title: "Deploy failure: deploy-dev",
      body: "body",
      labels: ["deploy-failure"],
    });
  });
  it("updates the open issue while the problem lasts (the oldest, if there are several)", () => {
    expect(decideIssueAction(observation("problem"), [issue(12), issue(7)])).toEqual({
      kind: "update",
      number: 7,
      body: "body",
      comment: "comment",
    });
  });
  it("closes every matching issue when clear", () => {
    expect(decideIssueAction(observation("clear"), [issue(7), issue(12)])).toEqual({
      kind: "close",
      numbers: [7, 12],
      comment: "comment",
    });
  });
  it("does nothing when clear and no issue is open", () => {
    expect(decideIssueAction(observation("clear"), []).kind).toBe("none");
  });
  it("leaves an open issue alone when the run could not tell", () => {
    expect(decideIssueAction(observation("unknown"), [issue(7)]).kind).toBe("none");
  });
  it("ignores issues of another workflow or without the label", () => {
    const others = [
      issue(3, "Deploy failure: release"),
      issue(4, "Deploy failure: deploy-dev", ["bug"]),
    ];
    expect(decideIssueAction(observation("problem"), others).kind).toBe("open");
    expect(decideIssueAction(observation("clear"), others).kind).toBe("none");
  });
});

/** An in-memory issue tracker. */
class MemoryTracker implements IssueTracker {
  issues: Array<OpenIssue & { body: string; open: boolean; comments: string[] }> = [];
  async listOpenIssues(label: string) {
    return this.issues.filter((i) => i.open && i.labels.includes(label));
  }
  async createIssue(title: string, body: string, labels: readonly string[]) {
    const number = this.issues.length + 1;
    this.issues.push({ number, title, body, labels: [...labels], open: true, comments: [] });
    return number;
  }
  async updateIssueBody(number: number, body: string) {
    this.issues[number - 1]!.body = body;
  }
  async addComment(number: number, body: string) {
    this.issues[number - 1]!.comments.push(body);
  }
  async closeIssue(number: number) {
    this.issues[number - 1]!.open = false;
  }
}

describe("drift issue over nightly runs", () => {
  const plans = (name: string) => readPlanDirectory(join(__dirname, "fixtures", "plan-dirs", name));
  it("opens on drift, updates while it lasts, leaves it on a failed plan, closes when clean", async () => {
    const tracker = new MemoryTracker();
    const night = async (dir: string, run: number) =>
      syncTrackingIssue(
        tracker,
        driftObservation(plans(dir), `https://github.com/o/n/actions/runs/${run}`, "c".repeat(40)),
      );

    expect(await night("drifted", 1)).toBe("opened issue #1");
    expect(tracker.issues[0]).toMatchObject({
      title: DRIFT_TITLE,
      labels: [DRIFT_LABEL],
      open: true,
    });
    expect(tracker.issues[0]!.body).toContain("| `dev` | 0 | 1 | 0 | 0 | changes |");
    expect(tracker.issues[0]!.body).toContain("found changes in `dev`");

    expect(await night("drifted", 2)).toBe("updated issue #1");
    expect(tracker.issues[0]!.comments).toEqual([
      "Still drifting (dev): https://github.com/o/n/actions/runs/2",
    ]);

    expect(await night("one-failed", 3)).toMatch(/^no issue change/);
    expect(tracker.issues[0]!.open).toBe(true);

    expect(await night("clean", 4)).toBe("closed issue #1");
    expect(tracker.issues[0]!.open).toBe(false);
    expect(tracker.issues).toHaveLength(1);
  });
  it("applies nothing for a none action", async () => {
    const tracker = new MemoryTracker();
    expect(await applyIssueAction(tracker, { kind: "none", reason: "clear" })).toBe(
      "no issue change: clear",
    );
    expect(tracker.issues).toEqual([]);
  });
});
