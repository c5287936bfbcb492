import { beforeAll, describe, expect, it } from "vitest";
import { apiChartDir, helmTemplate, type Manifest } from "../helpers/helm";
import {
  type CheckovException,
  type CheckovReport,
  checkovKubernetes,
  isExcepted,
  kubernetesExceptions,
  unexpectedFailures,
} from "./checkov";
import { ENVIRONMENTS, fixture, renderEnvironment } from "./environments";

describe("checkov --framework kubernetes on the rendered manifests", () => {
  let report: CheckovReport;
  let exceptions: CheckovException[];

  beforeAll(async () => {
    exceptions = await kubernetesExceptions();
    const inputs: Record<string, Manifest[]> = {};
    for (const env of ENVIRONMENTS) inputs[env] = await renderEnvironment(env);
    inputs.full = await helmTemplate(apiChartDir, [fixture("minimal"), fixture("full")], {
      namespace: "qa",
    });
    // A copy of prod with its hardening undone: checkov must catch it, exceptions or not.
    const weakened = structuredClone(inputs.prod);
    const deployment = weakened.find((d) => d.kind === "Deployment") as unknown as {
      spec: { template: { spec: { containers: { securityContext: Record<string, unknown> }[] } } };
    };
    const context = deployment.spec.template.spec.containers[0].securityContext;
    context.allowPrivilegeEscalation = true;
    context.readOnlyRootFilesystem = false;
    inputs.weakened = weakened;
    report = await checkovKubernetes(inputs);
  });

  it("ran the checks", () => {
    expect(report.passed).toBeGreaterThan(100);
  });

  it.each([...ENVIRONMENTS, "full"])("finds no failure outside the exceptions in %s", (input) => {
    expect(unexpectedFailures(report, exceptions, input)).toEqual([]);
  });

  it("fails on a weakened Deployment despite the exceptions", () => {
    const failures = unexpectedFailures(report, exceptions, "weakened");
    expect(failures).toContainEqual(
      expect.stringMatching(/^weakened: CKV_K8S_20 .* on Deployment\./),
    );
    expect(failures).toContainEqual(
      expect.stringMatching(/^weakened: CKV_K8S_22 .* on Deployment\./),
    );
  });

  it("keeps no stale exception: each one still matches a failure", () => {
    const used = exceptions.filter((e) =>
      report.failed.some((f) => f.checkId === e.id && isExcepted(f, [e])),
    );
    expect(used.map((e) => e.id)).toEqual(exceptions.map((e) => e.id));
  });

  it("holds probe and NetworkPolicy checks on the Deployment (exceptions cover the test pod only)", () => {
    const scoped = exceptions.filter((e) => e.kinds !== undefined);
    expect(scoped.map((e) => e.id).sort()).toEqual(["CKV2_K8S_6", "CKV_K8S_8", "CKV_K8S_9"]);
    const onDeployment = report.failed.filter(
      (f) => scoped.some((e) => e.id === f.checkId) && f.resource.startsWith("Deployment."),
    );
    expect(onDeployment).toEqual([]);
  });
});
