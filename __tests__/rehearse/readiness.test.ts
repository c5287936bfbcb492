import { describe, expect, it } from "vitest";
import { failedReadyzChecks } from "../../scripts/rehearse/cluster/control-plane";
import {
  distinctNodeLabel,
  dryRunManifests,
  expectedZoneSpread,
  nodeUsable,
  podReady,
  podsOffLabel,
  renderedObjects,
  serverWarning,
  warningMessages,
  workloadPods,
  type KubeItem,
  type KubeList,
} from "../../scripts/rehearse/cluster/readiness";
import { WORKLOAD_ENV_LABEL } from "../../config/names";

function node(
  name: string,
  labels: Record<string, string>,
  ready = "True",
  taints: string[] = [],
): KubeItem {
  return {
    metadata: { name, labels },
    spec: { taints: taints.map((key) => ({ key, effect: "NoSchedule" })) },
    status: { conditions: [{ type: "Ready", status: ready }] },
  };
}

function pod(
  name: string,
  nodeName: string | undefined,
  ready = "True",
  extra: Partial<KubeItem["metadata"]> = {},
): KubeItem {
  return {
    metadata: { name, ...extra },
    spec: nodeName ? { nodeName } : {},
    status: { phase: "Running", conditions: [{ type: "Ready", status: ready }] },
  };
}

const nodes: KubeList = {
  items: [
    node("dev-a-0", { [WORKLOAD_ENV_LABEL]: "dev", "topology.kubernetes.io/zone": "eu-west-1a" }),
    node("dev-b-1", { [WORKLOAD_ENV_LABEL]: "dev", "topology.kubernetes.io/zone": "eu-west-1b" }),
    node("prod-a-0", { [WORKLOAD_ENV_LABEL]: "prod", "topology.kubernetes.io/zone": "eu-west-1a" }),
  ],
};

describe("API server readiness", () => {
  it("lists the failed checks of /readyz?verbose", () => {
    const body =
      "[+]ping ok\n[-]etcd failed: reason withheld\n[+]log ok\n[-]poststarthook/rbac/bootstrap-roles failed: not finished\nreadyz check failed";
    expect(failedReadyzChecks(body)).toEqual(["etcd", "poststarthook/rbac/bootstrap-roles"]);
    expect(failedReadyzChecks("[+]ping ok\n[+]etcd ok\nreadyz check passed")).toEqual([]);
  });
});

describe("nodes and pods", () => {
  it("a node is usable when Ready and without the not-ready taint", () => {
    expect(nodeUsable(node("n", {}))).toBe(true);
    expect(nodeUsable(node("n", {}, "False"))).toBe(false);
    expect(nodeUsable(node("n", {}, "True", ["node.kubernetes.io/not-ready"]))).toBe(false);
    expect(nodeUsable(node("n", {}, "True", ["dedicated"]))).toBe(true);
  });

  it("a pod is Ready only with its Ready condition and no deletion under way", () => {
    expect(podReady(pod("p", "n"))).toBe(true);
    expect(podReady(pod("p", "n", "False"))).toBe(false);
    expect(podReady(pod("p", "n", "True", { deletionTimestamp: "2025-01-01T00:00:00Z" }))).toBe(
      false,
    );
  });

  it("leaves helm test pods out of the workload", () => {
    const list = {
      items: [
        pod("api-1", "n"),
        pod("api-test", "n", "False", { annotations: { "helm.sh/hook": "test" } }),
      ],
    };
    expect(workloadPods(list).map((p) => p.metadata.name)).toEqual(["api-1"]);
  });

  it("names pods off their environment's nodes, unscheduled ones included", () => {
    const pods = [pod("a", "dev-a-0"), pod("b", "prod-a-0"), pod("c", undefined)];
    expect(podsOffLabel(pods, nodes, WORKLOAD_ENV_LABEL, "dev")).toEqual([
      `b (node prod-a-0, ${WORKLOAD_ENV_LABEL}=prod)`,
      `c (node none, ${WORKLOAD_ENV_LABEL}=unset)`,
    ]);
  });

  it("counts the zones pods run in, and how many to expect", () => {
    const pods = [pod("a", "dev-a-0"), pod("b", "dev-b-1"), pod("c", "dev-a-0")];
    expect(distinctNodeLabel(pods, nodes, "topology.kubernetes.io/zone")).toEqual([
      "eu-west-1a",
      "eu-west-1b",
    ]);
    expect(expectedZoneSpread(3, 2)).toBe(2);
    expect(expectedZoneSpread(1, 3)).toBe(1);
  });
});

describe("helm and event output", () => {
  it("splits a dry-run release into its manifest and hook manifests", () => {
    const out = JSON.stringify({
      manifest: "kind: A\n",
      hooks: [{ manifest: "kind: T\n" }, { manifest: "" }],
    });
    expect(dryRunManifests(out)).toEqual({ manifest: "kind: A\n", hooks: ["kind: T\n"] });
  });

  it("lists the objects of a rendered stream", () => {
    const stream =
      '---\n# Source: x\napiVersion: v1\nkind: Service\nmetadata:\n  name: api\n  namespace: ns\n---\n# empty\n---\nkind: Deployment\nmetadata:\n  labels: {a: b}\n  name: "api"\n';
    expect(renderedObjects(stream)).toEqual([
      { kind: "Service", name: "api", namespace: "ns" },
      { kind: "Deployment", name: "api" },
    ]);
  });

  it("keeps warning events only", () => {
    const events = {
      items: [
        { metadata: { name: "e1" }, type: "Normal", reason: "Scheduled", message: "ok" },
        {
          metadata: { name: "e2" },
          type: "Warning",
          reason: "FailedCreate",
          message: 'pods "x" is forbidden: exceeded quota: q',
          involvedObject: { kind: "ReplicaSet", name: "api-1" },
        },
      ],
    } as unknown as KubeList;
    expect(warningMessages(events)).toEqual([
      'ReplicaSet/api-1 FailedCreate: pods "x" is forbidden: exceeded quota: q',
    ]);
  });

  it("takes the server's warning out of helm's and kubectl's log lines", () => {
    const helm =
      'I1125 16:36:16.887026   23356 warnings.go:110] "Warning: would violate PodSecurity \\"restricted:latest\\": runAsUser=0"';
    expect(serverWarning(helm)).toBe('would violate PodSecurity "restricted:latest": runAsUser=0');
    expect(serverWarning('Warning: would violate PodSecurity "restricted:latest": x')).toBe(
      'would violate PodSecurity "restricted:latest": x',
    );
    expect(serverWarning("  plain  ")).toBe("plain");
  });
});
