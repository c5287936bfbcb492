/**
 * The AWS emulator: moto's server mode on 127.0.0.1 with a free port, in its own process group, with
 * its log and temporary files in a folder of its own. `stop()` ends the group and removes the folder.
 */
import type { ChildProcess, SpawnOptions } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, stopGroup, type GroupKiller } from "./processes";

/** A running emulator. */
export interface Emulator {
  /** `http://127.0.0.1:<port>`. */
  readonly endpointUrl: string;
  readonly port: number;
  readonly pid: number;
  /** The emulator's own log (stdout and stderr). */
  readonly logFile: string;
  /** Stops the process group and removes the emulator's folder; safe to call more than once. */
  stop(): Promise<void>;
}

/** What {@link startEmulator} needs from the outside world; tests pass fakes. */
export interface EmulatorDeps {
  readonly spawn: (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;
  /** Resolves true once the emulator answers on `url`. */
  readonly ready: (url: string) => Promise<boolean>;
  readonly freePort: () => Promise<number>;
  readonly kill?: GroupKiller;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Options for {@link startEmulator}. */
export interface EmulatorOptions {
  /** Path of `moto_server`. */
  readonly command: string;
  readonly host?: string;
  /** Give up if the emulator is not ready after this long. */
  readonly readyTimeoutMs?: number;
  /** Parent folder of the emulator's temporary folder. */
  readonly tmpRoot?: string;
}

/** Environment of the emulator process: AWS managed IAM policies loaded, like a real account. */
export function emulatorEnv(base: NodeJS.ProcessEnv, home: string): NodeJS.ProcessEnv {
  return {
    ...base,
    MOTO_IAM_LOAD_MANAGED_POLICIES: "true",
    TMPDIR: home,
    HOME: home,
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
  };
}

/** Asks moto's management API whether the server answers. */
export async function motoReady(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(2_000) });
    return response.ok;
  } catch {
    return false;
  }
}

const sleepMs = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Starts the emulator and waits until it answers. If it exits or does not answer in time, the process
 * group is stopped, the folder removed, and the error names the log's last lines.
 */
export async function startEmulator(
  options: EmulatorOptions,
  deps: EmulatorDeps,
): Promise<Emulator> {
  const host = options.host ?? "127.0.0.1";
  const port = await deps.freePort();
  const home = mkdtempSync(join(options.tmpRoot ?? tmpdir(), "rehearse-emulator-"));
  const logFile = join(home, "emulator.log");
  const log = createWriteStream(logFile);
  const child = deps.spawn(options.command, ["-H", host, "-p", String(port)], {
    cwd: home,
    env: emulatorEnv(process.env, home),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let logged = "";
  const collect = (d: Buffer) => {
    logged = (logged + d.toString()).slice(-4_000);
    log.write(d);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  let exitedEarly: string | undefined;
  child.once("exit", (code, signal) => {
    exitedEarly = `exited with ${signal ?? `code ${code}`}`;
  });
  child.once("error", (error) => {
    exitedEarly = `could not start: ${error.message}`;
  });

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      if (child.pid !== undefined) await stopGroup(child, 5_000, deps.kill);
      await new Promise<void>((resolve) => log.end(() => resolve()));
      rmSync(home, { recursive: true, force: true });
    })();
    return stopped;
  };

  const endpointUrl = `http://${host}:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  const sleep = deps.sleep ?? sleepMs;
  for (;;) {
    if (exitedEarly !== undefined) {
      await stop();
      throw new Error(`emulator ${exitedEarly} before it was ready:\n${logged.trim()}`);
    }
    if (await deps.ready(endpointUrl)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `emulator did not answer on ${endpointUrl} within ${options.readyTimeoutMs ?? 30_000} ms:\n${logged.trim()}`,
      );
    }
    await sleep(200);
  }
  return { endpointUrl, port, pid: child.pid ?? -1, logFile, stop };
}

/** The defaults: real spawn, real readiness probe, kernel-chosen port. */
export function realEmulatorDeps(spawnChild: EmulatorDeps["spawn"]): EmulatorDeps {
  return { spawn: spawnChild, ready: motoReady, freePort };
}
