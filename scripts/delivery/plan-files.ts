/**
 * Reads the folder written by `plan-stacks.sh`: `<stack>.json` (`terraform show -json`) for a stack
 * that planned, `<stack>.error.log` for one that failed. A plan file that cannot be read is
 * reported as that stack's failure, so the other stacks are still reported.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { DeliveryError } from "./errors";
import { parsePlanText, type StackReport } from "./plan-report";

/** Stacks in the order a reviewer reads them; others follow alphabetically. */
export const STACK_ORDER = ["shared", "dev", "prod"] as const;

function rank(stack: string): number {
  const index = (STACK_ORDER as readonly string[]).indexOf(stack);
  return index === -1 ? STACK_ORDER.length : index;
}

export function readPlanDirectory(dir: string): StackReport[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new DeliveryError(
      `plan folder ${JSON.stringify(dir)} does not exist: run npm run plan:stacks first.`,
    );
  }
  const stacks = new Map<string, StackReport>();
  for (const name of readdirSync(dir)) {
    const failed = /^([a-z0-9_-]+)\.error\.log$/.exec(name);
    const planned = /^([a-z0-9_-]+)\.json$/.exec(name);
    if (failed) {
      stacks.set(failed[1]!, {
        stack: failed[1]!,
        status: "failed",
        error: readFileSync(join(dir, name), "utf8") || "(the plan failed without output)",
      });
    } else if (planned && !stacks.has(planned[1]!)) {
      const stack = planned[1]!;
      try {
        stacks.set(stack, parsePlanText(stack, readFileSync(join(dir, name), "utf8")));
      } catch (error) {
        if (!(error instanceof DeliveryError)) throw error;
        stacks.set(stack, { stack, status: "failed", error: error.message });
      }
    }
  }
  if (stacks.size === 0) {
    throw new DeliveryError(
      `plan folder ${JSON.stringify(dir)} holds no <stack>.json or <stack>.error.log.`,
    );
  }
  return [...stacks.values()].sort(
    (a, b) => rank(a.stack) - rank(b.stack) || a.stack.localeCompare(b.stack),
  );
}
