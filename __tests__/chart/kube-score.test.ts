import { beforeAll, describe, expect, it } from "vitest";
import { apiChartDir, helmTemplate, type Manifest } from "../helpers/helm";
import { clusterVersion, ENVIRONMENTS, fixture, renderEnvironment } from "./environments";
import { type KubeScoreResult, kubeScore } from "./kube-score";

/**
 * kube-score's view of docs/invariants.md 37 and 38; `__tests__/chart/invariants.ts` checks more.
 */
describe("kube-score: ephemeral-storage and network policies", () => {
  const results = new Map<string, KubeScoreResult>();

  beforeAll(async () => {
    const version = clusterVersion();
    const [dev, prod, full] = await Promise.all([
      renderEnvironment("dev"),
      renderEnvironment("prod"),
      helmTemplate(apiChartDir, [fixture("minimal"), fixture("full")], {
        namespace: "qa",
        releaseName: "api",
        kubeVersion: version,
      }),
    ]);
    const inputs: Record<string, Manifest[]> = { dev, prod, full };
    // A copy of dev without ephemeral-storage on the API and without any egress policy.
    const weakened = structuredClone(dev);
    for (const doc of weakened) {
      const spec = doc.spec as Record<string, unknown>;
      if (doc.kind === "NetworkPolicy") {
        spec.policyTypes = ["Ingress"];
        delete spec.egress;
      }
      if (doc.kind === "Deployment") {
        const { containers } = (
          spec.template as { spec: { containers: Record<string, unknown>[] } }
        ).spec;
        const resources = containers[0].resources as Record<string, Record<string, unknown>>;
        delete resources.requests["ephemeral-storage"];
        delete resources.limits["ephemeral-storage"];
      }
    }
    inputs.weakened = weakened;
    await Promise.all(
      Object.entries(inputs).map(async ([name, docs]) =>
        results.set(name, await kubeScore(docs, version)),
      ),
    );
  });

  it.each([...ENVIRONMENTS, "full"])("%s: finds nothing", (name) => {
    const result = results.get(name);
    expect(result?.findings).toEqual([]);
    // The checks ran: on the API pods, the helm test pod and every NetworkPolicy.
    const ran = (result?.passed ?? []).map((p) => p.replace(/^(\w+)\/.*\/([^/ ]+) /, "$1/$2 "));
    expect(ran).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Deployment\/api\S* container-ephemeral-storage-request-and-limit$/),
        expect.stringMatching(/^Deployment\/api\S* pod-networkpolicy$/),
        expect.stringMatching(
          /^Pod\/api\S*-test-readyz container-ephemeral-storage-request-and-limit$/,
        ),
        expect.stringMatching(/^Pod\/api\S*-test-readyz pod-networkpolicy$/),
        expect.stringMatching(/^NetworkPolicy\/api\S* networkpolicy-targets-pod$/),
      ]),
    );
  });

  it("reports missing ephemeral-storage and a pod without an egress policy", () => {
    const findings = results.get("weakened")?.findings ?? [];
    expect(findings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^Deployment\/.* container-ephemeral-storage-request-and-limit: Ephemeral Storage limit is not set$/,
        ),
        expect.stringMatching(
          /^Deployment\/.* container-ephemeral-storage-request-and-limit: Ephemeral Storage request is not set$/,
        ),
        expect.stringMatching(
          /^Deployment\/.* pod-networkpolicy: The pod does not have a matching egress NetworkPolicy$/,
        ),
        expect.stringMatching(
          /^Pod\/.* pod-networkpolicy: The pod does not have a matching egress NetworkPolicy$/,
        ),
      ]),
    );
  });
});
