/**
 * The API against a raw `node:http` server that returns the same JSON (bench/api-baseline.js).
 *
 *   npx tsx bench/api.ts
 *
 * Builds the API, then runs each server as its own process on 127.0.0.1 and loads `GET /` with
 * autocannon (50 connections), alternating API and baseline runs. The API runs as in production:
 * JSON access logs on (written to a file, as a container runtime would collect them), metrics on.
 * Reports medians: requests/s and their ratio, server CPU time per request, p50/p99 latency,
 * start-to-ready time, and RSS after load. Prints numbers and the targets; asserts nothing.
 *
 * Load generator and servers share the machine, so requests/s depends on the client's CPU too;
 * CPU time per request is the server's own cost, whatever the client does.
 *
 * BENCH_RUNS: runs per side (default 5). BENCH_API_SECONDS: seconds per run (default 5).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, statSync } from "node:fs";
import { request } from "node:http";
import { freePort } from "../scripts/free-port";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import autocannon from "autocannon";
import { median } from "./median";

const ROOT = resolve(__dirname, "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SECONDS = Number(process.env.BENCH_API_SECONDS ?? 5);
const CONNECTIONS = 50;
const STARTS = 5;
const TARGETS = { ratio: 0.9, p99Factor: 2, readyMs: 250, rssMiB: 100 };

type Side = "api" | "raw";

interface Server {
  readonly child: ChildProcess;
  readonly port: number;
  /** Milliseconds from spawn until the readiness path first answered 200. */
  readonly readyMs: number;
}

interface Run {
  readonly rps: number;
  /** Server CPU time (user + system) per answered request, in microseconds. */
  readonly cpuUs: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly non2xx: number;
}

const logDir = mkdtempSync(join(tmpdir(), "bench-api-"));
const logFile = join(logDir, "api.log");

function status(port: number, path: string): Promise<number> {
  return new Promise((done) => {
    const req = request({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      res.resume();
      done(res.statusCode ?? 0);
    });
    req.on("error", () => done(0));
    req.end();
  });
}

async function start(side: Side): Promise<Server> {
  const port = await freePort();
  const script =
    side === "api"
      ? join(ROOT, "api", "dist", "server.js")
      : join(ROOT, "bench", "api-baseline.js");
  const log = openSync(logFile, "a");
  const began = performance.now();
  const child = spawn(process.execPath, [script], {
    cwd: side === "api" ? join(ROOT, "api") : ROOT,
    env: {
      PATH: process.env.PATH,
      HOST: "127.0.0.1",
      PORT: String(port),
      LOG_LEVEL: "info",
      SHUTDOWN_DELAY_MS: "0",
    },
    stdio: ["ignore", log, "inherit"],
  });
  closeSync(log);
  const path = side === "api" ? "/readyz" : "/";
  while ((await status(port, path)) !== 200) {
    if (child.exitCode !== null) throw new Error(`${side} exited with ${child.exitCode}`);
    if (performance.now() - began > 10_000) throw new Error(`${side} not ready after 10 s`);
    await new Promise((r) => setTimeout(r, 2));
  }
  return { child, port, readyMs: performance.now() - began };
}

async function stop(server: Server): Promise<void> {
  const exited = new Promise((r) => server.child.once("exit", r));
  server.child.kill("SIGTERM");
  await exited;
}

/** CPU time (user + system) a process has used, in milliseconds; /proc counts 100 ticks a second. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  return kib / 1024;
}

async function load(server: Server, seconds: number): Promise<Run> {
  const cpuBefore = cpuMs(server.child.pid!);
  const result = await autocannon({
    url: `http://127.0.0.1:${server.port}/`,
    connections: CONNECTIONS,
    duration: seconds,
  });
  const cpu = cpuMs(server.child.pid!) - cpuBefore;
  return {
    rps: result.requests.average,
    cpuUs: (cpu * 1000) / Math.max(1, result.requests.total),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

async function main(): Promise<void> {
  const build = spawnSync("npm", ["run", "build", "--workspace", "api"], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "inherit"],
  });
  if (build.status !== 0) throw new Error("npm run build --workspace api failed");

  // Start-to-ready: fresh processes, alternating, each stopped before the next starts.
  const ready: Record<Side, number[]> = { api: [], raw: [] };
  for (let i = 0; i < STARTS; i++) {
    for (const side of ["api", "raw"] as const) {
      const server = await start(side);
      ready[side].push(server.readyMs);
      await stop(server);
    }
  }

  // Load: one long-lived process per side, warmed up, then alternating runs.
  const servers: Record<Side, Server> = { api: await start("api"), raw: await start("raw") };
  for (const side of ["api", "raw"] as const) await load(servers[side], 2);
  const runs: Record<Side, Run[]> = { api: [], raw: [] };
  for (let i = 0; i < RUNS; i++) {
    for (const side of i % 2 === 0 ? (["api", "raw"] as const) : (["raw", "api"] as const)) {
      const run = await load(servers[side], SECONDS);
      runs[side].push(run);
      console.log(
        `run ${i + 1}/${RUNS} ${side.padEnd(3)} ${run.rps.toFixed(0).padStart(7)} req/s  ` +
          `${run.cpuUs.toFixed(1)} µs CPU/req  ` +
          `p50 ${run.p50} ms  p99 ${run.p99} ms  errors ${run.errors}  non-2xx ${run.non2xx}`,
      );
    }
  }
  const rss = { api: rssMiB(servers.api.child.pid!), raw: rssMiB(servers.raw.child.pid!) };
  await stop(servers.api);
  await stop(servers.raw);

  const summary = (side: Side) => ({
    rps: median(runs[side].map((r) => r.rps)),
    cpuUs: median(runs[side].map((r) => r.cpuUs)),
    p50: median(runs[side].map((r) => r.p50)),
    p99: median(runs[side].map((r) => r.p99)),
    readyMs: median(ready[side]),
    rssMiB: rss[side],
    failures: runs[side].reduce((n, r) => n + r.errors + r.non2xx, 0),
  });
  const api = summary("api");
  const raw = summary("raw");
  const ratio = api.rps / raw.rps;
  const logLines = readFileSync(logFile, "utf8")
    .split("\n")
    .filter((l) => l.includes('"request completed"')).length;

  const verdict = (ok: boolean) => (ok ? "meets" : "MISSES");
  console.log("");
  console.log(
    `API vs raw node:http, ${CONNECTIONS} connections, ${RUNS} x ${SECONDS} s runs per side (medians)`,
  );
  console.log(`                 api        raw`);
  console.log(`requests/s  ${api.rps.toFixed(0).padStart(8)}   ${raw.rps.toFixed(0).padStart(8)}`);
  console.log(
    `CPU µs/req  ${api.cpuUs.toFixed(1).padStart(8)}   ${raw.cpuUs.toFixed(1).padStart(8)}`,
  );
  console.log(`p50 ms      ${api.p50.toFixed(1).padStart(8)}   ${raw.p50.toFixed(1).padStart(8)}`);
  console.log(`p99 ms      ${api.p99.toFixed(1).padStart(8)}   ${raw.p99.toFixed(1).padStart(8)}`);
  console.log(
    `ready ms    ${api.readyMs.toFixed(0).padStart(8)}   ${raw.readyMs.toFixed(0).padStart(8)}`,
  );
  console.log(
    `RSS MiB     ${api.rssMiB.toFixed(1).padStart(8)}   ${raw.rssMiB.toFixed(1).padStart(8)}`,
  );
  console.log(
    `failures    ${String(api.failures).padStart(8)}   ${String(raw.failures).padStart(8)}`,
  );
  console.log("");
  console.log(
    `throughput ratio ${ratio.toFixed(3)}x  (target >= ${TARGETS.ratio}x: ${verdict(ratio >= TARGETS.ratio)})`,
  );
  console.log(
    `p99 ${(api.p99 / raw.p99).toFixed(2)}x raw  (target <= ${TARGETS.p99Factor}x: ${verdict(api.p99 <= TARGETS.p99Factor * raw.p99)})`,
  );
  console.log(
    `start to ready ${api.readyMs.toFixed(0)} ms  (target <= ${TARGETS.readyMs} ms: ${verdict(api.readyMs <= TARGETS.readyMs)})`,
  );
  console.log(
    `RSS after load ${api.rssMiB.toFixed(1)} MiB  (target <= ${TARGETS.rssMiB} MiB: ${verdict(api.rssMiB <= TARGETS.rssMiB)})`,
  );
  console.log(
    `access log: ${logLines} lines, ${(statSync(logFile).size / 1e6).toFixed(1)} MB written to ${logFile}`,
  );
  const load1 = readFileSync("/proc/loadavg", "utf8").split(" ")[0];
  console.log(`machine: 1-minute load average ${load1} at the end`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
