/**
 * Customer workspaces in the dev and prod stacks: two customers next to the environment's own
 * release, each in its own namespace with its own quota and release; overrides stay with their
 * customer; the rendered NetworkPolicies keep every other namespace out; adding a customer adds
 * only its own resources.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { App, TerraformStack } from "cdktf";
import { beforeAll, describe, expect, it } from "vitest";
import type { CustomerConfig, EnvironmentName, PlatformSettings } from "../../config";
import { ApiRelease } from "../../constructs/api-release";
import { subnetLayout } from "../../constructs/network";
import { customerOf } from "../../scripts/delivery/plan-report";
import {
  clusterVersion,
  helmReleases,
  resolveNamespace,
  type StackRelease,
} from "../chart/environments";
import { checkNetworkPolicy } from "../chart/invariants";
import { invariants } from "../stacks/invariant-checks";
import { checkov, readSkipFile, unaccepted } from "../helpers/checkov";
import { apiChartDir, helmTemplate, type Manifest, repoRoot, toYamlStream } from "../helpers/helm";
import { validateManifests } from "../helpers/k8s-validate";
import {
  type Block,
  configFrom,
  only,
  resources,
  settingsCopy,
  type StackJson,
  synthesized,
  synthStacks,
} from "../helpers/synth";
import { isolationViolations, type NamespaceInfo } from "./isolation";
import { WORKLOAD_ENV_LABEL } from "../../config/names";

const ACME: CustomerConfig = {
  id: "acme",
  displayName: "Acme Corp",
  environments: {
    dev: {
      enabled: true,
      replicas: 3,
      message: "Hello, Acme",
      hostname: "acme.dev.api.example.com",
    },
    prod: { enabled: true, resources: { limits: { memory: "1Gi" } } },
  },
};
const GLOBEX: CustomerConfig = {
  id: "globex",
  displayName: "Globex",
  environments: {
    dev: { enabled: true, autoscaling: { maxReplicas: 3 } },
    prod: { enabled: false },
  },
};
const INITECH: CustomerConfig = {
  id: "initech",
  displayName: "Initech",
  environments: { dev: { enabled: true }, prod: { enabled: true } },
};

function withCustomers(customers: CustomerConfig[]): PlatformSettings {
  return { ...settingsCopy(), customers };
}

type Stacks = ReturnType<typeof synthStacks>;
let two: Stacks;
let three: Stacks;

beforeAll(() => {
  two = synthStacks(configFrom(withCustomers([ACME, GLOBEX])));
  // Added first, so ids derived from a position rather than the customer would show.
  three = synthStacks(configFrom(withCustomers([INITECH, ACME, GLOBEX])));
});

interface Release extends Block {
  name: string;
  namespace: string;
  chart: string;
  values: string[];
}

/** The helm_release installed into `namespace`, as the stack passes it (references resolved). */
function releaseIn(stacks: Stacks, env: EnvironmentName, namespace: string): StackRelease {
  const found = helmReleases(stacks[env], stacks.shared, "").filter(
    (r) => r.options.namespace === namespace,
  );
  if (found.length !== 1) {
    throw new Error(`expected one helm_release in ${namespace}, found ${found.length}`);
  }
  return found[0];
}

function quotaIn(stack: StackJson, namespace: string): Record<string, string> {
  const quota = only(
    stack,
    "kubernetes_resource_quota_v1",
    (b) => resolveNamespace(stack, (b.metadata as { namespace: string }).namespace) === namespace,
  ) as unknown as { spec: { hard: Record<string, string> } };
  return quota.spec.hard;
}

describe("two customers next to the environment's own release", () => {
  it("each has its own namespace, release and quota, labelled like the environment's", () => {
    const dev = two.dev;
    const namespaces = resources(dev, "kubernetes_namespace_v1") as unknown as {
      metadata: { name: string; labels: Record<string, string> };
    }[];
    expect(namespaces.map((n) => n.metadata.name).sort()).toEqual([
      "api-dev",
      "api-dev-acme",
      "api-dev-globex",
    ]);
    const labels = (name: string) => namespaces.find((n) => n.metadata.name === name)!.metadata;
    expect(labels("api-dev-acme").labels).toEqual(labels("api-dev").labels);
    expect(labels("api-dev-acme").labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");

    const releases = resources(dev, "helm_release") as Release[];
    expect(releases.map((r) => resolveNamespace(dev, r.namespace)).sort()).toEqual([
      "api-dev",
      "api-dev-acme",
      "api-dev-globex",
    ]);
    expect(new Set(releases.map((r) => r.address)).size).toBe(3);
    // The same chart asset and the same image tag as the environment.
    expect(new Set(releases.map((r) => r.chart)).size).toBe(1);
    const tags = helmReleases(dev, two.shared, "").map(
      (r) => (r.values.image as { tag: string }).tag,
    );
    expect(new Set(tags)).toEqual(new Set([configFrom().environments.dev.api.imageTag]));

    // Quotas sized from each one's settings: acme runs 3 replicas under the same autoscaler
    // (max 4), globex's autoscaler stops at 3.
    expect(quotaIn(dev, "api-dev-acme")).toEqual(quotaIn(dev, "api-dev"));
    expect(quotaIn(dev, "api-dev-globex").pods).toBe("8");
    expect(quotaIn(dev, "api-dev").pods).toBe("10");
    expect(quotaIn(two.prod, "api-prod-acme")["limits.memory"]).toBe(`${22 * 1024}Mi`);
    expect(quotaIn(two.prod, "api-prod")["limits.memory"]).toBe(`${22 * 512}Mi`);
  });

  it("enables a customer only where its config says so", () => {
    const names = (stack: StackJson) =>
      (resources(stack, "kubernetes_namespace_v1") as unknown as { metadata: { name: string } }[])
        .map((n) => n.metadata.name)
        .sort();
    expect(names(two.prod)).toEqual(["api-prod", "api-prod-acme"]);
  });

  it("puts each override in its own customer's release only", () => {
    const acme = releaseIn(two, "dev", "api-dev-acme").values;
    const globex = releaseIn(two, "dev", "api-dev-globex").values;
    const base = releaseIn(two, "dev", "api-dev").values;
    expect(acme.replicaCount).toBe(3);
    expect((acme.app as { message: string }).message).toBe("Hello, Acme");
    expect((acme.service as { annotations: Record<string, string> }).annotations).toEqual({
      "external-dns.alpha.kubernetes.io/hostname": "acme.dev.api.example.com",
    });
    expect(globex.replicaCount).toBe(2);
    expect(globex.app).not.toHaveProperty("message");
    expect(globex.service).not.toHaveProperty("annotations");
    expect((globex.autoscaling as { maxReplicas: number }).maxReplicas).toBe(3);
    expect((acme.autoscaling as { maxReplicas: number }).maxReplicas).toBe(4);
    // The environment's own release is exactly what it is without customers.
    const committed = only(synthesized("dev"), "helm_release") as Release;
    expect([releaseIn(two, "dev", "api-dev").rawValues]).toEqual(committed.values);
    expect(base.networkPolicy).toEqual(acme.networkPolicy);
    // prod's override stays in prod.
    const prodAcme = releaseIn(two, "prod", "api-prod-acme").values;
    expect((prodAcme.resources as { limits: { memory: string } }).limits.memory).toBe("1Gi");
    expect((acme.resources as { limits: { memory: string } }).limits.memory).toBe("256Mi");
  });

  it("outputs a URL per customer: its hostname, or its load balancer's", () => {
    const urls = two.dev.output?.customer_service_urls?.value as Record<string, string>;
    expect(Object.keys(urls)).toEqual(["acme", "globex"]);
    expect(urls.acme).toBe("http://acme.dev.api.example.com");
    expect(urls.globex).toMatch(
      /^http:\/\/\$\{data\.kubernetes_service_v1\.Customer-globex_Service_\w+\.status\[0\]\.load_balancer\[0\]\.ingress\[0\]\.hostname\}$/,
    );
    expect(two.prod.output?.customer_service_urls?.value).toEqual({
      acme: expect.stringContaining("Customer-acme_Service"),
    });
    expect(synthesized("dev").output?.customer_service_urls?.value).toEqual({});
  });
});

/** Resources and data sources by address. */
function blocks(stack: StackJson): Map<string, unknown> {
  const all = new Map<string, unknown>();
  for (const kind of ["resource", "data"] as const) {
    for (const [type, byName] of Object.entries(stack[kind] ?? {})) {
      for (const [name, body] of Object.entries(byName)) all.set(`${kind}.${type}.${name}`, body);
    }
  }
  return all;
}

describe("adding a customer", () => {
  it.each(["dev", "prod"] as const)("adds only its own resources and output entry in %s", (env) => {
    const before = blocks(two[env]);
    const after = blocks(three[env]);
    const added = [...after.keys()].filter((k) => !before.has(k));
    expect([...before.keys()].filter((k) => !after.has(k))).toEqual([]);
    expect(added.length).toBeGreaterThanOrEqual(8);
    expect(added.filter((address) => !/^\w+\.\w+\.Customer-initech_/.test(address))).toEqual([]);
    for (const [address, body] of before) expect(after.get(address), address).toEqual(body);
    // The plan comment attributes exactly these addresses to the customer.
    const terraformAddress = (key: string) => key.replace(/^resource\./, "");
    expect(added.map((k) => customerOf(terraformAddress(k)))).toEqual(added.map(() => "initech"));
    const owners = new Set([...before.keys()].map((k) => customerOf(terraformAddress(k))));
    expect(owners).toEqual(new Set([undefined, "acme", ...(env === "dev" ? ["globex"] : [])]));

    const rest = (stack: StackJson) => ({ ...stack, resource: 0, data: 0, output: 0 });
    expect(rest(three[env])).toEqual(rest(two[env]));
    const outputsAfter = three[env].output;
    const outputsBefore = two[env].output;
    const urls = (o: StackJson["output"]) =>
      o?.customer_service_urls?.value as Record<string, string>;
    expect({ ...outputsAfter, customer_service_urls: undefined }).toEqual({
      ...outputsBefore,
      customer_service_urls: undefined,
    });
    const { initech, ...others } = urls(outputsAfter);
    expect(initech).toContain("Customer-initech_Service");
    expect(others).toEqual(urls(outputsBefore));
  });

  it("changes nothing in the shared and bootstrap stacks", () => {
    expect(three.shared).toEqual(two.shared);
    expect(three.bootstrap).toEqual(two.bootstrap);
  });
});

describe("network isolation, on the manifests helm renders with the values the stacks pass", () => {
  const config = configFrom(withCustomers([ACME, GLOBEX]));
  const podCidrs = subnetLayout(config.shared.vpcCidr, config.shared.azCount).private;
  // The environments' own namespaces too: prod holds two colour releases.
  const workspaces: Array<[EnvironmentName, string]> = [
    ["dev", "api-dev-acme"],
    ["dev", "api-dev-globex"],
    ["prod", "api-prod-acme"],
    ["dev", "api-dev"],
    ["prod", "api-prod"],
  ];
  const rendered = new Map<string, Manifest[]>();
  let kubeVersion: string;

  /** Every namespace the stacks create, as the cluster labels it. */
  const allNamespaces = (): NamespaceInfo[] =>
    (["dev", "prod"] as const).flatMap((env) =>
      (
        resources(two[env], "kubernetes_namespace_v1") as unknown as {
          metadata: { name: string; labels: Record<string, string> };
        }[]
      ).map((n) => ({
        name: n.metadata.name,
        labels: { ...n.metadata.labels, "kubernetes.io/metadata.name": n.metadata.name },
      })),
    );
  const contextFor = (namespace: string) => ({
    namespace,
    otherNamespaces: allNamespaces().filter((n) => n.name !== namespace),
    podCidrs,
  });

  beforeAll(async () => {
    kubeVersion = clusterVersion(two.shared);
    await Promise.all(
      workspaces.map(async ([env, namespace]) => {
        const releases = helmReleases(two[env], two.shared, "").filter(
          (r) => r.options.namespace === namespace,
        );
        const docs = await Promise.all(
          releases.map((release) =>
            helmTemplate(apiChartDir, release.values, {
              namespace,
              releaseName: release.options.releaseName,
              kubeVersion,
            }),
          ),
        );
        rendered.set(namespace, docs.flat());
      }),
    );
  });

  it.each(workspaces)("%s/%s admits no other namespace's pods", (_env, namespace) => {
    const docs = rendered.get(namespace)!;
    expect(docs.every((d) => d.metadata.namespace === namespace)).toBe(true);
    expect(isolationViolations(docs, contextFor(namespace))).toEqual([]);
    // ... and only to the service port (invariant 25).
    expect(checkNetworkPolicy(docs)).toEqual([]);
  });

  it("admits the load balancer subnets and the release's own test pod, nothing else", () => {
    const docs = rendered.get("api-dev-acme")!;
    const policies = docs.filter((d) => d.kind === "NetworkPolicy");
    expect(policies.map((p) => p.metadata.name).sort()).toEqual([
      "api",
      "api-default-deny",
      "api-test",
    ]);
    const api = policies.find((p) => p.metadata.name === "api") as unknown as {
      spec: { ingress: { from: Record<string, unknown>[] }[] };
    };
    const layout = subnetLayout(config.shared.vpcCidr, config.shared.azCount);
    expect(api.spec.ingress[0].from).toEqual([
      ...layout.public.map((cidr) => ({ ipBlock: { cidr } })),
      {
        podSelector: {
          matchLabels: {
            "app.kubernetes.io/name": "api-test",
            "app.kubernetes.io/instance": "api",
            "app.kubernetes.io/component": "test",
          },
        },
      },
    ]);
  });

  it("validates every rendered object against the cluster's schemas", async () => {
    const all = workspaces.flatMap(([, namespace]) => rendered.get(namespace)!);
    const result = await validateManifests(all, kubeVersion);
    expect(result.errors).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it("passes checkov on every rendered object, outside the chart's documented exceptions", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "checkov-customers-"));
    try {
      for (const [, namespace] of workspaces) {
        await writeFile(
          path.join(dir, `${namespace}.yaml`),
          toYamlStream(rendered.get(namespace)!),
        );
      }
      const findings = await checkov(dir, "kubernetes");
      const skips = readSkipFile(path.join(repoRoot, "policy", "checkov-kubernetes.yaml"));
      expect(findings.length).toBeGreaterThan(0);
      expect(unaccepted(findings, skips).map((f) => `${f.id} on ${f.resource}`)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe("the evaluator catches a policy that lets another namespace in", () => {
    const tamper = (change: (spec: { ingress: { from?: unknown[] }[] }) => void): Manifest[] =>
      rendered.get("api-dev-acme")!.map((doc) => {
        if (doc.kind !== "NetworkPolicy" || doc.metadata.name !== "api") return doc;
        const copy = structuredClone(doc) as Manifest & {
          spec: { ingress: { from?: unknown[] }[] };
        };
        change(copy.spec);
        return copy;
      });
    const check = (docs: Manifest[]) => isolationViolations(docs, contextFor("api-dev-acme"));

    it("an empty namespaceSelector (every namespace)", () => {
      const docs = tamper((s) => s.ingress[0].from!.push({ namespaceSelector: {} }));
      expect(check(docs)).toEqual([
        expect.stringMatching(
          /^NetworkPolicy\/api: ingress\[0\]\.from\[4\] admits namespaces .*api-dev-globex/,
        ),
      ]);
    });
    it("a selector for another customer's namespace", () => {
      const docs = tamper((s) =>
        s.ingress[0].from!.push({
          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "api-dev-globex" } },
          podSelector: {},
        }),
      );
      expect(check(docs)).toEqual([expect.stringContaining("admits namespaces api-dev-globex")]);
    });
    it("a private-subnet ipBlock (where pods get their addresses)", () => {
      const docs = tamper((s) => s.ingress[0].from!.push({ ipBlock: { cidr: podCidrs[1] } }));
      expect(check(docs)).toEqual([
        `NetworkPolicy/api: ingress[0].from[4] ipBlock ${podCidrs[1]} admits pod addresses ${podCidrs[1]}`,
      ]);
    });
    it("the whole VPC, or anywhere, unless the pod ranges are excepted", () => {
      const anywhere = tamper((s) => s.ingress[0].from!.push({ ipBlock: { cidr: "0.0.0.0/0" } }));
      expect(check(anywhere)).toHaveLength(podCidrs.length);
      const excepted = tamper((s) =>
        s.ingress[0].from!.push({ ipBlock: { cidr: config.shared.vpcCidr, except: podCidrs } }),
      );
      expect(check(excepted)).toEqual([]);
    });
    it("a rule without sources", () => {
      const docs = tamper((s) => delete s.ingress[0].from);
      expect(check(docs)).toEqual(["NetworkPolicy/api: ingress[0] admits every source"]);
    });
    it("a namespace without the default-deny policy", () => {
      const docs = rendered
        .get("api-dev-acme")!
        .filter((d) => d.metadata.name !== "api-default-deny");
      expect(check(docs)).toEqual(["api-dev-acme: no default-deny ingress policy"]);
    });
  });
});

describe("policy enforcement", () => {
  it("turns on the VPC CNI's network policy agent, without which no policy is enforced", () => {
    const cni = only(two.shared, "aws_eks_addon", (a) => a.addon_name === "vpc-cni");
    expect(JSON.parse(cni.configuration_values as string)).toEqual({ enableNetworkPolicy: "true" });
  });
});

describe("ApiRelease refuses sources that would open the namespace", () => {
  const props = (ingressCidrs: string[] | undefined, ingressNamespaces?: string[]) => {
    const config = configFrom();
    return {
      environment: "dev" as const,
      namespace: "api-dev-acme",
      releaseName: "api",
      chartPath: "chart",
      imageRepository: "example/api",
      settings: config.environments.dev.api,
      appVersion: config.appVersion,
      nodeSelector: { [WORKLOAD_ENV_LABEL]: "dev" },
      ingressCidrs,
      ingressNamespaces,
    };
  };
  it.each([
    [[], /at least one CIDR; an empty list would admit any source/],
    [
      ["10.40.224.0/22", "10.40.224.1/22"],
      /IPv4 networks \(a\.b\.c\.d\/n\), got "10\.40\.224\.1\/22"/,
    ],
  ])("%j", (cidrs, message) => {
    const stack = new TerraformStack(new App(), "test");
    expect(() => new ApiRelease(stack, "Customer-acme", props(cidrs))).toThrow(message);
  });

  it.each([
    [undefined, ["monitoring"], /ingressNamespaces needs ingressCidrs/],
    [
      ["10.40.224.0/22"],
      ["api-dev-acme"],
      /other than the release's own namespace, got "api-dev-acme"/,
    ],
    [["10.40.224.0/22"], ["Monitoring"], /must be DNS labels .*got "Monitoring"/],
  ])("namespaces %j %j", (cidrs, namespaces, message) => {
    const stack = new TerraformStack(new App(), "test");
    expect(() => new ApiRelease(stack, "Customer-acme", props(cidrs, namespaces))).toThrow(message);
  });
});

describe("an in-cluster Prometheus (shared.monitoringNamespace)", () => {
  const { vpcCidr, azCount } = configFrom().shared;
  const layout = subnetLayout(vpcCidr, azCount);
  let monitored: Stacks;

  beforeAll(() => {
    monitored = synthStacks(
      configFrom({
        ...withCustomers([ACME]),
        shared: { ...settingsCopy().shared, monitoringNamespace: "monitoring" },
      }),
    );
  });
  const selector = {
    namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } },
  };

  it("is admitted by every release, the environments' own and the customers', after the load balancer", () => {
    const releases = (["dev", "prod"] as const).flatMap((env) =>
      helmReleases(monitored[env], monitored.shared, ""),
    );
    expect(releases.map((r) => r.options.namespace).sort()).toEqual(
      ["api-dev", "api-dev-acme", "api-prod", "api-prod", "api-prod-acme"].sort(),
    );
    for (const release of releases) {
      const policy = release.values.networkPolicy as { ingressFrom: unknown[] };
      expect(policy.ingressFrom, release.options.namespace).toEqual([
        ...layout.public.map((cidr) => ({ ipBlock: { cidr } })),
        selector,
      ]);
    }
  });

  it("admits no API namespace, whatever it is called", async () => {
    const release = releaseIn(monitored, "dev", "api-dev-acme");
    const docs = await helmTemplate(apiChartDir, release.values, {
      namespace: "api-dev-acme",
      releaseName: release.options.releaseName,
      kubeVersion: clusterVersion(monitored.shared),
    });
    const labelled = (name: string): NamespaceInfo => ({
      name,
      labels: { "kubernetes.io/metadata.name": name },
    });
    const context = {
      namespace: "api-dev-acme",
      otherNamespaces: ["api-dev", "api-prod", "api-prod-acme"].map(labelled),
      podCidrs: layout.private,
    };
    expect(isolationViolations(docs, context)).toEqual([]);
    // ... and the evaluator sees the monitoring namespace's pods as admitted.
    expect(
      isolationViolations(docs, { ...context, otherNamespaces: [labelled("monitoring")] }),
    ).not.toEqual([]);
  });

  it("defaults to none: the committed releases admit the load balancer's subnets only", () => {
    const release = releaseIn(two, "dev", "api-dev");
    expect(JSON.stringify(release.values.networkPolicy)).not.toContain("namespaceSelector");
  });
});

describe("the stacks with customers keep docs/invariants.md 1-20 and 29", () => {
  it.each(Object.keys(invariants))("%s", (name) => {
    expect(invariants[name](two)).toEqual([]);
  });
  it("counts every customer's release under invariant 29", () => {
    const broken = structuredClone(two);
    const release = only(broken.dev, "helm_release", (b) =>
      String(b.address).includes("Customer-globex"),
    );
    const name = release.address.split(".")[1];
    broken.dev.resource!.helm_release[name].atomic = false;
    const check = Object.entries(invariants).find(([n]) => n.startsWith("29 "))![1];
    expect(check(broken)).toEqual(["dev: atomic is not true"]);
  });
});
