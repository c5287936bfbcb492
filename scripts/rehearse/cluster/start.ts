/**
 * Starts the local cluster the environments deploy into: the control plane (etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler v1.37.2, kwok), one kwok node per desired node of every
 * node group the shared stack created (read back from the emulator's EKS API), and a proof that
 * Pod Security admission is on.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tool, TOOLS, TOOLS_DIR } from "../../toolchain";
import type { Children, CleanupStack } from "../processes";
import { RehearsalError, waitFor } from "../processes";
import type { Steps } from "../steps";
import { CLIENT_ENV, planLayout, startControlPlane, type Binaries } from "./control-plane";
import { Clients } from "./kube";
import { capacityOf, nodeManifests, taintEffect, type NodeGroup } from "./nodes";
import { nodeUsable } from "./readiness";

/** The stages this repository adds to kwok's own (a load balancer address, helm test pods). */
const OWN_STAGES = join(__dirname, "stages");

/** A started local cluster. */
export interface LocalCluster {
  /** The admin kubeconfig (what the providers, helm and kubectl use). */
  readonly kubeconfig: string;
  readonly clients: Clients;
  /** Environment for kubectl, helm and the providers: the kubeconfig and the client switches. */
  readonly env: Readonly<Record<string, string>>;
  /** The node groups the nodes were made from. */
  readonly nodeGroups: readonly NodeGroup[];
}

/** EKS's node group description, as `aws.py node-groups` prints it. */
interface DescribedNodeGroup extends Omit<NodeGroup, "taints"> {
  readonly taints: readonly { key: string; value?: string; effect: string }[];
}

function yamlFiles(dir: string): string[] {
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith(".yaml"))
        .sort()
        .map((f) => join(dir, f))
    : [];
}

/** The binaries `npm run tools -- --rehearsal` installed; throws naming what is missing. */
export function rehearsalBinaries(): Binaries {
  const stages = yamlFiles(TOOLS.kwokStages);
  const names = [
    "etcd",
    "kubeApiserver",
    "kubeControllerManager",
    "kubeScheduler",
    "kubectl",
    "kwok",
    "helm",
  ] as const;
  const missing = names.filter((name) => !existsSync(TOOLS[name]));
  if (stages.length === 0) missing.push("kwokStages" as never);
  if (missing.length > 0) {
    throw new RehearsalError(
      `${missing.join(", ")} missing from ${TOOLS_DIR}: run \`npm run tools -- --rehearsal\` (builds the control plane once, several minutes)`,
    );
  }
  return {
    etcd: tool("etcd"),
    kubeApiserver: tool("kubeApiserver"),
    kubeControllerManager: tool("kubeControllerManager"),
    kubeScheduler: tool("kubeScheduler"),
    kubectl: tool("kubectl"),
    kwok: tool("kwok"),
    helm: tool("helm"),
    kwokStages: [...stages, ...yamlFiles(OWN_STAGES)],
  };
}

/** Starts the cluster and its nodes; every process is stopped by `cleanup`. */
export async function startLocalCluster(options: {
  readonly steps: Steps;
  readonly children: Children;
  readonly cleanup: CleanupStack;
  readonly workdir: string;
  readonly region: string;
  /** The shared stack's node groups, from the emulator. */
  readonly describeNodeGroups: () => Promise<DescribedNodeGroup[]>;
}): Promise<LocalCluster> {
  const { steps, children, cleanup, workdir } = options;
  const bin = rehearsalBinaries();
  const dir = join(workdir, "cluster");
  mkdirSync(dir, { recursive: true });
  // etcd fsyncs on every write: in memory it keeps up with the API server on a small machine.
  const etcdData = existsSync("/dev/shm")
    ? mkdtempSync("/dev/shm/rehearse-etcd-")
    : join(dir, "etcd");
  cleanup.add(`folder ${etcdData}`, () => rmSync(etcdData, { recursive: true, force: true }));
  const layout = await planLayout(dir, etcdData);
  const cp = await startControlPlane(
    bin,
    layout,
    (label, body) => steps.run(`start ${label}`, body).then(() => undefined),
    cleanup,
  );
  const env = { ...CLIENT_ENV, KUBECONFIG: cp.kubeconfig };
  const k = new Clients(children, bin.kubectl, bin.helm, { ...process.env, ...env });

  const groups = await steps.run(
    "kwok nodes from the shared stack's node groups",
    async () => {
      const described = await options.describeNodeGroups();
      if (described.length === 0) throw new Error("the emulator's cluster has no node groups");
      const groups: NodeGroup[] = described.map((g) => ({
        ...g,
        taints: g.taints.map((t) => ({ ...t, effect: taintEffect(t.effect) })),
      }));
      const manifests = nodeManifests(groups, options.region);
      await k.kubectlOk(
        ["create", "-f", "-"],
        JSON.stringify({ apiVersion: "v1", kind: "List", items: manifests }),
      );
      // Status is a subresource: capacity is set after creation (kwok keeps what it finds).
      for (const node of manifests) {
        const meta = node.metadata as { name: string };
        await k.kubectlOk([
          "patch",
          "node",
          meta.name,
          "--subresource=status",
          "--type=merge",
          "-p",
          JSON.stringify({ status: node.status }),
        ]);
      }
      await waitFor(
        "every kwok node to be Ready without the not-ready taint",
        async () => {
          const list = await k.getList("nodes");
          return list.items.length === manifests.length && list.items.every(nodeUsable)
            ? true
            : undefined;
        },
        120_000,
        1000,
      );
      for (const type of new Set(groups.flatMap((g) => g.instanceTypes))) {
        if (!capacityOf(type).known) {
          options.steps.note(`capacity of ${type} unknown, using 2 CPU / 8Gi`);
        }
      }
      return groups;
    },
    (groups) =>
      groups
        .map(
          (g) =>
            `${g.name}: ${g.desiredSize} node(s) in ${g.zones.join(", ")}, labels ${JSON.stringify(g.labels)}`,
        )
        .join("; "),
  );

  await steps.run(
    "Pod Security admission is enforced",
    async () => {
      const ns = "rehearse-admission-probe";
      await k.kubectlOk(["create", "namespace", ns]);
      await k.kubectlOk([
        "label",
        "namespace",
        ns,
        "pod-security.kubernetes.io/enforce=restricted",
      ]);
      const pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "root", namespace: ns },
        spec: {
          containers: [{ name: "c", image: "busybox:1.37.0", securityContext: { runAsUser: 0 } }],
        },
      };
      const res = await k.kubectl(["create", "-f", "-"], JSON.stringify(pod));
      await k.kubectlOk(["delete", "namespace", ns, "--wait=false"]);
      if (res.status === 0) {
        throw new Error("a root pod was admitted into a namespace enforcing restricted");
      }
      if (!/violates PodSecurity "restricted/.test(res.stderr)) {
        throw new Error(`unexpected refusal: ${res.stderr.trim()}`);
      }
      return res.stderr.trim().split("\n")[0]!;
    },
    (line) => line,
  );

  return { kubeconfig: cp.kubeconfig, clients: k, env, nodeGroups: groups };
}
