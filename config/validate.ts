/**
 * Runs the settings' schema (`schema.ts`) and turns its issues into {@link ConfigIssue}s: the field
 * as a dotted path (`environments.prod.nodeGroup.minSize`, `shared.publicEndpointCidrs[1]`,
 * `customers[acme].environments.dev.replicas`), the value as given, and what is allowed.
 */
import type { z } from "zod";
import { customerLabels } from "./customers";
import type { ConfigIssue, Issues } from "./rules";
import { colourSchema, imageTagSchema, mutableTagProblem, platformSettingsSchema } from "./schema";

/** The dotted name of the field at `path`; customers are named by id (see `customerLabels`). */
function fieldName(path: readonly PropertyKey[], customers: readonly string[]): string {
  return path
    .map((key, i) => {
      if (i === 1 && path[0] === "customers" && typeof key === "number") {
        return customers[key]?.slice("customers".length) ?? `[${key}]`;
      }
      return typeof key === "number" ? `[${key}]` : `${i === 0 ? "" : "."}${String(key)}`;
    })
    .join("");
}

/** The issues of a parse, one per field and problem (an unknown key each on its own line). */
function toConfigIssues(issues: readonly z.core.$ZodIssue[], customers: readonly string[]) {
  const found: ConfigIssue[] = [];
  const add = (path: readonly PropertyKey[], value: unknown, allowed: string) => {
    const field = fieldName(path, customers);
    if (!found.some((i) => i.field === field && i.allowed === allowed)) {
      found.push({ field, value, allowed });
    }
  };
  for (const issue of issues) {
    const input = (issue as { input?: unknown }).input;
    if (issue.code === "unrecognized_keys") {
      const object = input as Record<string, unknown>;
      for (const key of issue.keys) add([...issue.path, key], object[key], issue.message);
    } else {
      add(issue.path, input, issue.message);
    }
  }
  return found;
}

/** Validates the committed settings; every problem is added to `issues`. */
export function validateSettings(settings: unknown, issues: Issues): void {
  const result = platformSettingsSchema.safeParse(settings, { reportInput: true });
  if (result.success) return;
  const labels = customerLabels((settings as { customers?: unknown } | undefined)?.customers);
  for (const issue of toConfigIssues(result.error.issues, labels)) {
    issues.check(false, issue.field, issue.value, issue.allowed);
  }
}

/** Validates an image tag from config or the environment; `field` names where it came from. */
export function validateImageTag(
  tag: unknown,
  field: string,
  mutableTags: readonly string[],
  issues: Issues,
): void {
  const parsed = imageTagSchema.safeParse(tag);
  if (!parsed.success) {
    issues.check(false, field, tag, parsed.error.issues[0].message);
    return;
  }
  const problem = mutableTagProblem(parsed.data, mutableTags);
  issues.check(problem === undefined, field, tag, problem ?? "");
}

/** Validates an active colour from the environment; `field` names where it came from. */
export function validateColour(colour: unknown, field: string, issues: Issues): boolean {
  const parsed = colourSchema.safeParse(colour);
  return issues.check(parsed.success, field, colour, parsed.error?.issues[0].message ?? "");
}
