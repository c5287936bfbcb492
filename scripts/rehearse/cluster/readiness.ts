/**
 * Reads state from the API server's JSON (`kubectl get -o json`): node and pod readiness, where
 * pods landed, and the events that explain a failure. Pure functions, unit-tested.
 */
import { parseAllDocuments } from "yaml";

/** The fields of a Kubernetes object the checks read. */
export interface KubeItem {
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
    ownerReferences?: { kind: string; name: string }[];
  };
  spec?: Record<string, unknown> & {
    nodeName?: string;
    taints?: { key: string; effect: string; value?: string }[];
  };
  status?: Record<string, unknown> & {
    phase?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

export interface KubeList {
  items: KubeItem[];
}

function condition(item: KubeItem, type: string): string | undefined {
  return item.status?.conditions?.find((c) => c.type === type)?.status;
}

/** Taints the node lifecycle controller puts on nodes that are not (yet) ready. */
export const NOT_READY_TAINTS = [
  "node.kubernetes.io/not-ready",
  "node.kubernetes.io/unreachable",
  "node.cloudprovider.kubernetes.io/uninitialized",
];

/** A node is usable when Ready and free of the not-ready/unreachable taints. */
export function nodeUsable(node: KubeItem): boolean {
  const taints = node.spec?.taints ?? [];
  return (
    condition(node, "Ready") === "True" && !taints.some((t) => NOT_READY_TAINTS.includes(t.key))
  );
}

/** A pod counts as Ready when it is not being deleted and its Ready condition is True. */
export function podReady(pod: KubeItem): boolean {
  return pod.metadata.deletionTimestamp === undefined && condition(pod, "Ready") === "True";
}

/** Pods that belong to a workload (not helm test hooks or other bare pods). */
export function workloadPods(list: KubeList): KubeItem[] {
  return list.items.filter((pod) => pod.metadata.annotations?.["helm.sh/hook"] === undefined);
}

/** Where each pod runs: node name, and that node's labels. */
export function placement(
  pods: readonly KubeItem[],
  nodes: KubeList,
): { pod: string; node: string | undefined; labels: Record<string, string> }[] {
  const byName = new Map(nodes.items.map((n) => [n.metadata.name, n.metadata.labels ?? {}]));
  return pods.map((pod) => {
    const node = pod.spec?.nodeName;
    return { pod: pod.metadata.name, node, labels: (node && byName.get(node)) || {} };
  });
}

/** Pods not on a node whose `label` equals `value` (unscheduled pods included). */
export function podsOffLabel(
  pods: readonly KubeItem[],
  nodes: KubeList,
  label: string,
  value: string,
): string[] {
  return placement(pods, nodes)
    .filter((p) => p.labels[label] !== value)
    .map((p) => `${p.pod} (node ${p.node ?? "none"}, ${label}=${p.labels[label] ?? "unset"})`);
}

/** Distinct values of a node label across the nodes the pods run on. */
export function distinctNodeLabel(
  pods: readonly KubeItem[],
  nodes: KubeList,
  label: string,
): string[] {
  const values = new Set<string>();
  for (const p of placement(pods, nodes)) {
    const value = p.labels[label];
    if (value !== undefined) values.add(value);
  }
  return [...values].sort();
}

/** How many zones a set of pods should span at least: one per pod, up to the zones available. */
export function expectedZoneSpread(podCount: number, zonesAvailable: number): number {
  return Math.min(podCount, zonesAvailable);
}

/** Warning events' messages, oldest first (`kubectl get events -o json`). */
export function warningMessages(events: KubeList): string[] {
  return events.items
    .filter((e) => (e as unknown as { type?: string }).type === "Warning")
    .map((e) => {
      const event = e as unknown as {
        reason?: string;
        message?: string;
        involvedObject?: { kind?: string; name?: string };
      };
      return `${event.involvedObject?.kind ?? "?"}/${event.involvedObject?.name ?? "?"} ${event.reason ?? ""}: ${event.message ?? ""}`;
    });
}

/**
 * Splits `helm install --dry-run --output json` into the release manifest and the hooks' manifests.
 */
export function dryRunManifests(output: string): { manifest: string; hooks: string[] } {
  const release = JSON.parse(output) as { manifest?: string; hooks?: { manifest?: string }[] };
  return {
    manifest: release.manifest ?? "",
    hooks: (release.hooks ?? []).map((h) => h.manifest ?? "").filter((doc) => doc.trim() !== ""),
  };
}

/** The kind, name and namespace of every object in a rendered multi-document YAML stream. */
export function renderedObjects(
  yamlStream: string,
): { kind: string; name: string; namespace?: string }[] {
  return parseAllDocuments(yamlStream)
    .map((doc) => doc.toJSON() as KubeItem & { kind?: string })
    .filter((obj) => obj && typeof obj === "object" && obj.kind && obj.metadata?.name)
    .map((obj) => ({
      kind: obj.kind!,
      name: obj.metadata.name,
      ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
    }));
}

/**
 * The server's warning text from a client's log line: helm logs warnings through klog
 * (`I1125 ... warnings.go:110] "Warning: would violate ..."`), kubectl prints `Warning: ...`.
 */
export function serverWarning(line: string): string {
  const at = line.indexOf("Warning: ");
  if (at === -1) return line.trim();
  let text = line.slice(at + "Warning: ".length).trim();
  if (line.slice(0, at).endsWith('"') && text.endsWith('"')) {
    text = text.slice(0, -1).replace(/\\"/g, '"');
  }
  return text;
}
