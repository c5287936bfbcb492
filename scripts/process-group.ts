/**
 * Process groups and clean-up steps, shared by both rehearsals: a child started in its own process
 * group is stopped with everything it started (SIGTERM, then SIGKILL after a grace period), and
 * clean-up steps run once, in reverse order of registration, whatever the exit path.
 */
import type { ChildProcess } from "node:child_process";

/** Something that can be stopped: a process group, a temporary folder. */
export type Cleanup = () => Promise<void> | void;

/** Signals a process group; the default is `process.kill(-pid, signal)`. */
export type GroupKiller = (pid: number, signal: NodeJS.Signals) => void;

export const killGroup: GroupKiller = (pid, signal) => {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
};

/**
 * Stops a child's process group: SIGTERM, then SIGKILL if it has not exited after `graceMs`.
 * Resolves once the child has exited (or at once if it already had).
 */
export async function stopGroup(
  child: Pick<ChildProcess, "pid" | "exitCode" | "signalCode" | "once">,
  graceMs = 5_000,
  kill: GroupKiller = killGroup,
): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const pid = child.pid;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  kill(pid, "SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), graceMs);
  });
  const late = await Promise.race([exited.then(() => false), timedOut]);
  clearTimeout(timer);
  if (late) {
    kill(pid, "SIGKILL");
    await exited;
  }
}

/** Clean-up steps, run once in reverse order of registration. */
export class CleanupStack {
  private readonly steps: { label: string; run: Cleanup }[] = [];
  private running: Promise<string[]> | undefined;

  /** Registers a step; returns a function that removes it again (for an orderly early stop). */
  add(label: string, run: Cleanup): () => void {
    const step = { label, run };
    this.steps.push(step);
    return () => {
      const i = this.steps.indexOf(step);
      if (i >= 0) this.steps.splice(i, 1);
    };
  }

  /** Runs every step once; resolves to the failures (label: error), never rejects. */
  runAll(): Promise<string[]> {
    this.running ??= (async () => {
      const failures: string[] = [];
      while (this.steps.length > 0) {
        const step = this.steps.pop()!;
        try {
          await step.run();
        } catch (error) {
          failures.push(`${step.label}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      return failures;
    })();
    return this.running;
  }
}
