import type { ChildProcess, SpawnOptions } from "node:child_process";
import { EventEmitter } from "node:events";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startEmulator, type EmulatorDeps } from "../../scripts/rehearse/emulator";
import { stopGroup } from "../../scripts/rehearse/processes";

/** A child process that exits when it receives SIGTERM, unless told to ignore it. */
class FakeChild extends EventEmitter {
  pid = 4242;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  stdout = new PassThrough();
  stderr = new PassThrough();
  ignoreTerm = false;

  receive(signal: NodeJS.Signals) {
    if (signal === "SIGTERM" && this.ignoreTerm) return;
    this.exit(null, signal);
  }

  exit(code: number | null, signal: NodeJS.Signals | null = null) {
    this.exitCode = code;
    this.signalCode = signal;
    this.emit("exit", code, signal);
  }
}

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "rehearse-test-"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function harness(child: FakeChild, readyAfter = 2) {
  const calls: { command: string; args: readonly string[]; options: SpawnOptions }[] = [];
  const signals: [number, NodeJS.Signals][] = [];
  let probes = 0;
  const deps: EmulatorDeps = {
    spawn: (command, args, options) => {
      calls.push({ command, args, options });
      return child as unknown as ChildProcess;
    },
    ready: async () => ++probes >= readyAfter,
    freePort: async () => 45123,
    kill: (pid, signal) => {
      signals.push([pid, signal]);
      child.receive(signal);
    },
    sleep: async () => undefined,
  };
  return { deps, calls, signals, probes: () => probes };
}

describe("startEmulator", () => {
  it("starts moto on 127.0.0.1 with the free port, in its own group, and waits until it answers", async () => {
    const child = new FakeChild();
    const h = harness(child, 3);
    const emulator = await startEmulator({ command: "/x/moto_server", tmpRoot: root }, h.deps);

    expect(h.calls).toHaveLength(1);
    expect(h.calls[0].command).toBe("/x/moto_server");
    expect(h.calls[0].args).toEqual(["-H", "127.0.0.1", "-p", "45123"]);
    expect(h.calls[0].options.detached).toBe(true);
    expect(h.calls[0].options.env?.MOTO_IAM_LOAD_MANAGED_POLICIES).toBe("true");
    expect(h.probes()).toBe(3);
    expect(emulator.endpointUrl).toBe("http://127.0.0.1:45123");
    await emulator.stop();
  });

  it("stop() signals the whole process group and removes the emulator's folder, once", async () => {
    const child = new FakeChild();
    const h = harness(child);
    const emulator = await startEmulator({ command: "moto", tmpRoot: root }, h.deps);
    const home = String(h.calls[0].options.cwd);
    expect(existsSync(home)).toBe(true);

    await emulator.stop();
    await emulator.stop();

    expect(h.signals).toEqual([[4242, "SIGTERM"]]);
    expect(existsSync(home)).toBe(false);
  });

  it("escalates to SIGKILL when the emulator ignores SIGTERM", async () => {
    const child = new FakeChild();
    child.ignoreTerm = true;
    const h = harness(child);
    await startEmulator({ command: "moto", tmpRoot: root }, h.deps);
    await stopGroup(child as unknown as ChildProcess, 20, h.deps.kill);
    expect(h.signals).toEqual([
      [4242, "SIGTERM"],
      [4242, "SIGKILL"],
    ]);
    expect(child.signalCode).toBe("SIGKILL");
  });

  it("fails with the emulator's own output when it exits before answering, leaving nothing behind", async () => {
    const child = new FakeChild();
    const h = harness(child, Number.POSITIVE_INFINITY);
    h.deps = {
      ...h.deps,
      ready: async () => {
        child.stderr.write("OSError: [Errno 98] Address already in use\n");
        await new Promise((r) => setImmediate(r));
        child.exit(1);
        return false;
      },
    };
    await expect(startEmulator({ command: "moto", tmpRoot: root }, h.deps)).rejects.toThrow(
      /exited with code 1 before it was ready:\nOSError: \[Errno 98\] Address already in use/,
    );
    expect(existsSync(String(h.calls[0].options.cwd))).toBe(false);
  });

  it("stops the emulator when it does not answer in time", async () => {
    const child = new FakeChild();
    const h = harness(child, Number.POSITIVE_INFINITY);
    await expect(
      startEmulator({ command: "moto", tmpRoot: root, readyTimeoutMs: 0 }, h.deps),
    ).rejects.toThrow(/did not answer on http:\/\/127\.0\.0\.1:45123 within 0 ms/);
    expect(h.signals).toEqual([[4242, "SIGTERM"]]);
    expect(existsSync(String(h.calls[0].options.cwd))).toBe(false);
  });
});
