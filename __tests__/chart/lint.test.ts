import { beforeAll, describe, expect, it } from "vitest";
import { apiChartDir, helmLint, type LintResult, tryHelmTemplate } from "../helpers/helm";
import { ENVIRONMENTS, fixture, stackRelease } from "./environments";

describe("helm lint --strict", () => {
  const results = new Map<string, LintResult>();

  beforeAll(async () => {
    const runs: [string, Promise<LintResult>][] = [
      ["defaults", helmLint(apiChartDir)],
      ["minimal", helmLint(apiChartDir, fixture("minimal"))],
      ["full", helmLint(apiChartDir, [fixture("minimal"), fixture("full")])],
      ["off", helmLint(apiChartDir, [fixture("minimal"), fixture("off")])],
      ...ENVIRONMENTS.map((env): [string, Promise<LintResult>] => {
        const release = stackRelease(env);
        return [env, helmLint(release.chartDir, release.values, release.options)];
      }),
      ["broken", helmLint(apiChartDir, { image: { tag: "sha-1" }, replicas: 2 })],
    ];
    for (const [name, run] of runs) results.set(name, await run);
  });

  it.each(["defaults", "minimal", "full", "off", ...ENVIRONMENTS])(
    "passes with the %s values",
    (name) => {
      const result = results.get(name);
      expect(result?.output).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
      expect(result?.ok, result?.output).toBe(true);
    },
  );

  it("fails on values the schema refuses", () => {
    const result = results.get("broken");
    expect(result?.ok).toBe(false);
    expect(result?.output).toMatch(/additional properties 'replicas' not allowed/);
  });

  it("explains, with the defaults alone, which values an install must set", async () => {
    const render = await tryHelmTemplate(apiChartDir);
    expect(render.ok).toBe(false);
    if (render.ok) return;
    expect(render.error).toMatch(/image\.repository is required/);
    expect(render.error).toMatch(/image\.tag is required: an immutable tag such as sha-<commit>/);
  });
});
