/**
 * Child processes of the rehearsal. Each runs in its own process group so that stopping it also stops
 * what it started (cdktf starts terraform, terraform starts its providers); every live group and every
 * clean-up step is released on each exit path: success, failure, SIGINT and SIGTERM.
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { createWriteStream } from "node:fs";
import { CleanupStack, killGroup, stopGroup, type GroupKiller } from "../process-group";

export { CleanupStack, stopGroup, type Cleanup, type GroupKiller } from "../process-group";

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
    return this.start(command, args, options).result;
  }

  /** Starts a command and collects its output; `child` is there to signal it. */
  start(
    command: string,
    args: readonly string[],
    options: RunOptions = {},
  ): { child: ChildProcess; result: Promise<RunResult> } {
    const child = this.spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const result = new Promise<RunResult>((resolve, reject) => {
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
      // A command may exit before reading its input; that shows in its status, not as EPIPE.
      child.stdin?.on("error", () => undefined);
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
    return { child, result };
  }
}

/** A failure the user can act on; printed without a stack trace. */
export class RehearsalError extends Error {
  override name = "RehearsalError";
}

/** Thrown by a {@link waitFor} probe to stop waiting at once (the thing waited for cannot happen). */
export class StopWaiting extends RehearsalError {
  override name = "StopWaiting";
}

/** A long-running process whose output goes to a log file. */
export interface Service {
  readonly name: string;
  readonly logFile: string;
  readonly child: ChildProcess;
  /** Resolves when the process has exited. */
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * Starts a long-running process in its own process group, logging to `logFile`, and registers its
 * stop (SIGTERM, then SIGKILL after `graceMs`) as a clean-up step.
 */
export function startService(
  cleanup: CleanupStack,
  name: string,
  command: string,
  args: readonly string[],
  logFile: string,
  options: { env?: NodeJS.ProcessEnv; graceMs?: number } = {},
): Service {
  const log = createWriteStream(logFile, { flags: "a" });
  const child = spawn(command, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: options.env ?? process.env,
    detached: true,
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => resolve(code));
    child.once("error", (error) => {
      log.write(`\n${name}: ${String(error)}\n`);
      resolve(null);
    });
  });
  const graceMs = options.graceMs ?? 10_000;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await stopGroup(child, graceMs);
      await new Promise<void>((resolve) => log.end(resolve));
    })();
    return stopping;
  };
  cleanup.add(name, stop);
  return { name, logFile, child, exited, stop };
}

/** Polls `probe` every `intervalMs` until it returns a value or `timeoutMs` passes. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      if (error instanceof StopWaiting) throw error;
      last = error;
    }
    if (Date.now() > deadline) {
      const reason = last instanceof Error ? `: ${last.message}` : "";
      throw new RehearsalError(`timed out after ${timeoutMs / 1000}s waiting for ${what}${reason}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
