/** Small helpers shared by the stack tests, on top of the test harness's synth helpers. */
import type { Block } from "../helpers/synth";

export { resourceCount } from "../../scripts/synth";
export { dataSources, only, resources, synthesized } from "../helpers/synth";
export { policyDocument, privateSubnets, ref } from "./invariant-checks";

/** The one element cdktf writes for a block as an object or a one-element list. */
export function one<T = Record<string, unknown>>(value: unknown): T {
  return (Array.isArray(value) ? value[0] : value) as T;
}

/** The block whose construct path (`shared/Ci/DeployDev`) ends with `path`. */
export function byPath(blocks: Block[], path: string): Block {
  const found = blocks.filter((b) =>
    String((b["//"] as { metadata?: { path?: string } })?.metadata?.path).endsWith(path),
  );
  if (found.length !== 1) throw new Error(`expected one block at */${path}, found ${found.length}`);
  return found[0];
}
