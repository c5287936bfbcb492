/**
 * Child processes of the rehearsal. Each runs in its own process group so that stopping it also stops
 * what it started (cdktf starts terraform, terraform starts its providers); every live group and every
 * clean-up step is released on each exit path: success, failure, SIGINT and SIGTERM.
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";

/** Something that can be stopped: a process group, a temporary folder. */
export type Cleanup = () => Promise<void> | void;

/** Signals a process group; the default is `process.kill(-pid, signal)`. */
export type GroupKiller = (pid: number, signal: NodeJS.Signals) => void;

const killGroup: GroupKiller = (pid, signal) => {
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

/** The minimal `process` surface the signal handling needs, so tests can pass a fake. */
export interface SignalSource {
  once(signal: NodeJS.Signals, listener: () => void): unknown;
  removeListener(signal: NodeJS.Signals, listener: () => void): unknown;
}

/**
 * On SIGINT or SIGTERM: run the clean-up steps, then `exit(128 + signal number)`. Returns a function
 * that removes the handlers.
 */
export function onSignals(
  cleanup: CleanupStack,
  exit: (code: number) => void,
  source: SignalSource = process,
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): () => void {
  const handlers: [NodeJS.Signals, () => void][] = (
    [
      ["SIGINT", 130],
      ["SIGTERM", 143],
    ] as const
  ).map(([signal, code]) => [
    signal,
    () => {
      log(`\nrehearse: received ${signal}, stopping the emulator and cleaning up`);
      void cleanup.runAll().then((failures) => {
        for (const f of failures) log(`rehearse: clean-up failed: ${f}`);
        exit(code);
      });
    },
  ]);
  for (const [signal, handler] of handlers) source.once(signal, handler);
  return () => {
    for (const [signal, handler] of handlers) source.removeListener(signal, handler);
  };
}

export { freePort } from "../free-port";

/** The result of a finished command. */
export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** stdout and stderr, interleaved as they arrived. */
  readonly output: string;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options for {@link run}. */
export interface RunOptions extends Pick<SpawnOptions, "cwd" | "env"> {
  /** Text written to stdin, which is then closed. */
  readonly input?: string;
  /** Called with each chunk of output (for `--verbose`). */
  readonly onOutput?: (chunk: string) => void;
  /** Kill the command's group after this many milliseconds. */
  readonly timeoutMs?: number;
}

/** Tracks live children so that a signal can stop their process groups. */
export class Children {
  private readonly live = new Set<ChildProcess>();

  constructor(private readonly kill: GroupKiller = killGroup) {}

  /** Starts a command in its own process group and tracks it until it exits. */
  spawn(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
    const child = spawn(command, args, { ...options, detached: true });
    this.live.add(child);
    child.once("exit", () => this.live.delete(child));
    child.once("error", () => this.live.delete(child));
    return child;
  }

  /** Stops every live child's process group. */
  async stopAll(graceMs = 5_000): Promise<void> {
    await Promise.all([...this.live].map((c) => stopGroup(c, graceMs, this.kill)));
  }

  /** Runs a command to completion, collecting its output. */
  run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const child = this.spawn(command, args, {
        cwd: options.cwd,
        env: options.env,
        stdio: ["pipe", "pipe", "pipe"],
      });
      let output = "";
      let stdout = "";
      let stderr = "";
      child.stdout?.on("data", (d: Buffer) => {
        const s = d.toString();
        stdout += s;
        output += s;
        options.onOutput?.(s);
      });
      child.stderr?.on("data", (d: Buffer) => {
        const s = d.toString();
        stderr += s;
        output += s;
        options.onOutput?.(s);
      });
      child.stdin?.end(options.input ?? "");
      const timer =
        options.timeoutMs === undefined
          ? undefined
          : setTimeout(() => void stopGroup(child, 5_000, this.kill), options.timeoutMs);
      child.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once("close", (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, output, stdout, stderr });
      });
    });
  }
}
