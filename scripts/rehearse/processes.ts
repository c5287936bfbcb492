/**
 * Child processes of the rehearsal. Each runs in its own process group so that stopping it also stops
 * what it started (cdktf starts terraform, terraform starts its providers); every live group and every
 * clean-up step is released on each exit path: success, failure, SIGINT and SIGTERM.
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
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
