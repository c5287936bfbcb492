import { beforeAll, describe, expect, it } from "vitest";
import { type Manifest, tryHelmTemplate, type Values } from "../helpers/helm";
import {
  ENVIRONMENTS,
  type Environment,
  MIN_REPLICAS,
  renderEnvironment,
  stackRelease,
} from "./environments";
import {
  checkEgress,
  checkEphemeralStorage,
  checkNetworkPolicy,
  checkPodIsolation,
  checkPodSecurityRestricted,
  checkPreStop,
  checkProbes,
  checkResourcesAndImage,
  checkRollout,
  checkServiceAccount,
} from "./invariants";

/** Loosely typed views used only to break a rendered copy on purpose. */
interface MutableContainer {
  image: string;
  ports: Record<string, unknown>[];
  env: { name: string; value: string }[];
  resources: { requests: Record<string, unknown>; limits: Record<string, unknown> };
  securityContext: Record<string, unknown> & { capabilities: { drop: string[] } };
  readinessProbe: { httpGet: { path: string } };
  livenessProbe?: unknown;
  lifecycle: { preStop: { sleep: { seconds: number } } };
}
interface MutablePod {
  securityContext: Record<string, unknown> & { seccompProfile: { type: string } };
  serviceAccountName: string;
  automountServiceAccountToken: boolean;
  hostNetwork?: boolean;
  terminationGracePeriodSeconds: number;
  containers: MutableContainer[];
  volumes: Record<string, unknown>[];
}
interface MutablePolicy {
  podSelector: { matchLabels?: Record<string, string> };
  policyTypes: string[];
  ingress?: { from?: Record<string, unknown>[]; ports?: Record<string, unknown>[] }[];
  egress?: { to?: Record<string, unknown>[]; ports?: Record<string, unknown>[] }[];
}
interface MutableDeployment {
  spec: { strategy: { rollingUpdate: { maxUnavailable: number } }; template: { spec: MutablePod } };
}

function broken(docs: readonly Manifest[], mutate: (docs: Manifest[]) => void): Manifest[] {
  const copy = structuredClone(docs) as Manifest[];
  mutate(copy);
  return copy;
}
function deployment(docs: Manifest[]): MutableDeployment {
  return docs.find((d) => d.kind === "Deployment") as unknown as MutableDeployment;
}
const pod = (docs: Manifest[]): MutablePod => deployment(docs).spec.template.spec;
const api = (docs: Manifest[]): MutableContainer => pod(docs).containers[0];
const testPod = (docs: Manifest[]): MutablePod =>
  (docs.find((d) => d.kind === "Pod") as unknown as { spec: MutablePod }).spec;
const ofKind = (docs: Manifest[], kind: string): Record<string, unknown> =>
  docs.find((d) => d.kind === kind) as unknown as Record<string, unknown>;
/** The spec of the NetworkPolicy with that name. */
const policy = (docs: Manifest[], name: string): MutablePolicy => {
  const found = docs.find((d) => d.kind === "NetworkPolicy" && d.metadata.name === name);
  if (!found) throw new Error(`no NetworkPolicy ${name}`);
  return (found as unknown as { spec: MutablePolicy }).spec;
};

/** A values override (on top of the prod values) that breaks an invariant. */
const valueBreakers = {
  noNetworkPolicy: { networkPolicy: { enabled: false, defaultDeny: false } },
  // A percentage keeps the budget valid for a single pod, so only the replica floor is broken.
  oneReplica: {
    replicaCount: 1,
    autoscaling: { enabled: false },
    podDisruptionBudget: { minAvailable: "50%" },
  },
  oneReplicaFloor: {
    autoscaling: { enabled: true, minReplicas: 1 },
    podDisruptionBudget: { minAvailable: "50%" },
  },
  noBudget: { podDisruptionBudget: { enabled: false } },
  noSpread: { topologySpread: { enabled: false } },
} satisfies Record<string, Values>;

describe("docs/invariants.md 21-28, 37 and 38 on the rendered manifests", () => {
  const rendered = {} as Record<Environment, Manifest[]>;
  const viaValues = {} as Record<keyof typeof valueBreakers | "defaultNamespace", Manifest[]>;

  beforeAll(async () => {
    for (const env of ENVIRONMENTS) rendered[env] = await renderEnvironment(env);
    const prod = stackRelease("prod");
    const entries = Object.entries(valueBreakers) as [keyof typeof valueBreakers, Values][];
    const renders = await Promise.all([
      ...entries.map(([, values]) =>
        tryHelmTemplate(prod.chartDir, [prod.values, values], prod.options),
      ),
      tryHelmTemplate(prod.chartDir, prod.values, { ...prod.options, namespace: "default" }),
    ]);
    renders.forEach((result, index) => {
      if (!result.ok) throw new Error(result.error);
      const key = index < entries.length ? entries[index][0] : "defaultNamespace";
      viaValues[key] = result.value;
    });
  });

  describe.each(ENVIRONMENTS)("%s", (env) => {
    it("21: runs as non-root, without privilege escalation or capabilities, seccomp RuntimeDefault", () => {
      expect(checkPodSecurityRestricted(rendered[env])).toEqual([]);
    });
    it("22: has a read-only root filesystem, UID >= 10000, nothing from the host, not privileged", () => {
      expect(checkPodIsolation(rendered[env])).toEqual([]);
    });
    it("23: runs as its own ServiceAccount without a token, outside the default namespace", () => {
      expect(checkServiceAccount(rendered[env])).toEqual([]);
    });
    it("24: sets CPU and memory requests and limits, and pins the image", () => {
      expect(checkResourcesAndImage(rendered[env])).toEqual([]);
    });
    it("25: has a NetworkPolicy that admits only the service port", () => {
      expect(checkNetworkPolicy(rendered[env])).toEqual([]);
    });
    it("26: probes readiness and liveness on distinct endpoints", () => {
      expect(checkProbes(rendered[env])).toEqual([]);
    });
    it(`27: rolls out without losing capacity (>= ${MIN_REPLICAS[env]} replicas, PDB, spread)`, () => {
      expect(checkRollout(rendered[env], { minReplicas: MIN_REPLICAS[env] })).toEqual([]);
    });
    it("28: pauses in preStop for less than the grace period, matched to SHUTDOWN_DELAY_MS", () => {
      expect(checkPreStop(rendered[env])).toEqual([]);
    });
    it("37: denies egress but DNS to kube-dns (and, for the helm test pod, the API pods)", () => {
      expect(checkEgress(rendered[env])).toEqual([]);
    });
    it("38: requests and limits ephemeral-storage, with a sizeLimit on every emptyDir", () => {
      expect(checkEphemeralStorage(rendered[env])).toEqual([]);
    });
  });

  describe("each checker reports the property broken", () => {
    // prod's serving release: with blue/green, the committed active colour's (api-blue).
    const docs = (): Manifest[] => rendered.prod;

    it("21", () => {
      const escalation = broken(
        docs(),
        (d) => delete api(d).securityContext.allowPrivilegeEscalation,
      );
      expect(checkPodSecurityRestricted(escalation)).toEqual([
        "Deployment/api-blue container api: allowPrivilegeEscalation is not false",
      ]);
      const caps = broken(docs(), (d) => (api(d).securityContext.capabilities.drop = ["NET_RAW"]));
      expect(checkPodSecurityRestricted(caps)).toEqual([
        "Deployment/api-blue container api: capabilities.drop does not include ALL",
      ]);
      const seccomp = broken(docs(), (d) => {
        delete api(d).securityContext.seccompProfile;
        pod(d).securityContext.seccompProfile.type = "Unconfined";
      });
      expect(checkPodSecurityRestricted(seccomp)).toEqual([
        "Deployment/api-blue container api: seccompProfile.type is Unconfined, not RuntimeDefault",
      ]);
      const root = broken(docs(), (d) => {
        delete api(d).securityContext.runAsNonRoot;
        delete testPod(d).containers[0].securityContext.runAsNonRoot;
        delete testPod(d).securityContext.runAsNonRoot;
      });
      expect(checkPodSecurityRestricted(root)).toEqual([
        "Pod/api-blue-test-readyz container readyz: runAsNonRoot is not true",
      ]);
    });

    it("22", () => {
      const writable = broken(
        docs(),
        (d) => (api(d).securityContext.readOnlyRootFilesystem = false),
      );
      expect(checkPodIsolation(writable)).toEqual([
        "Deployment/api-blue container api: readOnlyRootFilesystem is not true",
      ]);
      const lowUid = broken(docs(), (d) => {
        delete api(d).securityContext.runAsUser;
        pod(d).securityContext.runAsUser = 1000;
      });
      expect(checkPodIsolation(lowUid)).toEqual([
        "Deployment/api-blue container api: runAsUser is 1000, not >= 10000",
      ]);
      const host = broken(docs(), (d) => {
        pod(d).hostNetwork = true;
        testPod(d).containers[0].securityContext.privileged = true;
      });
      expect(checkPodIsolation(host)).toEqual([
        "Deployment/api-blue: hostNetwork is true",
        "Pod/api-blue-test-readyz container readyz: privileged is true",
      ]);
      const hostPath = broken(docs(), (d) => {
        pod(d).volumes.push({ name: "node", hostPath: { path: "/" } });
        api(d).ports[0].hostPort = 8080;
      });
      expect(checkPodIsolation(hostPath)).toEqual([
        "Deployment/api-blue: volume node is of type hostPath",
        "Deployment/api-blue container api: hostPort 8080 is set",
      ]);
    });

    it("23", () => {
      expect(checkServiceAccount(viaValues.defaultNamespace)).toContain(
        "Deployment/api-blue: namespace is default",
      );
      const token = broken(
        docs(),
        (d) => (ofKind(d, "ServiceAccount").automountServiceAccountToken = true),
      );
      expect(checkServiceAccount(token)).toEqual([
        "ServiceAccount/api-blue: automountServiceAccountToken is not false",
      ]);
      const defaultAccount = broken(docs(), (d) => (pod(d).serviceAccountName = "default"));
      expect(checkServiceAccount(defaultAccount)).toEqual([
        "Deployment/api-blue: runs as ServiceAccount default",
      ]);
      const mounted = broken(docs(), (d) => (pod(d).automountServiceAccountToken = true));
      expect(checkServiceAccount(mounted)).toEqual([
        "Deployment/api-blue: automountServiceAccountToken is not false",
      ]);
    });

    it("24", () => {
      const noLimit = broken(docs(), (d) => delete api(d).resources.limits.memory);
      expect(checkResourcesAndImage(noLimit)).toEqual([
        "Deployment/api-blue container api: resources.limits.memory is missing",
      ]);
      const noRequest = broken(
        docs(),
        (d) => delete testPod(d).containers[0].resources.requests.cpu,
      );
      expect(checkResourcesAndImage(noRequest)).toEqual([
        "Pod/api-blue-test-readyz container readyz: resources.requests.cpu is missing",
      ]);
      const latest = broken(
        docs(),
        (d) => (api(d).image = api(d).image.replace(/:[^:/]+$/, ":latest")),
      );
      expect(checkResourcesAndImage(latest)).toEqual([
        expect.stringMatching(
          /^Deployment\/api-blue container api: image .*:latest uses the mutable tag latest$/,
        ),
      ]);
      const untagged = broken(docs(), (d) => (api(d).image = api(d).image.replace(/:[^:/]+$/, "")));
      expect(checkResourcesAndImage(untagged)).toEqual([
        expect.stringMatching(/has neither tag nor digest$/),
      ]);
    });

    it("25", () => {
      expect(checkNetworkPolicy(viaValues.noNetworkPolicy)).toEqual([
        "Deployment/api-blue: no NetworkPolicy selects its pods",
      ]);
      const anyPort = broken(docs(), (d) => {
        const spec = ofKind(d, "NetworkPolicy").spec as { ingress: { ports?: unknown }[] };
        delete spec.ingress[0].ports;
      });
      expect(checkNetworkPolicy(anyPort)).toEqual([
        "NetworkPolicy/api-blue: ingress[0] admits every port",
      ]);
      const otherPort = broken(docs(), (d) => {
        const spec = ofKind(d, "NetworkPolicy").spec as {
          ingress: { ports: { port: unknown }[] }[];
        };
        spec.ingress[0].ports.push({ port: 22 });
      });
      expect(checkNetworkPolicy(otherPort)).toEqual([
        "NetworkPolicy/api-blue: ingress[0] admits port 22, not the service port",
      ]);
      const egressOnly = broken(docs(), (d) => {
        (ofKind(d, "NetworkPolicy").spec as { policyTypes: string[] }).policyTypes = ["Egress"];
      });
      expect(checkNetworkPolicy(egressOnly)).toEqual([
        "NetworkPolicy/api-blue: policyTypes does not include Ingress",
      ]);
    });

    it("26", () => {
      const same = broken(docs(), (d) => (api(d).readinessProbe.httpGet.path = "/healthz"));
      expect(checkProbes(same)).toEqual([
        "Deployment/api-blue container api: liveness and readiness probe the same endpoint (/healthz)",
      ]);
      const none = broken(docs(), (d) => delete api(d).livenessProbe);
      expect(checkProbes(none)).toEqual(["Deployment/api-blue container api: no livenessProbe"]);
    });

    it("27", () => {
      expect(checkRollout(viaValues.oneReplica, { minReplicas: 2 })).toEqual([
        "Deployment/api-blue: runs 1 replica(s) at least, fewer than 2",
      ]);
      expect(checkRollout(viaValues.oneReplicaFloor, { minReplicas: 2 })).toEqual([
        "Deployment/api-blue: runs 1 replica(s) at least, fewer than 2",
      ]);
      expect(checkRollout(viaValues.noBudget)).toEqual([
        "Deployment/api-blue: no PodDisruptionBudget selects its pods",
      ]);
      expect(checkRollout(viaValues.noSpread)).toEqual([
        "Deployment/api-blue: no topology spread across zones or nodes",
      ]);
      const surge = broken(
        docs(),
        (d) => (deployment(d).spec.strategy.rollingUpdate.maxUnavailable = 1),
      );
      expect(checkRollout(surge)).toEqual(["Deployment/api-blue: maxUnavailable is 1, not 0"]);
    });

    it("28", () => {
      const tooLong = broken(
        docs(),
        (d) => (api(d).lifecycle.preStop.sleep.seconds = pod(d).terminationGracePeriodSeconds),
      );
      expect(checkPreStop(tooLong)).toEqual([
        "Deployment/api-blue container api: preStop sleep 40s is not shorter than the grace period 40s",
        "Deployment/api-blue container api: SHUTDOWN_DELAY_MS is 10000, not 40000",
      ]);
      const unmatched = broken(docs(), (d) => {
        const delay = api(d).env.find((e) => e.name === "SHUTDOWN_DELAY_MS");
        if (delay) delay.value = "1000";
      });
      expect(checkPreStop(unmatched)).toEqual([
        "Deployment/api-blue container api: SHUTDOWN_DELAY_MS is 1000, not 10000",
      ]);
      const none = broken(docs(), (d) => delete (api(d) as Partial<MutableContainer>).lifecycle);
      expect(checkPreStop(none)).toEqual(["Deployment/api-blue container api: no preStop sleep"]);
    });

    it("37: egress", () => {
      const pods = ["Deployment/api-blue", "Pod/api-blue-test-readyz"];
      expect(checkEgress(viaValues.noNetworkPolicy)).toEqual(
        pods.map((p) => `${p}: no NetworkPolicy restricts its egress`),
      );
      const ingressOnly = broken(docs(), (d) => {
        for (const name of ["api-blue", "api-blue-test", "api-blue-default-deny"]) {
          policy(d, name).policyTypes = ["Ingress"];
        }
      });
      expect(checkEgress(ingressOnly)).toEqual(
        pods.map((p) => `${p}: no NetworkPolicy restricts its egress`),
      );
      const anywhere = broken(docs(), (d) => delete policy(d, "api-blue").egress![0].to);
      expect(checkEgress(anywhere)).toEqual([
        "NetworkPolicy/api-blue: egress[0] admits any destination",
        "Deployment/api-blue: egress does not admit DNS (53/UDP) to the resolver",
        "Deployment/api-blue: egress does not admit DNS (53/TCP) to the resolver",
      ]);
      const anyPort = broken(docs(), (d) => delete policy(d, "api-blue").egress![0].ports);
      expect(checkEgress(anyPort)).toContain("NetworkPolicy/api-blue: egress[0] admits every port");
      const internet = broken(docs(), (d) =>
        policy(d, "api-blue").egress!.push({
          to: [{ ipBlock: { cidr: "0.0.0.0/0" } }],
          ports: [{ port: 443, protocol: "TCP" }],
        }),
      );
      expect(checkEgress(internet)).toEqual([
        'NetworkPolicy/api-blue: egress[1] admits [{"ipBlock":{"cidr":"0.0.0.0/0"}}]: neither the cluster\'s DNS resolver nor, for the helm test pod, the API pods',
      ]);
      // Two peers are either-or: every pod of kube-system, or kube-dns pods in this namespace.
      const split = broken(docs(), (d) => {
        const rule = policy(d, "api-blue").egress![0];
        const [{ namespaceSelector, podSelector }] = rule.to as Record<string, unknown>[];
        rule.to = [{ namespaceSelector }, { podSelector }];
      });
      expect(checkEgress(split)).toEqual([
        expect.stringMatching(
          /^NetworkPolicy\/api-blue: egress\[0\] admits .*: neither the cluster's DNS resolver/,
        ),
        "Deployment/api-blue: egress does not admit DNS (53/UDP) to the resolver",
        "Deployment/api-blue: egress does not admit DNS (53/TCP) to the resolver",
      ]);
      const metrics = broken(docs(), (d) =>
        policy(d, "api-blue").egress![0].ports!.push({ port: 9153, protocol: "TCP" }),
      );
      expect(checkEgress(metrics)).toEqual([
        "NetworkPolicy/api-blue: egress[0] admits port 9153/TCP on the DNS resolver",
      ]);
      const apiToApi = broken(docs(), (d) =>
        policy(d, "api-blue").egress!.push(policy(d, "api-blue-test").egress![1]),
      );
      expect(checkEgress(apiToApi)).toEqual([
        expect.stringMatching(
          /^NetworkPolicy\/api-blue: egress\[1\] admits .*: neither the cluster's DNS resolver nor, for the helm test pod, the API pods$/,
        ),
      ]);
    });

    it("37: what the helm test pod needs", () => {
      const unreachable = broken(docs(), (d) => policy(d, "api-blue-test").egress!.pop());
      expect(checkEgress(unreachable)).toEqual([
        "Pod/api-blue-test-readyz: egress does not admit the API pods on port 8080",
      ]);
      const ssh = broken(
        docs(),
        (d) => (policy(d, "api-blue-test").egress![1].ports = [{ port: 22, protocol: "TCP" }]),
      );
      expect(checkEgress(ssh)).toEqual([
        "NetworkPolicy/api-blue-test: egress[1] admits port 22/TCP on the API pods",
        "Pod/api-blue-test-readyz: egress does not admit the API pods on port 8080",
      ]);
      // A peer narrower or wider than the Service's selector: the AWS VPC CNI drops the ClusterIP.
      const notTheService = broken(docs(), (d) => {
        const [peer] = policy(d, "api-blue-test").egress![1].to as {
          podSelector: { matchLabels: Record<string, string> };
        }[];
        delete peer.podSelector.matchLabels["app.kubernetes.io/instance"];
      });
      expect(checkEgress(notTheService)).toEqual([
        expect.stringMatching(/^NetworkPolicy\/api-blue-test: egress\[1\] admits .*: neither/),
        "Pod/api-blue-test-readyz: egress does not admit the API pods on port 8080",
      ]);
      const otherNamespace = broken(docs(), (d) => {
        const [peer] = policy(d, "api-blue-test").egress![1].to!;
        peer.namespaceSelector = {};
      });
      expect(checkEgress(otherNamespace)).toContain(
        "Pod/api-blue-test-readyz: egress does not admit the API pods on port 8080",
      );
      const refused = broken(docs(), (d) => {
        const rule = policy(d, "api-blue").ingress![0];
        rule.from = rule.from!.filter((peer) => !("podSelector" in peer));
      });
      expect(checkEgress(refused)).toEqual([
        "Deployment/api-blue: ingress does not admit Pod/api-blue-test-readyz",
      ]);
    });

    it("38", () => {
      const noLimit = broken(docs(), (d) => delete api(d).resources.limits["ephemeral-storage"]);
      expect(checkEphemeralStorage(noLimit)).toEqual([
        "Deployment/api-blue container api: resources.limits.ephemeral-storage is missing",
      ]);
      const noRequest = broken(
        docs(),
        (d) => delete testPod(d).containers[0].resources.requests["ephemeral-storage"],
      );
      expect(checkEphemeralStorage(noRequest)).toEqual([
        "Pod/api-blue-test-readyz container readyz: resources.requests.ephemeral-storage is missing",
      ]);
      const unbounded = broken(docs(), (d) => {
        const tmp = pod(d).volumes.find((v) => v.name === "tmp") as { emptyDir: object };
        tmp.emptyDir = {};
      });
      expect(checkEphemeralStorage(unbounded)).toEqual([
        "Deployment/api-blue: emptyDir tmp has no sizeLimit",
      ]);
      const tooLarge = broken(docs(), (d) => {
        const tmp = pod(d).volumes.find((v) => v.name === "tmp") as {
          emptyDir: { sizeLimit: string };
        };
        tmp.emptyDir.sizeLimit = "1Gi";
      });
      expect(checkEphemeralStorage(tooLarge)).toEqual([
        "Deployment/api-blue: emptyDir tmp sizeLimit 1Gi exceeds the containers' ephemeral-storage limits (256Mi)",
      ]);
    });
  });
});
