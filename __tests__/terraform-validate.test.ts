/**
 * `terraform validate` on every synthesized stack with the real provider binaries. Stacks whose providers
 * cannot be installed here are skipped with the reason printed (the one allowed conditional skip);
 * VALIDATE_ALL_STACKS=1 turns that into a failure.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  describe as describeResult,
  requiredProviders,
  unavailableProviders,
  validateAllRequired,
  validateStacks,
  type ValidateResult,
} from "../scripts/terraform-validate";
import { STACK_NAMES, type StackName } from "../stacks/app";
import { stackDir, synthesized } from "./helpers/synth";

const results = new Map<StackName, ValidateResult>();

beforeAll(async () => {
  const all = await validateStacks(STACK_NAMES.map((name) => ({ dir: stackDir(name), name })));
  all.forEach((r) => {
    results.set(r.stack as StackName, r);
    console.log(`terraform validate: ${describeResult(r)}`);
  });
}, 300_000);

describe("terraform validate", () => {
  it.each(["bootstrap", "shared"] as const)("%s is valid with the real aws provider", (stack) => {
    const r = results.get(stack)!;
    expect(describeResult(r)).toMatch(/: valid/);
    expect(requiredProviders(synthesized(stack))).toEqual(["hashicorp/aws@5.100.0"]);
  });

  it.for(["dev", "prod"] as const)(
    "%s is valid where the helm and kubernetes providers exist",
    (stack, ctx) => {
      const r = results.get(stack)!;
      if (r.status === "unavailable" && !validateAllRequired()) {
        ctx.skip(describeResult(r));
      }
      expect(describeResult(r)).toMatch(/: valid/);
    },
  );

  it("names the providers terraform could not install", () => {
    const output = `Error: Failed to query available provider packages

Could not retrieve the list of available versions for provider
hashicorp/helm: could not connect to registry.terraform.io

Error: Failed to query available provider packages

Could not retrieve the list of available versions for provider
hashicorp/kubernetes: could not connect to registry.terraform.io`;
    expect(unavailableProviders(output)).toEqual(["hashicorp/helm", "hashicorp/kubernetes"]);
    expect(unavailableProviders("Terraform has been successfully initialized!")).toEqual([]);
  });
});
