/**
 * One GitHub issue that tracks an ongoing condition (drift, a failing deploy workflow): opened when
 * the condition appears, updated while it lasts, closed when it clears. The decision is a pure
 * function; {@link applyIssueAction} carries it out through a {@link IssueTracker}.
 */

/** An open issue as the tracker lists it. */
export interface OpenIssue {
  readonly number: number;
  readonly title: string;
  readonly labels: readonly string[];
}

/** The condition observed by this run. */
export interface Observation {
  /** The issue's title; open issues are matched by title and label. */
  readonly title: string;
  readonly label: string;
  /**
   * `problem`: the condition holds; `clear`: it does not; `unknown`: this run could not tell (a
   * failed plan, say), so an open issue is left as it is.
   */
  readonly state: "problem" | "clear" | "unknown";
  /** Issue body while the condition holds (the latest report). */
  readonly body: string;
  /** Comment added to an existing issue for each new occurrence, or when closing it. */
  readonly comment: string;
}

export type IssueAction =
  | {
      readonly kind: "open";
      readonly title: string;
      readonly body: string;
      readonly labels: readonly string[];
    }
  | {
      readonly kind: "update";
      readonly number: number;
      readonly body: string;
      readonly comment: string;
    }
  | { readonly kind: "close"; readonly numbers: readonly number[]; readonly comment: string }
  | { readonly kind: "none"; readonly reason: string };

/** Decides what to do with the tracking issue given the open issues carrying its label. */
export function decideIssueAction(
  observation: Observation,
  openIssues: readonly OpenIssue[],
): IssueAction {
  const matching = openIssues
    .filter(
      (issue) => issue.title === observation.title && issue.labels.includes(observation.label),
    )
    .sort((a, b) => a.number - b.number);
  if (observation.state === "unknown") {
    return {
      kind: "none",
      reason: "this run could not determine the state; the issue is left as it is",
    };
  }
  if (observation.state === "problem") {
    const oldest = matching[0];
    if (!oldest) {
      return {
        kind: "open",
        title: observation.title,
        body: observation.body,
        labels: [observation.label],
      };
    }
    return {
      kind: "update",
      number: oldest.number,
      body: observation.body,
      comment: observation.comment,
    };
  }
  if (matching.length === 0) return { kind: "none", reason: "clear, and no open issue" };
  return {
    kind: "close",
    numbers: matching.map((issue) => issue.number),
    comment: observation.comment,
  };
}

/** What {@link applyIssueAction} needs from GitHub. */
export interface IssueTracker {
  listOpenIssues(label: string): Promise<OpenIssue[]>;
  createIssue(title: string, body: string, labels: readonly string[]): Promise<number>;
  updateIssueBody(number: number, body: string): Promise<void>;
  addComment(number: number, body: string): Promise<void>;
  closeIssue(number: number): Promise<void>;
}

/** Carries out an action; returns a one-line description for the log. */
export async function applyIssueAction(
  tracker: IssueTracker,
  action: IssueAction,
): Promise<string> {
  switch (action.kind) {
    case "open": {
      const number = await tracker.createIssue(action.title, action.body, action.labels);
      return `opened issue #${number}`;
    }
    case "update":
      await tracker.updateIssueBody(action.number, action.body);
      await tracker.addComment(action.number, action.comment);
      return `updated issue #${action.number}`;
    case "close":
      for (const number of action.numbers) {
        await tracker.addComment(number, action.comment);
        await tracker.closeIssue(number);
      }
      return `closed issue ${action.numbers.map((n) => `#${n}`).join(", ")}`;
    case "none":
      return `no issue change: ${action.reason}`;
  }
}

/** Observes a tracking issue end to end: list, decide, apply. */
export async function syncTrackingIssue(
  tracker: IssueTracker,
  observation: Observation,
): Promise<string> {
  const open = await tracker.listOpenIssues(observation.label);
  return applyIssueAction(tracker, decideIssueAction(observation, open));
}
