/**
 * Fake nodes for kwok, one per desired node of every node group the shared stack created (as the
 * emulator's EKS API describes them), labelled as EKS labels managed nodes, spread round-robin
 * across the node groups' zones.
 */
import { KWOK_NODE_ANNOTATION } from "./control-plane";

/** A node group as `eks:DescribeNodegroup` returns it, reduced to what the nodes need. */
export interface NodeGroup {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Kubernetes taints (effect already `NoSchedule`, ...). */
  readonly taints: readonly { key: string; value?: string; effect: string }[];
  readonly desiredSize: number;
  readonly instanceTypes: readonly string[];
  readonly capacityType: string;
  /** Root volume of each node (the launch template's), which kubelet reports as ephemeral storage. */
  readonly diskSizeGiB: number;
  /** Availability zones of the node group's subnets. */
  readonly zones: readonly string[];
}

const TAINT_EFFECTS: Readonly<Record<string, string>> = {
  NO_SCHEDULE: "NoSchedule",
  NO_EXECUTE: "NoExecute",
  PREFER_NO_SCHEDULE: "PreferNoSchedule",
};

/** EKS's taint effect (`NO_SCHEDULE`) as Kubernetes spells it (`NoSchedule`). */
export function taintEffect(eksEffect: string): string {
  const effect = TAINT_EFFECTS[eksEffect];
  if (!effect) {
    throw new Error(
      `unknown EKS taint effect ${JSON.stringify(eksEffect)}; allowed: ${Object.keys(TAINT_EFFECTS).join(", ")}`,
    );
  }
  return effect;
}

/** Capacity of common instance types (vCPU, memory, the VPC CNI's max pods without prefixes). */
export const INSTANCE_CAPACITY: Readonly<
  Record<string, { cpu: string; memory: string; pods: number }>
> = {
  "t3.medium": { cpu: "2", memory: "4Gi", pods: 17 },
  "t3.large": { cpu: "2", memory: "8Gi", pods: 35 },
  "t3a.large": { cpu: "2", memory: "8Gi", pods: 35 },
  "t3.xlarge": { cpu: "4", memory: "16Gi", pods: 58 },
  "m5.large": { cpu: "2", memory: "8Gi", pods: 29 },
  "m6i.large": { cpu: "2", memory: "8Gi", pods: 29 },
  "m7i.large": { cpu: "2", memory: "8Gi", pods: 29 },
  "m6i.xlarge": { cpu: "4", memory: "16Gi", pods: 58 },
  "m7i.xlarge": { cpu: "4", memory: "16Gi", pods: 58 },
  "c6i.large": { cpu: "2", memory: "4Gi", pods: 29 },
  "r6i.large": { cpu: "2", memory: "16Gi", pods: 29 },
};
/** Used for an instance type the table does not know (reported by the rehearsal). */
export const FALLBACK_CAPACITY = { cpu: "2", memory: "8Gi", pods: 29 };

export function capacityOf(instanceType: string | undefined): {
  cpu: string;
  memory: string;
  pods: number;
  known: boolean;
} {
  const known = instanceType !== undefined ? INSTANCE_CAPACITY[instanceType] : undefined;
  return { ...(known ?? FALLBACK_CAPACITY), known: known !== undefined };
}

/**
 * Ephemeral storage of a node whose root volume is `diskSizeGiB`: kubelet reports the file
 * system as capacity and keeps back the hard eviction threshold (`nodefs.available<10%`).
 */
export function ephemeralStorage(diskSizeGiB: number): { capacity: string; allocatable: string } {
  if (!Number.isInteger(diskSizeGiB) || diskSizeGiB <= 0) {
    throw new Error(
      `diskSizeGiB: got ${JSON.stringify(diskSizeGiB)}; allowed: a whole number of GiB above 0`,
    );
  }
  const mi = diskSizeGiB * 1024;
  return { capacity: `${mi}Mi`, allocatable: `${Math.floor(mi * 0.9)}Mi` };
}

/**
 * Node manifests for every node group, `desiredSize` nodes each, over the group's own zones
 * round-robin.
 */
export function nodeManifests(
  groups: readonly NodeGroup[],
  region: string,
): Record<string, unknown>[] {
  const nodes: Record<string, unknown>[] = [];
  for (const group of groups) {
    if (group.zones.length === 0) throw new Error(`node group ${group.name} has no subnets`);
    const zones = [...group.zones].sort();
    for (let i = 0; i < group.desiredSize; i++) {
      const zone = zones[i % zones.length]!;
      const instanceType = group.instanceTypes[i % Math.max(group.instanceTypes.length, 1)];
      const capacity = capacityOf(instanceType);
      const name = `${group.name}-${zone.slice(-1)}-${i}`;
      const resources = { cpu: capacity.cpu, memory: capacity.memory, pods: String(capacity.pods) };
      const storage = ephemeralStorage(group.diskSizeGiB);
      nodes.push({
        apiVersion: "v1",
        kind: "Node",
        metadata: {
          name,
          annotations: { [KWOK_NODE_ANNOTATION]: "fake", "node.alpha.kubernetes.io/ttl": "0" },
          labels: {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "topology.kubernetes.io/region": region,
            "topology.kubernetes.io/zone": zone,
            ...(instanceType ? { "node.kubernetes.io/instance-type": instanceType } : {}),
            "eks.amazonaws.com/nodegroup": group.name,
            "eks.amazonaws.com/capacityType": group.capacityType,
            type: "kwok",
            ...group.labels,
          },
        },
        spec: group.taints.length > 0 ? { taints: group.taints } : {},
        status: {
          capacity: { ...resources, "ephemeral-storage": storage.capacity },
          allocatable: { ...resources, "ephemeral-storage": storage.allocatable },
        },
      });
    }
  }
  return nodes;
}
