import { describe, expect, it } from "vitest";
import { type Manifest, toYamlStream } from "../helpers/helm";
import { ENVIRONMENTS, renderEnvironment } from "./environments";

/** Replaces values that change with every commit, so the snapshot moves only with the chart. */
function stable(docs: readonly Manifest[]): string {
  return toYamlStream(docs)
    .replace(/\b(sha-)[0-9a-f]{40}\b/g, "$1<commit>")
    .replace(/(name: GIT_SHA\n\s+value: )"?[0-9a-f]{7,40}"?/g, "$1<commit>");
}

describe("rendered manifests (tripwire: review the diff, then update with -u)", () => {
  it.each(ENVIRONMENTS)("%s", async (env) => {
    expect(stable(await renderEnvironment(env))).toMatchSnapshot();
  });
});
