import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CheckovFinding,
  checkov,
  readSkipFile,
  type SkipFile,
  unaccepted,
} from "../helpers/checkov";
import { apiChartDir, helmTemplate, type Manifest, repoRoot, toYamlStream } from "../helpers/helm";
import { ENVIRONMENTS, fixture, renderEnvironment } from "./environments";

const skipFile = path.join(repoRoot, "policy", "checkov-kubernetes.yaml");

describe("checkov --framework kubernetes on the rendered manifests", () => {
  let dir: string;
  let findings: CheckovFinding[];
  let skips: SkipFile;
  const inputOf = (f: CheckovFinding): string => path.basename(f.file, ".yaml");
  const unexpected = (input: string): string[] =>
    unaccepted(
      findings.filter((f) => inputOf(f) === input),
      skips,
    ).map((f) => `${f.id} "${f.name}" on ${f.resource}`);

  beforeAll(async () => {
    skips = readSkipFile(skipFile);
    const [dev, prod, full] = await Promise.all([
      renderEnvironment("dev"),
      renderEnvironment("prod"),
      helmTemplate(apiChartDir, [fixture("minimal"), fixture("full")], { namespace: "qa" }),
    ]);
    const inputs: Record<string, Manifest[]> = { dev, prod, full };
    // A copy of prod with its hardening undone: checkov must catch it, exceptions or not.
    const weakened = structuredClone(inputs.prod);
    const deployment = weakened.find((d) => d.kind === "Deployment") as unknown as {
      spec: { template: { spec: { containers: { securityContext: Record<string, unknown> }[] } } };
    };
    const context = deployment.spec.template.spec.containers[0].securityContext;
    context.allowPrivilegeEscalation = true;
    context.readOnlyRootFilesystem = false;
    inputs.weakened = weakened;
    dir = await mkdtemp(path.join(tmpdir(), "checkov-chart-"));
    for (const [name, docs] of Object.entries(inputs)) {
      await writeFile(path.join(dir, `${name}.yaml`), toYamlStream(docs));
    }
    findings = await checkov(dir, "kubernetes");
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.each([...ENVIRONMENTS, "full"])("finds no failure outside the exceptions in %s", (input) => {
    expect(unexpected(input)).toEqual([]);
  });

  it("fails on a weakened Deployment despite the exceptions", () => {
    const failures = unexpected("weakened");
    expect(failures).toContainEqual(expect.stringMatching(/^CKV_K8S_20 .* on Deployment\./));
    expect(failures).toContainEqual(expect.stringMatching(/^CKV_K8S_22 .* on Deployment\./));
  });

  it("keeps no stale exception: each one still matches a failure", () => {
    const used = skips.skips.filter(
      (skip) => unaccepted(findings, { skips: [skip] }).length < findings.length,
    );
    expect(used.map((s) => s.id)).toEqual(skips.skips.map((s) => s.id));
  });

  it("scopes the probe exceptions to the helm test pod", () => {
    const scoped = skips.skips.filter((s) => s.resources !== undefined);
    expect(scoped.map((s) => s.id).sort()).toEqual(["CKV_K8S_8", "CKV_K8S_9"]);
    const covered = findings.filter((f) => unaccepted([f], { skips: scoped }).length === 0);
    expect(covered.length).toBeGreaterThan(0);
    expect(covered.filter((f) => !f.resource.startsWith("Pod."))).toEqual([]);
  });
});
