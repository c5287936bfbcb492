/**
 * The API against a raw `node:http` server that returns the same JSON (bench/api-baseline.js), with
 * Fastify plus the API's headers and request id as a third side (bench/api-floor.js).
 *
 *   npx tsx bench/api.ts
 *
 * Builds the API, then runs each server as its own process on 127.0.0.1 and loads `GET /` with
 * autocannon (50 connections). The API runs as in production: the command is the image's `CMD`
 * (api/Dockerfile), JSON access logs are on (written to a file, as a container runtime would
 * collect them) and so are metrics. Sides alternate within each round, in a rotating order.
 * Reports medians: requests/s, server CPU time per request, p50/p99 latency, start-to-ready time
 * and RSS after load; the throughput ratio is the median of each round's ratio, so that a slow
 * spell of the machine weighs on both sides of a ratio alike. Prints numbers; asserts nothing.
 *
 * Load generator and servers share the machine. Where `taskset` exists and there are at least two
 * CPUs, the servers run on the last CPU and the load generator on the first, so that the two
 * never compete for a core; CPU time per request is the server's own cost either way.
 *
 * BENCH_RUNS: rounds (default 7). BENCH_API_SECONDS: seconds per run (default 4).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, statSync } from "node:fs";
import { request } from "node:http";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import autocannon from "autocannon";
import { SECURITY_HEADERS } from "../api/src/app";
import { freePort } from "../scripts/free-port";
import { median } from "./median";

const ROOT = resolve(__dirname, "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const SECONDS = Number(process.env.BENCH_API_SECONDS ?? 4);
const CONNECTIONS = 50;
const STARTS = 5;
const TARGETS = { ratio: 0.9, p99Factor: 2, readyMs: 250, rssMB: 100 };
const SIDES = ["api", "floor", "raw"] as const;

type Side = (typeof SIDES)[number];

interface Server {
  readonly child: ChildProcess;
  readonly port: number;
  /** Milliseconds from spawn until the readiness path first answered 200. */
  readonly readyMs: number;
}

interface Run {
  readonly rps: number;
  /** Server CPU time (user + system, all threads) per answered request, in microseconds. */
  readonly cpuUs: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly non2xx: number;
}

const logDir = mkdtempSync(join(tmpdir(), "bench-api-"));
const logFile = join(logDir, "api.log");

/** The image's `CMD` (exec form), which the API side runs from the api folder. */
function readImageCommand(): string[] {
  const dockerfile = readFileSync(join(ROOT, "api", "Dockerfile"), "utf8");
  const cmd = dockerfile
    .split("\n")
    .filter((l) => l.startsWith("CMD ["))
    .at(-1);
  const argv = cmd ? (JSON.parse(cmd.slice(4)) as string[]) : [];
  if (argv[0] !== "node") throw new Error(`api/Dockerfile: expected CMD ["node", ...], got ${cmd}`);
  return argv.slice(1);
}

const IMAGE_COMMAND = readImageCommand();

/**
 * CPU pinning for the load runs: `taskset` prefixes for the servers, or none. The load generator
 * (this process) is pinned by {@link pinLoadGenerator} only once the start-to-ready measurements
 * are done, since children inherit their parent's CPUs.
 */
const pinning: { server: string[]; label: string } = (() => {
  const cpus = availableParallelism();
  const taskset = spawnSync("taskset", ["-p", String(process.pid)], { stdio: "ignore" });
  if (cpus < 2 || taskset.status !== 0) return { server: [], label: "not pinned" };
  const last = String(cpus - 1);
  return {
    server: ["taskset", "-c", last],
    label: `servers on CPU ${last}, load generator on CPU 0`,
  };
})();

function pinLoadGenerator(): void {
  if (pinning.server.length === 0) return;
  const taskset = spawnSync("taskset", ["-p", "-c", "0", String(process.pid)], { stdio: "ignore" });
  if (taskset.status !== 0) throw new Error("taskset could not pin the load generator to CPU 0");
}

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

/**
 * Starts one side. Pinned servers run on one CPU; start-to-ready is measured unpinned, as a pod
 * starts on a node whose cores it shares (node uses helper threads while it starts).
 */
async function start(side: Side, pinned = true): Promise<Server> {
  const port = await freePort();
  const args = {
    api: IMAGE_COMMAND,
    floor: [join(ROOT, "bench", "api-floor.js")],
    raw: [join(ROOT, "bench", "api-baseline.js")],
  }[side];
  const command = [...(pinned ? pinning.server : []), process.execPath, ...args];
  const log = openSync(side === "api" ? logFile : "/dev/null", "a");
  const began = performance.now();
  const child = spawn(command[0]!, command.slice(1), {
    cwd: side === "api" ? join(ROOT, "api") : ROOT,
    env: {
      PATH: process.env.PATH,
      HOST: "127.0.0.1",
      PORT: String(port),
      LOG_LEVEL: "info",
      SHUTDOWN_DELAY_MS: "0",
      ...(side === "floor" && { SECURITY_HEADERS: JSON.stringify(SECURITY_HEADERS) }),
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

/** The server's process id: taskset execs node in its own process, so the id is node's. */
function pid(server: Server): number {
  return server.child.pid!;
}

/** CPU time (user + system) a process has used, in milliseconds; /proc counts 100 ticks a second. */
function cpuMs(server: Server): number {
  const fields = readFileSync(`/proc/${pid(server)}/stat`, "utf8")
    .split(") ")[1]!
    .split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function rssMiB(server: Server): number {
  const status = readFileSync(`/proc/${pid(server)}/status`, "utf8");
  const kib = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  return kib / 1024;
}

async function load(server: Server, seconds: number): Promise<Run> {
  const cpuBefore = cpuMs(server);
  const result = await autocannon({
    url: `http://127.0.0.1:${server.port}/`,
    connections: CONNECTIONS,
    duration: seconds,
  });
  const cpu = cpuMs(server) - cpuBefore;
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
  const ready: Record<Side, number[]> = { api: [], floor: [], raw: [] };
  for (let i = 0; i < STARTS; i++) {
    for (const side of SIDES) {
      const server = await start(side, false);
      ready[side].push(server.readyMs);
      await stop(server);
    }
  }

  // Load: one long-lived process per side, warmed up, then rounds with the order rotating.
  pinLoadGenerator();
  const servers = {} as Record<Side, Server>;
  for (const side of SIDES) servers[side] = await start(side);
  for (const side of SIDES) await load(servers[side], 2);
  const runs: Record<Side, Run[]> = { api: [], floor: [], raw: [] };
  for (let i = 0; i < RUNS; i++) {
    const order = SIDES.map((_, k) => SIDES[(k + i) % SIDES.length]!);
    for (const side of order) {
      const run = await load(servers[side], SECONDS);
      runs[side].push(run);
      console.log(
        `round ${i + 1}/${RUNS} ${side.padEnd(5)} ${run.rps.toFixed(0).padStart(7)} req/s  ` +
          `${run.cpuUs.toFixed(1)} µs CPU/req  ` +
          `p50 ${run.p50} ms  p99 ${run.p99} ms  errors ${run.errors}  non-2xx ${run.non2xx}`,
      );
    }
  }
  const rss = {} as Record<Side, number>;
  for (const side of SIDES) rss[side] = rssMiB(servers[side]);
  for (const side of SIDES) await stop(servers[side]);

  const summary = (side: Side) => ({
    rps: median(runs[side].map((r) => r.rps)),
    ratio: median(runs[side].map((r, i) => r.rps / runs.raw[i]!.rps)),
    ofFloor: median(runs[side].map((r, i) => r.rps / runs.floor[i]!.rps)),
    cpuUs: median(runs[side].map((r) => r.cpuUs)),
    p50: median(runs[side].map((r) => r.p50)),
    p99: median(runs[side].map((r) => r.p99)),
    readyMs: median(ready[side]),
    rssMiB: rss[side],
    failures: runs[side].reduce((n, r) => n + r.errors + r.non2xx, 0),
  });
  const api = summary("api");
  const floor = summary("floor");
  const raw = summary("raw");
  const logLines = readFileSync(logFile, "utf8")
    .split("\n")
    .filter((l) => l.includes('"request completed"')).length;

  const verdict = (ok: boolean) => (ok ? "meets" : "MISSES");
  const row = (label: string, pick: (s: typeof api) => string) =>
    console.log(
      `${label.padEnd(12)}${pick(api).padStart(9)}${pick(floor).padStart(11)}${pick(raw).padStart(11)}`,
    );
  console.log("");
  console.log(
    `GET / with ${CONNECTIONS} connections, ${RUNS} rounds of ${SECONDS} s per side (medians); ${pinning.label}`,
  );
  console.log(`${"".padEnd(12)}${"api".padStart(9)}${"floor".padStart(11)}${"raw".padStart(11)}`);
  row("requests/s", (s) => s.rps.toFixed(0));
  row("vs raw", (s) => `${s.ratio.toFixed(3)}x`);
  row("CPU µs/req", (s) => s.cpuUs.toFixed(1));
  row("p50 ms", (s) => s.p50.toFixed(1));
  row("p99 ms", (s) => s.p99.toFixed(1));
  row("ready ms", (s) => s.readyMs.toFixed(0));
  row("RSS MiB", (s) => s.rssMiB.toFixed(1));
  row("failures", (s) => String(s.failures));
  console.log("");
  console.log("api: the service as deployed (image CMD), access log and metrics on");
  console.log("floor: Fastify with the API's security headers and request id, nothing else");
  console.log("raw: node:http writing the same JSON body, no framework, headers, logs or metrics");
  console.log("");
  const rssMB = (api.rssMiB * 1024 * 1024) / 1e6;
  console.log(
    `throughput ${api.ratio.toFixed(3)}x raw  (target >= ${TARGETS.ratio}x: ${verdict(api.ratio >= TARGETS.ratio)}); ` +
      `the floor alone is ${floor.ratio.toFixed(3)}x raw, and the api ${api.ofFloor.toFixed(3)}x the floor`,
  );
  console.log(
    `p99 ${(api.p99 / raw.p99).toFixed(2)}x raw  (target <= ${TARGETS.p99Factor}x: ${verdict(api.p99 <= TARGETS.p99Factor * raw.p99)})`,
  );
  console.log(
    `start to ready ${api.readyMs.toFixed(0)} ms  (target <= ${TARGETS.readyMs} ms: ${verdict(api.readyMs <= TARGETS.readyMs)})`,
  );
  console.log(
    `RSS after load ${rssMB.toFixed(1)} MB = ${api.rssMiB.toFixed(1)} MiB  (target <= ${TARGETS.rssMB} MB: ${verdict(rssMB <= TARGETS.rssMB)})`,
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
