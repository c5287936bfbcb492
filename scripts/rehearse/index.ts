/**
 * `npm run rehearse`: deploys `bootstrap` and `shared` for real against a local AWS emulator and
 * checks state, locking, re-plan and destroy (see `rehearsal.ts`). Exits non-zero naming the failing
 * step with the tool's own message; prints the time of each step.
 *
 *   --verbose   stream cdktf's and terraform's output
 *   --keep      keep the working folder (synthesized stacks, plans) and print its path
 */
import { Children, CleanupStack, onSignals } from "./processes";
import { rehearse } from "./rehearsal";
import { StepFailure, Steps } from "./steps";

async function main(argv: string[]): Promise<number> {
  const unknown = argv.filter((a) => a !== "--verbose" && a !== "--keep");
  if (unknown.length > 0) {
    process.stderr.write(
      `rehearse: unknown argument(s) ${unknown.join(" ")}; allowed: --verbose --keep\n`,
    );
    return 2;
  }
  const cleanup = new CleanupStack();
  const children = new Children();
  cleanup.add("child processes", () => children.stopAll());
  onSignals(cleanup, (code) => process.exit(code));

  const log = (line: string) => process.stdout.write(`${line}\n`);
  const steps = new Steps(log);
  let failure: unknown;
  try {
    await rehearse(
      { verbose: argv.includes("--verbose"), keep: argv.includes("--keep"), print: log },
      cleanup,
      children,
      steps,
    );
  } catch (error) {
    failure = error;
  }
  const problems = await cleanup.runAll();
  for (const p of problems) process.stderr.write(`rehearse: clean-up failed: ${p}\n`);

  log(`\nrehearse: ${failure ? "stopped" : "every step passed"}\n${steps.summary()}`);
  if (failure instanceof StepFailure) {
    process.stderr.write(`\nrehearse: FAILED at step "${failure.step}"\n${failure.detail}\n`);
    return 1;
  }
  if (failure) {
    process.stderr.write(
      `\nrehearse: FAILED: ${failure instanceof Error ? (failure.stack ?? failure.message) : String(failure)}\n`,
    );
    return 1;
  }
  return problems.length > 0 ? 1 : 0;
}

void main(process.argv.slice(2)).then((code) => process.exit(code));
