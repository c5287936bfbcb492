import { beforeAll, describe, expect, it } from "vitest";
import { apiChartDir, helmTemplate, type Manifest, manifestOf, manifestsOf } from "../helpers/helm";
import { validateManifests } from "../helpers/k8s-validate";
import { configFrom, settingsCopy, synthStacks } from "../helpers/synth";
import {
  clusterVersion,
  ENVIRONMENTS,
  helmReleases,
  MIN_REPLICAS,
  type StackRelease,
} from "./environments";
import { INVARIANT_CHECKS } from "./invariants";
import { kubeScore } from "./kube-score";

/**
 * A customer workspace adds a release per environment with values the committed configuration
 * never produces (a message, a hostname annotation, CIDR-only ingress and a namespace-wide deny).
 * Synthesized once with one customer in both environments; the releases render from this chart
 * (the asset folder of that synth is gone once it returns).
 */
describe("customer releases, as the stacks synthesize them", () => {
  const releases: StackRelease[] = [];
  const rendered = new Map<string, Manifest[]>();
  let version: string;

  beforeAll(async () => {
    const settings = settingsCopy();
    const withCustomer = {
      ...settings,
      customers: [
        {
          id: "acme",
          displayName: "Acme",
          environments: {
            dev: { enabled: true, message: "Hello, Acme", hostname: "acme.dev.example.com" },
            prod: { enabled: true, replicas: 3 },
          },
        },
      ],
    };
    const stacks = synthStacks(configFrom(withCustomer));
    version = clusterVersion(stacks.shared);
    for (const env of ENVIRONMENTS) {
      releases.push(...helmReleases(stacks[env], stacks.shared, apiChartDir));
    }
    const docs = await Promise.all(
      releases.map((r) => helmTemplate(apiChartDir, r.values, r.options)),
    );
    releases.forEach((r, index) => rendered.set(r.options.namespace, docs[index]));
  });

  it("adds one release per environment in the customer's namespace", () => {
    // prod is blue/green: two colour releases in its own namespace; the customer's stays rolling.
    expect(releases.map((r) => `${r.options.namespace}/${r.options.releaseName}`).sort()).toEqual([
      "api-dev-acme/api",
      "api-dev/api",
      "api-prod-acme/api",
      "api-prod/api-blue",
      "api-prod/api-green",
    ]);
  });

  it.each(["api-dev-acme", "api-prod-acme"])(
    "%s: validates at the cluster's version",
    async (ns) => {
      const result = await validateManifests(rendered.get(ns) ?? [], version);
      expect(result.errors).toEqual([]);
    },
  );

  it.each(["api-dev-acme", "api-prod-acme"])("%s: keeps invariants 21-28, 37 and 38", (ns) => {
    const docs = rendered.get(ns) ?? [];
    const env = ns.startsWith("api-prod") ? "prod" : "dev";
    const violations = Object.entries(INVARIANT_CHECKS).flatMap(([n, check]) =>
      check(docs, { minReplicas: MIN_REPLICAS[env] }).map((v) => `${n}: ${v}`),
    );
    expect(violations).toEqual([]);
  });

  it.each(["api-dev-acme", "api-prod-acme"])(
    "%s: kube-score finds no missing ephemeral-storage or network policy",
    async (ns) => {
      expect((await kubeScore(rendered.get(ns) ?? [], version)).findings).toEqual([]);
    },
  );

  it("closes the customer namespace to all but the configured CIDRs and its own test pod", () => {
    const docs = rendered.get("api-dev-acme") ?? [];
    const policies = manifestsOf(docs, "NetworkPolicy") as unknown as {
      metadata: { name: string };
      spec: {
        podSelector: object;
        policyTypes: string[];
        ingress?: { from: Record<string, unknown>[] }[];
        egress?: unknown[];
      };
    }[];
    expect(policies.map((p) => p.metadata.name).sort()).toEqual([
      "api",
      "api-default-deny",
      "api-test",
    ]);
    const deny = policies.find((p) => Object.keys(p.spec.podSelector).length === 0);
    expect(deny?.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
    // The test pod's own policy admits no ingress.
    const test = policies.find((p) => p.metadata.name === "api-test");
    expect(test?.spec.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(test?.spec.ingress).toBeUndefined();
    const api = policies.find((p) => p.metadata.name === "api");
    const sources = api?.spec.ingress?.[0].from ?? [];
    expect(sources.length).toBeGreaterThan(1);
    expect(sources.slice(0, -1).every((peer) => Object.keys(peer).join() === "ipBlock")).toBe(true);
    expect(sources.at(-1)).toEqual({
      podSelector: {
        matchLabels: {
          "app.kubernetes.io/name": "api-test",
          "app.kubernetes.io/instance": "api",
          "app.kubernetes.io/component": "test",
        },
      },
    });
  });

  it("passes the customer's message and hostname", () => {
    const docs = rendered.get("api-dev-acme") ?? [];
    const service = manifestOf(docs, "Service");
    expect(service.metadata.annotations).toMatchObject({
      "external-dns.alpha.kubernetes.io/hostname": "acme.dev.example.com",
    });
    const deployment = manifestOf(docs, "Deployment") as unknown as {
      spec: { template: { spec: { containers: { env: { name: string; value: string }[] }[] } } };
    };
    const message = deployment.spec.template.spec.containers[0].env.find(
      (e) => e.name === "MESSAGE",
    );
    expect(message?.value).toBe("Hello, Acme");
  });
});
