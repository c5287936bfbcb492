import { describe, expect, it } from "vitest";
import {
  capacityOf,
  ephemeralStorage,
  nodeManifests,
  taintEffect,
  type NodeGroup,
} from "../../scripts/rehearse/cluster/nodes";
import { WORKLOAD_ENV_LABEL } from "../../config/names";

const group: NodeGroup = {
  name: "prod",
  labels: { [WORKLOAD_ENV_LABEL]: "prod" },
  taints: [],
  desiredSize: 4,
  instanceTypes: ["m6i.large", "mystery.large"],
  capacityType: "ON_DEMAND",
  diskSizeGiB: 50,
  zones: ["eu-west-1c", "eu-west-1a", "eu-west-1b"],
};

describe("fake nodes", () => {
  const nodes = nodeManifests([group], "eu-west-1") as {
    metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> };
    status: { capacity: Record<string, string>; allocatable: Record<string, string> };
  }[];

  it("creates desiredSize nodes, round-robin over the zones, labelled like EKS nodes", () => {
    expect(nodes.map((n) => n.metadata.name)).toEqual([
      "prod-a-0",
      "prod-b-1",
      "prod-c-2",
      "prod-a-3",
    ]);
    expect(nodes.map((n) => n.metadata.labels["topology.kubernetes.io/zone"])).toEqual([
      "eu-west-1a",
      "eu-west-1b",
      "eu-west-1c",
      "eu-west-1a",
    ]);
    expect(nodes[0]!.metadata.labels).toMatchObject({
      [WORKLOAD_ENV_LABEL]: "prod",
      "eks.amazonaws.com/nodegroup": "prod",
      "kubernetes.io/hostname": "prod-a-0",
      "node.kubernetes.io/instance-type": "m6i.large",
    });
    expect(nodes[0]!.metadata.annotations["kwok.x-k8s.io/node"]).toBe("fake");
  });

  it("sizes nodes by instance type, falling back for an unknown one", () => {
    expect(nodes[0]!.status.capacity).toEqual({
      cpu: "2",
      memory: "8Gi",
      pods: "29",
      "ephemeral-storage": "51200Mi",
    });
    expect(capacityOf("mystery.large")).toMatchObject({ known: false, cpu: "2" });
    expect(capacityOf("t3.large")).toMatchObject({ known: true, pods: 35 });
  });

  it("reports the root volume as ephemeral storage, less the eviction threshold", () => {
    // Without it, a pod that requests ephemeral-storage (the chart's do) never schedules.
    expect(nodes[0]!.status.allocatable["ephemeral-storage"]).toBe("46080Mi");
    expect(ephemeralStorage(20)).toEqual({ capacity: "20480Mi", allocatable: "18432Mi" });
    expect(() => ephemeralStorage(0)).toThrow(/diskSizeGiB: got 0; allowed: a whole number/);
  });

  it("spells EKS taint effects as Kubernetes does, and refuses an unknown one", () => {
    expect(taintEffect("NO_SCHEDULE")).toBe("NoSchedule");
    expect(taintEffect("PREFER_NO_SCHEDULE")).toBe("PreferNoSchedule");
    expect(() => taintEffect("NEVER")).toThrow(
      /unknown EKS taint effect "NEVER"; allowed: NO_SCHEDULE/,
    );
  });

  it("refuses a node group without subnets", () => {
    expect(() => nodeManifests([{ ...group, zones: [] }], "eu-west-1")).toThrow(
      /prod has no subnets/,
    );
  });
});
