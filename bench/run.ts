/**
 * `npm run bench`: prints numbers, asserts nothing. Each measurement runs side by side with its
 * baseline, alternating, and reports medians and their ratio.
 *
 * - synth: `npx cdktf synth` of every stack against a one-resource cdktf app (the floor): wall time and
 *   peak memory (largest process, from GNU time), target <= 1.5x the floor and <= 400 MiB; once with
 *   the committed configuration and once with 20 customers (bench/customers).
 * - npm test: wall time of the README's test command, target <= 60 s on two cores
 *   (skip with --skip-npm-test).
 * - api: the API against a raw node:http server (bench/api.ts).
 * - deploy: `cdktf deploy dev` with no customers and with 20, on the rehearsal's stand-ins
 *   (bench/deploy.ts; skip with --skip-deploy).
 *
 * BENCH_RUNS sets the runs per side (default 5).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { median } from "./median";

const ROOT = resolve(__dirname, "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const args = new Set(process.argv.slice(2));

interface Sample {
  seconds: number;
  peakMiB: number;
}

/** Runs a command under GNU time and returns wall seconds and the peak RSS of its largest process. */
function timed(command: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Sample {
  const result = spawnSync("/usr/bin/time", ["-f", "BENCH %e %M", ...command], {
    cwd,
    env,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = result.stderr.split("\n").find((l) => l.startsWith("BENCH "));
  if (result.status !== 0 || !line) {
    throw new Error(`${command.join(" ")} failed in ${cwd}:\n${result.stdout}\n${result.stderr}`);
  }
  const [, seconds, kib] = line.split(" ");
  return { seconds: Number(seconds), peakMiB: Number(kib) / 1024 };
}

/** Synthesizes the app in `appDir` alternately with the floor app and prints medians and ratios. */
function synthBench(label: string, appDir: string): void {
  const out = mkdtempSync(join(tmpdir(), "bench-synth-"));
  const app: Sample[] = [];
  const floor: Sample[] = [];
  const synth = (cwd: string) => timed(["npx", "cdktf", "synth", "--output", out], cwd);
  try {
    // One warm-up each so that the first measured run does not pay for cold caches.
    synth(appDir);
    synth(join(ROOT, "bench", "floor"));
    for (let i = 0; i < RUNS; i++) {
      app.push(synth(appDir));
      floor.push(synth(join(ROOT, "bench", "floor")));
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  const appTime = median(app.map((s) => s.seconds));
  const floorTime = median(floor.map((s) => s.seconds));
  const appPeak = median(app.map((s) => s.peakMiB));
  const floorPeak = median(floor.map((s) => s.peakMiB));
  const ratio = appTime / floorTime;
  console.log(`synth (${label}), ${RUNS} alternating runs each, medians:`);
  console.log(`  all stacks  ${appTime.toFixed(2)} s   peak ${appPeak.toFixed(0)} MiB`);
  console.log(`  floor       ${floorTime.toFixed(2)} s   peak ${floorPeak.toFixed(0)} MiB`);
  console.log(
    `  ratio       ${ratio.toFixed(2)}x (target <= 1.5x: ${ratio <= 1.5 ? "met" : "MISSED"}); peak ${appPeak <= 400 ? "within" : "OVER"} 400 MiB`,
  );
}

function npmTestBench(): void {
  const sample = timed(["npm", "test", "--silent"], ROOT);
  console.log(
    `npm test: ${sample.seconds.toFixed(1)} s wall (target <= 60 s: ${sample.seconds <= 60 ? "met" : "MISSED"}), peak ${sample.peakMiB.toFixed(0)} MiB`,
  );
}

synthBench("committed configuration", ROOT);
synthBench("20 customers in dev and prod", join(ROOT, "bench", "customers"));
if (!args.has("--skip-npm-test")) npmTestBench();
if (!args.has("--skip-api") && existsSync(join(ROOT, "bench", "api.ts"))) {
  const api = spawnSync("npx", ["tsx", join(ROOT, "bench", "api.ts")], {
    cwd: ROOT,
    stdio: "inherit",
  });
  if (api.status !== 0) process.exit(api.status ?? 1);
}
if (!args.has("--skip-deploy")) {
  // Needs `npm run tools -- --rehearsal` (the rehearsal's stand-ins); several minutes.
  const deploy = spawnSync("npx", ["tsx", join(ROOT, "bench", "deploy.ts")], {
    cwd: ROOT,
    stdio: "inherit",
  });
  if (deploy.status !== 0) process.exit(deploy.status ?? 1);
}
