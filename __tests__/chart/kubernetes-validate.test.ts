import { beforeAll, describe, expect, it } from "vitest";
import { apiChartDir, helmTemplate, type Manifest } from "../helpers/helm";
import { type ValidationResult, validateManifests } from "../helpers/k8s-validate";
import { ENVIRONMENTS, clusterVersion, fixture, renderEnvironment } from "./environments";

describe("kubernetes-validate --strict at the cluster's version", () => {
  const results = new Map<string, ValidationResult>();
  const rendered = new Map<string, Manifest[]>();

  beforeAll(async () => {
    const version = clusterVersion();
    const options = { namespace: "qa", kubeVersion: version };
    const [dev, prod, full, off] = await Promise.all([
      renderEnvironment("dev"),
      renderEnvironment("prod"),
      helmTemplate(apiChartDir, [fixture("minimal"), fixture("full")], options),
      helmTemplate(apiChartDir, [fixture("minimal"), fixture("off")], options),
    ]);
    rendered.set("dev", dev).set("prod", prod).set("full", full).set("off", off);
    // Broken objects are validated alone: kubernetes-validate's cost is per object.
    const typo = structuredClone(dev.filter((d) => d.kind === "Deployment"));
    const deployment = typo[0] as unknown as {
      spec: { template: { spec: { containers: Record<string, unknown>[] } } };
    };
    deployment.spec.template.spec.containers[0].readinesProbe = { tcpSocket: { port: 8080 } };
    rendered.set("typo", typo);
    rendered.set("unknown kind", [{ ...prod[0], kind: "Widget" }]);
    await Promise.all(
      [...rendered].map(async ([name, docs]) =>
        results.set(name, await validateManifests(docs, version)),
      ),
    );
  });

  it.each([...ENVIRONMENTS, "full", "off"])("accepts every object rendered for %s", (name) => {
    const result = results.get(name);
    expect(result?.errors).toEqual([]);
    expect(result?.ok).toBe(true);
  });

  it("renders the objects each set of values asks for", () => {
    const kinds = (name: string): string[] => (rendered.get(name) ?? []).map((d) => d.kind).sort();
    // The API pods' NetworkPolicy and the helm test pod's.
    const policies = ["NetworkPolicy", "NetworkPolicy"];
    const always = [...policies, "Deployment", "PodDisruptionBudget", "Pod", "Service"];
    // The stacks' values add a namespace-wide default-deny policy beside those.
    for (const env of ENVIRONMENTS) {
      expect(kinds(env)).toEqual(
        [...always, "HorizontalPodAutoscaler", "NetworkPolicy", "ServiceAccount"].sort(),
      );
    }
    expect(kinds("full")).toEqual(
      [...always, "HorizontalPodAutoscaler", "Ingress", "ServiceAccount"].sort(),
    );
    expect(kinds("off")).toEqual(["Deployment", "Service"]);
  });

  it("reports a misspelt field with the object and the path", () => {
    const result = results.get("typo");
    expect(result?.ok).toBe(false);
    expect(result?.errors).toEqual([
      expect.stringMatching(
        /^ERROR - did not validate for resource deployment\/api against version 1\.\d+: spec\.template\.spec\.containers\.0: Additional properties are not allowed \('readinesProbe' was unexpected\)$/,
      ),
    ]);
  });

  it("counts an object without a schema as a failure", () => {
    const result = results.get("unknown kind");
    expect(result?.ok).toBe(false);
    expect(result?.errors.join("\n")).toMatch(/Couldn't find schema for kind Widget/);
  });
});
