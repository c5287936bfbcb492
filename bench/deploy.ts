/**
 * The deploy benchmark (`npm run bench`, skip with --skip-deploy): the time of the workflow's own
 * `npx cdktf deploy dev`, rolling dev to a new image tag, with the committed settings and with 20
 * customers in dev, printed side by side so that the growth per customer is visible. It runs on the
 * rehearsal's stand-ins (moto, the local control plane; see docs/rehearse.md), set up and torn down
 * by the rehearsal's own code, without its checks and flows.
 *
 * BENCH_RUNS sets the timed deploys per case (default 3).
 */
import { CleanupStack, Children, onSignals } from "../scripts/rehearse/processes";
import { rehearse } from "../scripts/rehearse/rehearsal";
import type { PlatformContext } from "../scripts/rehearse/platform";
import { formatDuration, Steps } from "../scripts/rehearse/steps";
import { median } from "./median";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** How many customers the second case adds to dev. */
const CUSTOMERS = 20;

/** Settings statements adding the customers, one replica each (two kwok dev nodes hold them). */
function customersStatement(count: number): string {
  const list = Array.from({ length: count }, (_, i) => {
    const id = `bench-${String(i + 1).padStart(2, "0")}`;
    return `{ id: "${id}", displayName: "Bench ${i + 1}", environments: { dev: { enabled: true, replicas: 1, autoscaling: { minReplicas: 1, maxReplicas: 1 } } } }`;
  });
  return `settings.customers = [${list.join(", ")}];`;
}

/** A 40-hex stand-in commit for run `n` of a case, so that each deploy rolls a new tag. */
function commit(caseIndex: number, n: number): string {
  return `${caseIndex}${String(n).padStart(3, "0")}`.padEnd(40, "a");
}

async function timedDeploys(ctx: PlatformContext, caseIndex: number): Promise<number[]> {
  const seconds: number[] = [];
  // The first deploy creates what the case needs; it is not timed.
  for (let n = 0; n <= RUNS; n++) {
    const sha = commit(caseIndex, n);
    const start = performance.now();
    const result = await ctx.commands.deploy("dev", { IMAGE_TAG_DEV: `sha-${sha}`, GIT_SHA: sha });
    const elapsed = (performance.now() - start) / 1000;
    if (!result.ok)
      throw new Error(`cdktf deploy dev failed:\n${result.log.split("\n").slice(-15).join("\n")}`);
    if (n > 0) seconds.push(elapsed);
    ctx.print(
      `  ${n === 0 ? "set-up" : `run ${n}`}: ${elapsed.toFixed(1)} s (${result.summary ?? ""})`,
    );
  }
  return seconds;
}

async function deployBench(ctx: PlatformContext): Promise<void> {
  const bare = await ctx.steps.run("cdktf deploy dev, committed settings (no customers)", () =>
    timedDeploys(ctx, 1),
  );
  ctx.ws.editSettings(customersStatement(CUSTOMERS));
  const many = await ctx.steps.run(`cdktf deploy dev, ${CUSTOMERS} customers`, () =>
    timedDeploys(ctx, 2),
  );
  ctx.ws.restore();
  const a = median(bare);
  const b = median(many);
  ctx.print("");
  ctx.print(`deploy dev (median of ${RUNS}, a new image tag each run):`);
  ctx.print(`  no customers        ${a.toFixed(1)} s`);
  ctx.print(
    `  ${CUSTOMERS} customers        ${b.toFixed(1)} s   ${(b / a).toFixed(2)}x, ${((b - a) / CUSTOMERS).toFixed(2)} s per customer`,
  );
}

async function main(): Promise<number> {
  const cleanup = new CleanupStack();
  const children = new Children();
  cleanup.add("child processes", () => children.stopAll());
  onSignals(cleanup, (code) => process.exit(code));
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const steps = new Steps(log);
  let failed = false;
  try {
    await rehearse(
      { verbose: false, keep: false, print: log, platform: deployBench },
      cleanup,
      children,
      steps,
    );
  } catch (error) {
    failed = true;
    process.stderr.write(
      `bench deploy: ${error instanceof Error ? error.message : String(error)}\n`,
    );
  }
  await cleanup.runAll();
  const total = steps.records.reduce((sum, r) => sum + r.ms, 0);
  log(`bench deploy: ${failed ? "failed" : "done"} in ${formatDuration(total)}`);
  return failed ? 1 : 0;
}

void main().then((code) => process.exit(code));
