import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import {
  Children,
  CleanupStack,
  freePort,
  onSignals,
  type SignalSource,
} from "../../scripts/rehearse/processes";
import { leftovers } from "../../scripts/rehearse/rehearsal";
import { formatDuration, StepFailure, Steps } from "../../scripts/rehearse/steps";

describe("freePort", () => {
  it("returns a loopback port that can be listened on", async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(1023);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    await new Promise((resolve) => server.close(resolve));
  });
});

describe("CleanupStack", () => {
  it("runs every step once, newest first, and collects failures without stopping", async () => {
    const order: string[] = [];
    const stack = new CleanupStack();
    stack.add("folder", () => void order.push("folder"));
    stack.add("broken", () => {
      throw new Error("busy");
    });
    const remove = stack.add("removed", () => void order.push("removed"));
    stack.add("emulator", async () => void order.push("emulator"));
    remove();

    expect(await stack.runAll()).toEqual(["broken: busy"]);
    expect(await stack.runAll()).toEqual(["broken: busy"]);
    expect(order).toEqual(["emulator", "folder"]);
  });
});

describe("onSignals", () => {
  it.each([
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const)("on %s cleans up, then exits with %i", async (signal, code) => {
    const source = new EventEmitter();
    const cleaned: string[] = [];
    const stack = new CleanupStack();
    stack.add("emulator", () => void cleaned.push("emulator"));
    const exited = new Promise<number>((resolve) =>
      onSignals(stack, resolve, source as unknown as SignalSource, () => undefined),
    );
    source.emit(signal);
    expect(await exited).toBe(code);
    expect(cleaned).toEqual(["emulator"]);
  });

  it("removes its handlers when asked", () => {
    const source = new EventEmitter();
    const off = onSignals(new CleanupStack(), () => undefined, source as unknown as SignalSource);
    expect(source.listenerCount("SIGINT")).toBe(1);
    off();
    expect(source.listenerCount("SIGINT") + source.listenerCount("SIGTERM")).toBe(0);
  });
});

/** Whether a process runs (a zombie, killed but not yet reaped by its new parent, does not). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

describe("Children", () => {
  it("collects a command's output and exit code", async () => {
    const children = new Children();
    const result = await children.run(process.execPath, [
      "-e",
      "process.stdout.write('out'); process.stderr.write('err'); process.exit(3)",
    ]);
    expect(result).toMatchObject({ code: 3, stdout: "out", stderr: "err" });
  });

  it("stops a command's whole process group, grandchildren included", async () => {
    const children = new Children();
    const child = children.spawn("sh", ["-c", "sleep 30 & echo $!; wait"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    const grandchild = await new Promise<number>((resolve) =>
      child.stdout!.once("data", (d: Buffer) => resolve(Number(d.toString().trim()))),
    );
    await children.stopAll(2_000);
    expect(child.exitCode !== null || child.signalCode !== null).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(alive(grandchild)).toBe(false);
  });
});

describe("Steps", () => {
  it("times each step and keeps a failing step's name and message", async () => {
    let clock = 0;
    const lines: string[] = [];
    const steps = new Steps(
      (l) => lines.push(l),
      () => clock,
    );
    await steps.run(
      "deploy bootstrap",
      async () => {
        clock += 83_000;
        return "Apply complete!";
      },
      (s) => s,
    );
    await expect(
      steps.run("re-plan shared", async () => {
        clock += 1_500;
        throw new Error("the plan right after apply is not clean");
      }),
    ).rejects.toEqual(new StepFailure("re-plan shared", "the plan right after apply is not clean"));
    expect(lines).toContain("✔ deploy bootstrap (1 min 23.0 s): Apply complete!");
    expect(lines).toContain("✘ re-plan shared (1.5 s)");
    expect(steps.summary()).toMatch(/ok {4}deploy bootstrap +1 min 23\.0 s {2}Apply complete!/);
    expect(steps.summary()).toMatch(/FAIL {2}re-plan shared +1\.5 s/);
    expect(steps.summary()).toMatch(/total +1 min 24\.5 s/);
  });

  it("formats durations", () => {
    expect(formatDuration(940)).toBe("0.9 s");
    expect(formatDuration(61_250)).toBe("1 min 01.3 s");
  });
});

describe("leftovers", () => {
  it("lists what the emulator holds now and did not hold before, per kind", () => {
    const before = { "ec2 vpc": ["vpc-default"], "s3 bucket": [] };
    const after = {
      "ec2 vpc": ["vpc-default", "vpc-123"],
      "s3 bucket": [],
      "kms key": ["k1"],
    };
    expect(leftovers(before, after)).toEqual({ "ec2 vpc": ["vpc-123"], "kms key": ["k1"] });
    expect(leftovers(after, after)).toEqual({});
  });
});
