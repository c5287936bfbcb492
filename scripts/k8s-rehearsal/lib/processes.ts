/**
 * Child processes and clean-up for the rehearsal: every long-running process and temporary folder
 * is registered here and released on every exit path (normal end, error, SIGINT, SIGTERM).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, rmSync } from "node:fs";
import { CleanupStack, stopGroup } from "../../process-group";

/** A failure the user can act on; printed without a stack trace. */
export class RehearsalError extends Error {
  override name = "RehearsalError";
}

/** Thrown by a `waitFor` probe to stop waiting at once (the thing waited for cannot happen). */
export class StopWaiting extends RehearsalError {
  override name = "StopWaiting";
}

const cleanups = new CleanupStack();

/** Registers a clean-up step; steps run in reverse order of registration. */
export function onCleanup(label: string, run: () => Promise<void> | void): void {
  cleanups.add(label, run);
}

/** Runs every registered clean-up step once, in reverse order, reporting (not throwing) failures. */
export async function cleanupAll(): Promise<void> {
  for (const failure of await cleanups.runAll()) {
    process.stderr.write(`clean-up failed: ${failure}\n`);
  }
}

/**
 * Stops the rehearsal cleanly on SIGINT/SIGTERM (clean up, then exit with 128 + signal number) and
 * on a crash. A second signal while cleaning up is reported and otherwise ignored, so a terminal's
 * Ctrl-C reaching both a wrapper and this process cannot cut the clean-up short.
 */
let stopping = false;

/** Whether a signal or crash is stopping the rehearsal (its failures are then expected). */
export function isStopping(): boolean {
  return stopping;
}

export function installSignalHandlers(): void {
  const stop = (reason: string, code: number): void => {
    if (stopping) {
      process.stderr.write(`${reason} again: still stopping the control plane\n`);
      return;
    }
    stopping = true;
    process.stderr.write(`\n${reason}: stopping the control plane\n`);
    void cleanupAll().finally(() => process.exit(code));
  };
  process.on("SIGINT", () => stop("received SIGINT", 130));
  process.on("SIGTERM", () => stop("received SIGTERM", 143));
  process.on("SIGHUP", () => stop("received SIGHUP", 129));
  process.on("uncaughtException", (error) => {
    process.stderr.write(`${error.stack ?? String(error)}\n`);
    stop("crashed", 1);
  });
  process.on("unhandledRejection", (error) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    stop("crashed", 1);
  });
}

/** Removes a folder now and on exit. */
export function removeOnExit(dir: string): void {
  onCleanup(`folder ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
}

export { freePort } from "../../free-port";

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
  onCleanup(name, stop);
  return { name, logFile, child, exited, stop };
}

/** The outcome of a finished command. */
export interface RunResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion without a shell; never throws on a non-zero exit. */
export function run(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
    child.once("error", (error) => {
      if (timer) clearTimeout(timer);
      resolve({ status: 127, stdout, stderr: `${stderr}${String(error)}` });
    });
    child.once("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ status: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    if (child.stdin) {
      // A command may exit before reading its input; that shows in its status, not as EPIPE.
      child.stdin.on("error", () => undefined);
      child.stdin.end(options.input);
    }
  });
}

/** Whether an executable is on PATH. */
export function onPath(command: string): boolean {
  return (
    spawnSync("sh", ["-c", `command -v "$1"`, "sh", command], { stdio: "ignore" }).status === 0
  );
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
