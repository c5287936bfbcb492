import { execFile } from "node:child_process";
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readDockerfile, stageSteps } from "./dockerfile";
import {
  REPO_ROOT,
  freePort,
  httpGet,
  parseRaw,
  rawExchange,
  startApi,
  waitForReady,
  type ApiProcess,
} from "./support";

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const started: ApiProcess[] = [];

function start(port: number, env: NodeJS.ProcessEnv = {}, cwd?: string): ApiProcess {
  const api = startApi(port, { LOG_LEVEL: "warn", ...env }, cwd);
  started.push(api);
  return api;
}

/**
 * Replays the Dockerfile's `deps` stage (its COPY and RUN steps) in a temporary folder, so the
 * install command of the image is the one tested. npm installs from its cache when it can: the
 * lock file pins every package.
 */
async function replayDepsStage(): Promise<string> {
  const depsRoot = mkdtempSync(join(tmpdir(), "api-deps-"));
  for (const step of stageSteps(readDockerfile(), "deps")) {
    if (step.keyword === "WORKDIR") expect(step.args).toEqual(["/build"]);
    if (step.keyword === "COPY") {
      const dest = join(depsRoot, step.args.at(-1)!);
      for (const src of step.args.slice(0, -1)) {
        const target = step.args.at(-1)!.endsWith("/") ? join(dest, src.split("/").at(-1)!) : dest;
        mkdirSync(dirname(target), { recursive: true });
        cpSync(join(REPO_ROOT, src), target, { recursive: true });
      }
    }
    if (step.keyword === "RUN") {
      await run("sh", ["-c", step.text], {
        cwd: depsRoot,
        env: {
          ...process.env,
          npm_config_prefer_offline: "true",
          npm_config_update_notifier: "false",
        },
      });
    }
  }
  return depsRoot;
}

/** Lays out what the runtime stage copies: from `deps`, from `build` (api/dist), from the context. */
function layOutRuntime(depsRoot: string): string {
  const app = mkdtempSync(join(tmpdir(), "api-runtime-"));
  const roots: Record<string, string> = { deps: depsRoot, build: REPO_ROOT };
  for (const step of stageSteps(readDockerfile(), "runtime").filter((s) => s.keyword === "COPY")) {
    const [src, dest] = step.args as [string, string];
    const from = step.flags.from;
    const source = from ? join(roots[from]!, src.replace(/^\/build\//, "")) : join(REPO_ROOT, src);
    mkdirSync(dirname(join(app, dest)), { recursive: true });
    cpSync(source, join(app, dest), { recursive: true, verbatimSymlinks: true });
  }
  return app;
}

/** Bytes and count of the regular files under a folder; symbolic links are not followed. */
function measure(dir: string): { bytes: number; files: number; paths: string[] } {
  const out = { bytes: 0, files: 0, paths: [] as string[] };
  const walk = (d: string) => {
    for (const entry of readdirSync(d)) {
      const path = join(d, entry);
      const stat = lstatSync(path);
      if (stat.isDirectory()) walk(path);
      else if (stat.isFile()) {
        out.bytes += stat.size;
        out.files += 1;
        out.paths.push(path);
      }
    }
  };
  walk(dir);
  return out;
}

let runtimeDir: Promise<string>;

beforeAll(async () => {
  // Never a previous build: compile api/dist now, while the replayed `npm ci` runs beside it.
  const deps = replayDepsStage();
  await run("npm", ["run", "build", "--workspace", "api"], { cwd: REPO_ROOT });
  runtimeDir = deps.then(layOutRuntime);
  runtimeDir.catch(() => undefined);
});

afterAll(() => {
  for (const api of started) if (api.child.exitCode === null) api.child.kill("SIGKILL");
});

// Each test runs its own server process on its own port, so they run side by side.
describe.concurrent("node api/dist/server.js", () => {
  it("exits 1 at once on a bad PORT, naming the variable and the allowed form", async ({
    expect,
  }) => {
    const api = start(1, { PORT: "eighty" });
    expect(await api.exited).toBe(1);
    expect(api.output()).toMatch(/PORT: must be a whole number from 1 to 65535 \(got "eighty"\)/);
  });

  it("exits 1 when the port is taken", async ({ expect }) => {
    const port = await freePort();
    const first = start(port);
    await waitForReady(first);
    const second = start(port);
    expect(await second.exited).toBe(1);
    expect(second.output()).toContain("cannot listen");
    first.child.kill("SIGKILL");
  });

  it("answers at least 10 malformed requests with 4xx JSON and stays healthy", async ({
    expect,
  }) => {
    const port = await freePort();
    const api = start(port);
    await waitForReady(api);
    const head = (lines: string[]) => `${lines.join("\r\n")}\r\n\r\n`;
    const cases: Array<[string, string]> = [
      ["huge header", head(["GET / HTTP/1.1", "Host: x", `X-Big: ${"a".repeat(20_000)}`])],
      ["header line without a colon", head(["GET / HTTP/1.1", "Host: x", "Broken header"])],
      ["control character in a header", head(["GET / HTTP/1.1", "Host: x", "X-A: a\u0001b"])],
      ["non-numeric Content-Length", head(["POST / HTTP/1.1", "Host: x", "Content-Length: ten"])],
      [
        "Content-Length with chunked encoding",
        head(["POST / HTTP/1.1", "Host: x", "Content-Length: 3", "Transfer-Encoding: chunked"]) +
          "0\r\n\r\n",
      ],
      ["unknown method", head(["BREW / HTTP/1.1", "Host: x"])],
      ["binary garbage", "\u0000\u0001\u0002\u0003\r\n\r\n"],
      ["missing Host", head(["GET / HTTP/1.1"])],
      [
        "path traversal",
        head(["GET /../../../etc/passwd HTTP/1.1", "Host: x", "Connection: close"]),
      ],
      ["bad percent-encoding", head(["GET /%zz HTTP/1.1", "Host: x", "Connection: close"])],
      ["wrong method", head(["TRACE / HTTP/1.1", "Host: x", "Connection: close"])],
      [
        "oversized body",
        head([
          "POST / HTTP/1.1",
          "Host: x",
          "Content-Type: application/json",
          "Content-Length: 10485760",
        ]) + "{",
      ],
      [
        "invalid JSON body",
        head([
          "POST / HTTP/1.1",
          "Host: x",
          "Content-Type: application/json",
          "Content-Length: 5",
          "Connection: close",
        ]) + "{oops",
      ],
    ];
    const answers: Array<[string, number, string]> = [];
    for (const [name, bytes] of cases) {
      const { status, body } = parseRaw(await rawExchange(port, bytes));
      answers.push([name, status, body]);
    }
    for (const [name, status, body] of answers) {
      expect(status, name).toBeGreaterThanOrEqual(400);
      expect(status, name).toBeLessThan(500);
      expect(JSON.parse(body), name).toMatchObject({
        statusCode: status,
        error: expect.any(String),
      });
    }
    expect(answers.find(([name]) => name === "huge header")?.[1]).toBe(431);
    expect(answers.find(([name]) => name === "oversized body")?.[1]).toBe(413);
    expect(api.child.exitCode).toBeNull();
    expect((await httpGet(port, "/healthz")).status).toBe(200);
    expect((await httpGet(port, "/readyz")).status).toBe(200);
    expect(api.output()).not.toMatch(/"level":"(error|fatal)"/);
  });

  it("drains under load: readiness fails first, every request sent gets a 200, exit 0 in time", async ({
    expect,
  }) => {
    const port = await freePort();
    const delayMs = 2_500;
    const timeoutMs = 8_000;
    const api = start(port, {
      LOG_LEVEL: "info",
      SHUTDOWN_DELAY_MS: String(delayMs),
      SHUTDOWN_TIMEOUT_MS: String(timeoutMs),
    });
    await waitForReady(api);

    const agent = new Agent({ keepAlive: true, maxSockets: 20 });
    const outcomes: Array<number | string> = [];
    let reused = 0;
    let sending = true;
    const once = () =>
      new Promise<number | string>((done) => {
        const req = request({ host: "127.0.0.1", port, path: "/", agent }, (res) => {
          res.resume();
          res.on("end", () => done(res.statusCode ?? 0));
        });
        req.on("socket", () => {
          if (req.reusedSocket) reused += 1;
        });
        req.on("error", (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
        req.end();
      });
    const workers = Array.from({ length: 20 }, async () => {
      while (sending) outcomes.push(await once());
    });

    await sleep(300);
    const signalledAt = Date.now();
    api.child.kill("SIGTERM");
    // The load balancer's health checks: separate connections to /readyz until it fails.
    let notReadyAt = 0;
    while (notReadyAt === 0) {
      const { status } = await httpGet(port, "/readyz");
      if (status === 503) notReadyAt = Date.now();
      else expect(status).toBe(200);
    }
    // A second later the balancer has taken the pod out and stops sending.
    await sleep(1_000);
    sending = false;
    await Promise.all(workers);
    const code = await api.exited;
    const exitedAfter = Date.now() - signalledAt;
    agent.destroy();

    expect(outcomes.length).toBeGreaterThan(200);
    expect(reused).toBeGreaterThan(outcomes.length / 2);
    expect(outcomes.filter((o) => o !== 200)).toEqual([]);
    // At once: the first readiness check after the signal fails (1 s of slack for a busy machine).
    expect(notReadyAt - signalledAt).toBeLessThan(1_000);
    expect(code).toBe(0);
    expect(exitedAfter).toBeGreaterThanOrEqual(delayMs);
    expect(exitedAfter).toBeLessThan(timeoutMs);
    // Buffered log lines are all written by the time the process has exited: an access line for
    // every request answered (plus the readiness checks), and the last line of the shutdown.
    const lines = api.output().trim().split("\n");
    const answered = lines.filter((l) => l.includes('"url":"/"') && l.includes('"statusCode":200'));
    expect(answered).toHaveLength(outcomes.length);
    expect(lines.at(-1)).toContain('"msg":"shutdown complete"');
  });

  it("exits 1 when draining outlasts SHUTDOWN_TIMEOUT_MS", async ({ expect }) => {
    const port = await freePort();
    const api = start(port, { SHUTDOWN_DELAY_MS: "100", SHUTDOWN_TIMEOUT_MS: "1000" });
    await waitForReady(api);
    // A request whose headers never finish keeps its connection busy.
    const stuck = rawExchange(port, "GET / HTTP/1.1\r\nHost: x\r\n", 5_000);
    await sleep(100);
    const signalledAt = Date.now();
    api.child.kill("SIGTERM");
    expect(await api.exited).toBe(1);
    expect(Date.now() - signalledAt).toBeLessThan(3_000);
    expect(api.output()).toContain("shutdown timed out");
    await stuck;
  });

  it("exits 1 at once on a second signal", async ({ expect }) => {
    const port = await freePort();
    const api = start(port, { SHUTDOWN_DELAY_MS: "10000", SHUTDOWN_TIMEOUT_MS: "20000" });
    await waitForReady(api);
    api.child.kill("SIGTERM");
    while ((await httpGet(port, "/readyz")).status !== 503) await sleep(10);
    const secondAt = Date.now();
    api.child.kill("SIGINT");
    expect(await api.exited).toBe(1);
    // Well before the 10 s delay would have ended (slack for a busy machine).
    expect(Date.now() - secondAt).toBeLessThan(2_000);
  });
});

describe.concurrent("runtime payload (what the image copies)", () => {
  it("is under 20 MB, has only production dependencies without native code, and boots", async ({
    expect,
  }) => {
    const app = await runtimeDir;
    const dist = measure(join(app, "api", "dist"));
    const modules = measure(join(app, "node_modules"));
    const nested = existsSync(join(app, "api", "node_modules"))
      ? measure(join(app, "api", "node_modules"))
      : { bytes: 0, files: 0, paths: [] };
    const bytes = dist.bytes + modules.bytes + nested.bytes;
    const files = dist.files + modules.files + nested.files;
    console.log(
      `runtime payload: ${(bytes / 1e6).toFixed(2)} MB in ${files} files ` +
        `(dist ${(dist.bytes / 1e3).toFixed(1)} kB, node_modules ${((modules.bytes + nested.bytes) / 1e6).toFixed(2)} MB)`,
    );
    expect(bytes).toBeLessThan(20_000_000);

    const installed = readdirSync(join(app, "node_modules"));
    expect(installed).toEqual(expect.arrayContaining(["fastify", "pino", "prom-client"]));
    for (const devOnly of ["typescript", "vitest", "autocannon", "cdktf", "tsx", "api"]) {
      expect(installed, devOnly).not.toContain(devOnly);
    }
    // Native addons would tie the dependencies to the platform they were installed on.
    expect([...modules.paths, ...nested.paths].filter((p) => p.endsWith(".node"))).toEqual([]);

    const port = await freePort();
    const api = start(port, { SHUTDOWN_DELAY_MS: "0" }, join(app, "api"));
    await waitForReady(api);
    for (const path of ["/", "/healthz", "/version", "/metrics"]) {
      expect((await httpGet(port, path)).status, path).toBe(200);
    }
    api.child.kill("SIGTERM");
    expect(await api.exited).toBe(0);
  });
});
