import { beforeAll, describe, expect, it } from "vitest";
import {
  apiChartDir,
  type HelmResult,
  type Manifest,
  manifestOf,
  manifestsOf,
  tryHelmTemplate,
  type Values,
} from "../helpers/helm";
import { fixture } from "./environments";

/** A bad value, and the readable error that must name it. */
interface Rejection {
  readonly title: string;
  readonly values: Values;
  readonly error: RegExp;
}

const rejections: readonly Rejection[] = [
  {
    title: "a misspelt top-level key",
    values: { replicaCont: 3 },
    error: /at '': additional properties 'replicaCont' not allowed/,
  },
  {
    title: "a misspelt nested key",
    values: { service: { typ: "ClusterIP" } },
    error: /at '\/service': additional properties 'typ' not allowed/,
  },
  {
    title: "replicas as a string",
    values: 'replicaCount: "3"\n',
    error: /at '\/replicaCount': got string, want integer/,
  },
  {
    title: "zero replicas",
    values: { replicaCount: 0 },
    error: /at '\/replicaCount': minimum: got 0, want 1/,
  },
  {
    title: "a missing image tag",
    values: { image: { tag: "" } },
    error: /image\.tag is required: an immutable tag such as sha-<commit> or release-<semver>/,
  },
  {
    title: "the latest tag",
    values: { image: { tag: "latest" } },
    error: /image\.tag must not be "latest": a mutable tag does not roll pods/,
  },
  {
    title: "an image tag with a character a registry refuses",
    values: { image: { tag: "v1/2" } },
    error: /at '\/image\/tag'/,
  },
  {
    title: "a malformed digest",
    values: { image: { digest: "sha256:abc" } },
    error: /at '\/image\/digest': 'sha256:abc' does not match pattern/,
  },
  {
    title: "a negative CPU request",
    values: { resources: { requests: { cpu: -1 } } },
    error: /at '\/resources\/requests\/cpu': exclusiveMinimum: got -1, want 0/,
  },
  {
    title: "a memory limit without a unit",
    values: 'resources:\n  limits:\n    memory: "256"\n',
    error: /at '\/resources\/limits\/memory': '256' does not match pattern/,
  },
  {
    title: "a missing memory request",
    values: "resources:\n  requests:\n    memory: null\n",
    error: /at '\/resources\/requests': missing property 'memory'/,
  },
  {
    title: "a missing ephemeral-storage limit",
    values: "resources:\n  limits:\n    ephemeral-storage: null\n",
    error: /at '\/resources\/limits': missing property 'ephemeral-storage'/,
  },
  {
    title: "a missing ephemeral-storage request of the test pod",
    values: "tests:\n  resources:\n    requests:\n      ephemeral-storage: null\n",
    error: /at '\/tests\/resources\/requests': missing property 'ephemeral-storage'/,
  },
  {
    title: "an ephemeral-storage limit without a unit",
    values: 'resources:\n  limits:\n    ephemeral-storage: "256"\n',
    error: /at '\/resources\/limits\/ephemeral-storage': '256' does not match pattern/,
  },
  {
    title: "a container port out of range",
    values: { containerPort: 70000 },
    error: /at '\/containerPort': maximum: got 70,000, want 65,535/,
  },
  {
    title: "a privileged container port",
    values: { containerPort: 80 },
    error: /at '\/containerPort': minimum: got 80, want 1,024/,
  },
  {
    title: "a service port out of range",
    values: { service: { port: 0 } },
    error: /at '\/service\/port': minimum: got 0, want 1/,
  },
  {
    title: "an unknown service type",
    values: { service: { type: "NodePort" } },
    error: /at '\/service\/type': value must be one of 'ClusterIP', 'LoadBalancer'/,
  },
  {
    title: "an unknown load balancer scheme",
    values: { service: { loadBalancer: { scheme: "public" } } },
    error:
      /at '\/service\/loadBalancer\/scheme': value must be one of 'internal', 'internet-facing'/,
  },
  {
    title: "a UID below 10000",
    values: { podSecurityContext: { runAsUser: 1000 } },
    error: /at '\/podSecurityContext\/runAsUser': minimum: got 1,000, want 10,000/,
  },
  {
    title: "a preStop pause that does not fit in the grace period",
    values: {
      shutdown: { delaySeconds: 30, timeoutSeconds: 20 },
      terminationGracePeriodSeconds: 40,
    },
    error:
      /terminationGracePeriodSeconds \(40\) must exceed shutdown\.delaySeconds \+ shutdown\.timeoutSeconds \(30 \+ 20 = 50\)/,
  },
  {
    title: "no preStop pause",
    values: { shutdown: { delaySeconds: 0 } },
    error: /at '\/shutdown\/delaySeconds': minimum: got 0, want 1/,
  },
  {
    title: "a drain timeout the API would refuse (not longer than its delay)",
    values: { shutdown: { delaySeconds: 10, timeoutSeconds: 10 } },
    error: /shutdown\.timeoutSeconds \(10\) must exceed shutdown\.delaySeconds \(10\)/,
  },
  {
    title: "an environment name the API does not know",
    values: { app: { env: "staging" } },
    error: /at '\/app\/env': value must be one of '', 'local', 'dev', 'prod'/,
  },
  {
    title: "a message longer than the API accepts",
    values: { app: { message: "x".repeat(257) } },
    error: /at '\/app\/message': maxLength: got 257, want 256/,
  },
  {
    title: "an autoscaler floor above its ceiling",
    values: { autoscaling: { enabled: true, minReplicas: 8, maxReplicas: 4 } },
    error: /autoscaling\.minReplicas \(8\) must not exceed autoscaling\.maxReplicas \(4\)/,
  },
  {
    title: "a PodDisruptionBudget that would never allow an eviction",
    values: { replicaCount: 1 },
    error:
      /podDisruptionBudget\.minAvailable \(1\) must be lower than the replica count \(1\), or no pod could ever be evicted/,
  },
  {
    title: "the namespace's default ServiceAccount",
    values: { serviceAccount: { create: false } },
    error: /must not run as the namespace's "default" ServiceAccount/,
  },
  {
    title: "an unknown log level",
    values: { app: { logLevel: "verbose" } },
    error: /at '\/app\/logLevel': value must be one of 'fatal', 'error'/,
  },
  {
    title: "a NetworkPolicy source that is not a NetworkPolicyPeer",
    values: { networkPolicy: { ingressFrom: [{ podSelectr: {} }] } },
    error: /at '\/networkPolicy\/ingressFrom\/0': additional properties 'podSelectr' not allowed/,
  },
  {
    title: "no DNS resolver to send lookups to",
    values: { networkPolicy: { dnsTo: [] } },
    error: /at '\/networkPolicy\/dnsTo': minItems: got 0, want 1/,
  },
  {
    title: "an address range as the DNS resolver",
    values: { networkPolicy: { dnsTo: [{ ipBlock: { cidr: "0.0.0.0/0" } }] } },
    error:
      /at '\/networkPolicy\/dnsTo\/0'.*(additional properties 'ipBlock' not allowed|missing properties)/s,
  },
  {
    title: "every pod of a namespace as the DNS resolver",
    values: {
      networkPolicy: {
        dnsTo: [
          {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
            podSelector: {},
          },
        ],
      },
    },
    error: /at '\/networkPolicy\/dnsTo\/0\/podSelector': missing property 'matchLabels'/,
  },
  {
    title: "DNS pods in any namespace",
    values: {
      networkPolicy: { dnsTo: [{ podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }] },
    },
    error: /at '\/networkPolicy\/dnsTo\/0': missing property 'namespaceSelector'/,
  },
  {
    title: "a source range that is not a CIDR",
    values: { service: { loadBalancer: { sourceRanges: ["10.0.0.1"] } } },
    error: /at '\/service\/loadBalancer\/sourceRanges\/0': '10\.0\.0\.1' does not match pattern/,
  },
  {
    title: "a namespace-wide deny without the API's own policy",
    values: { networkPolicy: { enabled: false, defaultDeny: true } },
    error: /networkPolicy\.defaultDeny needs networkPolicy\.enabled/,
  },
  {
    title: "an enabled Ingress without hosts",
    values: { ingress: { enabled: true } },
    error: /ingress\.hosts must list at least one host when ingress\.enabled is true/,
  },
];

const minimal = fixture("minimal");

describe("values.schema.json and the render-time checks", () => {
  const results = new Map<string, HelmResult<Manifest[]>>();

  beforeAll(async () => {
    const renders = rejections.map((r) => tryHelmTemplate(apiChartDir, [minimal, r.values]));
    const settled = await Promise.all(renders);
    rejections.forEach((r, index) => results.set(r.title, settled[index]));
    results.set("minimal", await tryHelmTemplate(apiChartDir, minimal));
  });

  it("accepts the minimal values (the baseline every rejection below starts from)", () => {
    expect(results.get("minimal")?.ok).toBe(true);
  });

  it.each(rejections.map((r) => [r.title, r] as const))("rejects %s", (_title, rejection) => {
    const result = results.get(rejection.title);
    expect(result?.ok, `rendered although ${rejection.title} should be refused`).toBe(false);
    if (result?.ok !== false) return;
    expect(result.error).toMatch(rejection.error);
  });
});

describe("values that change the rendering", () => {
  let full: Manifest[];

  beforeAll(async () => {
    const result = await tryHelmTemplate(apiChartDir, [minimal, fixture("full")], {
      namespace: "qa",
      releaseName: "api",
    });
    if (!result.ok) throw new Error(result.error);
    full = result.value;
  });

  it("references the image by digest when one is set", () => {
    const deployment = manifestOf(full, "Deployment") as unknown as {
      spec: { template: { spec: { containers: { image: string }[] } } };
    };
    expect(deployment.spec.template.spec.containers[0].image).toBe(
      "111122223333.dkr.ecr.eu-west-1.amazonaws.com/api-platform/api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    );
  });

  it("gives a LoadBalancer Service the AWS NLB annotations and source ranges", () => {
    const service = manifestOf(full, "Service") as unknown as {
      metadata: { annotations: Record<string, string> };
      spec: { type: string; loadBalancerSourceRanges: string[] };
    };
    expect(service.spec.type).toBe("LoadBalancer");
    expect(service.spec.loadBalancerSourceRanges).toEqual(["203.0.113.0/24"]);
    expect(service.metadata.annotations).toMatchObject({
      "service.beta.kubernetes.io/aws-load-balancer-type": "external",
      "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
      "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
      "service.beta.kubernetes.io/aws-load-balancer-attributes":
        "load_balancing.cross_zone.enabled=true",
    });
  });

  it("hands the replica count to the autoscaler when autoscaling is on", () => {
    const deployment = manifestOf(full, "Deployment") as unknown as { spec: { replicas?: number } };
    expect(deployment.spec.replicas).toBeUndefined();
    expect(manifestOf(full, "HorizontalPodAutoscaler")).toMatchObject({
      apiVersion: "autoscaling/v2",
      spec: {
        scaleTargetRef: { kind: "Deployment", name: "api" },
        minReplicas: 2,
        maxReplicas: 6,
      },
    });
  });

  it("lets the helm test pod through a NetworkPolicy limited to configured sources", () => {
    const [policy] = manifestsOf(full, "NetworkPolicy", "api") as unknown as {
      spec: { ingress: { from: unknown[] }[] };
    }[];
    expect(policy.spec.ingress[0].from).toEqual([
      { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress" } } },
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
    const testPod = manifestOf(full, "Pod");
    expect(testPod.metadata.labels).toMatchObject({ "app.kubernetes.io/name": "api-test" });
  });

  it("renders the Ingress with its class and TLS", () => {
    expect(manifestOf(full, "Ingress")).toMatchObject({
      spec: {
        ingressClassName: "alb",
        tls: [{ secretName: "api-tls", hosts: ["api.example.com"] }],
        rules: [{ host: "api.example.com" }],
      },
    });
  });

  it("keeps a version with build metadata intact in APP_VERSION and label-safe in the label", () => {
    const deployment = manifestOf(full, "Deployment") as unknown as {
      metadata: { labels: Record<string, string> };
      spec: { template: { spec: { containers: { env: { name: string; value: string }[] }[] } } };
    };
    expect(deployment.metadata.labels["app.kubernetes.io/version"]).toBe("1.2.3_build.5");
    const version = deployment.spec.template.spec.containers[0].env.find(
      (e) => e.name === "APP_VERSION",
    );
    expect(version?.value).toBe("1.2.3+build.5");
  });

  it("passes MESSAGE only when set, and the shutdown timings in milliseconds", () => {
    const deployment = manifestOf(full, "Deployment") as unknown as {
      spec: { template: { spec: { containers: { env: { name: string; value: string }[] }[] } } };
    };
    const env = Object.fromEntries(
      deployment.spec.template.spec.containers[0].env.map((e) => [e.name, e.value]),
    );
    expect(env).toMatchObject({
      PORT: "8080",
      HOST: "0.0.0.0",
      MESSAGE: "hello",
      SHUTDOWN_DELAY_MS: "10000",
      SHUTDOWN_TIMEOUT_MS: "20000",
    });
  });
});
