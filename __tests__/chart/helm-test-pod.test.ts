/**
 * The release workflow runs `helm test --logs`, which reads the test pod's log after it finished:
 * the pod must still exist then. With `hook-succeeded` in its delete policy helm deletes it first,
 * and every successful test fails with "unable to get pod logs" (found by `npm run rehearse`).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { repoRoot } from "../helpers/helm";
import { renderEnvironment } from "./environments";

describe("the helm test pod outlives its success", () => {
  it("is deleted only before the next test, and the release workflow reads its logs", async () => {
    const docs = await renderEnvironment("dev");
    const tests = docs.filter(
      (d) =>
        (d.metadata?.annotations as Record<string, string> | undefined)?.["helm.sh/hook"] ===
        "test",
    );
    expect(tests.length).toBeGreaterThan(0);
    for (const pod of tests) {
      const annotations = pod.metadata!.annotations as Record<string, string>;
      expect(annotations["helm.sh/hook-delete-policy"]).toBe("before-hook-creation");
    }
    const release = parse(
      readFileSync(join(repoRoot, ".github", "workflows", "release.yml"), "utf8"),
    ) as { jobs: Record<string, { steps?: { run?: string }[] }> };
    const runs = Object.values(release.jobs).flatMap((j) =>
      (j.steps ?? []).map((s) => s.run ?? ""),
    );
    expect(runs.some((r) => /helm test .*--logs/.test(r))).toBe(true);
  });
});
