/**
 * The Kubernetes rehearsal (`npm run rehearse:k8s`): starts a real control plane on 127.0.0.1 with
 * kwok nodes shaped like the shared stack's node groups, deploys every application stack exactly as
 * synthesized (namespaces, quotas, limit ranges, Helm releases), checks what the server admitted,
 * and rehearses the failures a user would meet. See docs/rehearse-k8s.md.
 *
 *   tsx scripts/k8s-rehearsal/rehearse.ts [--skip-synth] [--keep-logs]
 *
 * Environment: TOOLS_DIR (default <repo>/.tools), CDKTF_OUTDIR (default <repo>/cdktf.out).
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { CLIENT_ENV, planLayout, startControlPlane } from "./lib/control-plane";
import {
  helmLintArgs,
  helmServerDryRunArgs,
  helmUpgradeArgs,
  type HelmOverrides,
} from "./lib/helm-args";
import { Clients, selectorString } from "./lib/kube";
import { nodeManifests, capacityOf } from "./lib/nodes";
import {
  cleanupAll,
  installSignalHandlers,
  isStopping,
  RehearsalError,
  removeOnExit,
  run,
  waitFor,
} from "./lib/processes";
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
} from "./lib/readiness";
import {
  awsRegion,
  deploymentPlan,
  followAttributePath,
  kubernetesObjects,
  kubernetesReads,
  nodeGroups,
  nodeZones,
  readStack,
  type HelmRelease,
  type KubeObject,
  type KubernetesRead,
  type PlanItem,
  type Stack,
} from "./lib/stack";
import type { Breakage } from "./post-render";
import { ensureTools } from "./lib/tools";

/** The node label that ties a node group to an environment (set on each environment's group). */
export const ENV_LABEL = "workload-env";
/** Timeout for the upgrades that are meant to fail: long enough to sample, short enough for CI. */
const FAILURE_TIMEOUT_SECONDS = 15;
/** Application stacks rehearsed first, in this order; any other stack with releases follows. */
const APP_STACK_ORDER = ["dev", "prod"];

const repoRoot = resolve(__dirname, "..", "..");
/** Command-line options (see docs/rehearse-k8s.md). */
const OPTIONS = ["--skip-synth", "--keep-logs", "--pause-on-failure"];
/** Set once the control plane is up: where to point kubectl when pausing on a failure. */
let pauseKubeconfig: string | undefined;

interface StepResult {
  label: string;
  seconds: number;
  ok: boolean;
}
const results: StepResult[] = [];

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Runs and times one step, printing its label, its outcome and what it proved. */
async function step(label: string, body: () => Promise<void | string>): Promise<void> {
  const start = Date.now();
  log(`▶ ${label}`);
  try {
    const proved = await body();
    const seconds = (Date.now() - start) / 1000;
    results.push({ label, seconds, ok: true });
    log(
      `✔ ${label} (${seconds.toFixed(1)}s)${proved ? `\n    ${proved.replace(/\n/g, "\n    ")}` : ""}`,
    );
  } catch (error) {
    const seconds = (Date.now() - start) / 1000;
    results.push({ label, seconds, ok: false });
    log(`✘ ${label} (${seconds.toFixed(1)}s)`);
    throw error;
  }
}

function fail(message: string): never {
  throw new RehearsalError(message);
}

function expect(condition: boolean, message: string): asserts condition {
  if (!condition) fail(message);
}

// --- setup ---------------------------------------------------------------------------------------

function appStacks(outDir: string): Stack[] {
  const dir = join(outDir, "stacks");
  const names = existsSync(dir) ? readdirSync(dir) : [];
  const stacks = names
    .filter((name) => name !== "shared" && existsSync(join(dir, name, "cdk.tf.json")))
    .map((name) => readStack(outDir, name))
    .filter((stack) => (stack.json.resource?.helm_release ?? undefined) !== undefined);
  for (const required of APP_STACK_ORDER) {
    if (!stacks.some((s) => s.name === required)) {
      fail(
        `stack ${required} has no helm_release in ${dir}/${required}/cdk.tf.json; run \`npm run synth\``,
      );
    }
  }
  const rank = (name: string): number => {
    const i = APP_STACK_ORDER.indexOf(name);
    return i === -1 ? APP_STACK_ORDER.length : i;
  };
  return stacks.sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
}

async function createNodes(k: Clients, shared: Stack): Promise<{ zones: string[]; nodes: number }> {
  const groups = nodeGroups(shared);
  const zones = nodeZones(shared);
  const manifests = nodeManifests(groups, zones, awsRegion(shared));
  for (const type of new Set(groups.flatMap((g) => g.instanceTypes))) {
    if (!capacityOf(type).known) log(`    note: capacity of ${type} unknown, using 2 CPU / 8Gi`);
  }
  await k.kubectlOk(
    ["create", "-f", "-"],
    JSON.stringify({ apiVersion: "v1", kind: "List", items: manifests }),
  );
  // Status is a subresource: set capacity after creation (kwok keeps what it finds).
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
  for (const group of groups) {
    log(
      `    ${group.name}: ${group.desiredSize} node(s), labels ${JSON.stringify(group.labels)}${group.taints.length ? `, taints ${JSON.stringify(group.taints)}` : ""}`,
    );
  }
  return { zones, nodes: manifests.length };
}

/** The control plane enforces Pod Security: a root, privileged pod is refused in a restricted namespace. */
async function proveAdmission(k: Clients): Promise<string> {
  const ns = "rehearsal-admission-probe";
  await k.kubectlOk(["create", "namespace", ns]);
  await k.kubectlOk(["label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted"]);
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
  expect(
    res.status !== 0,
    "a root pod was admitted into a namespace enforcing restricted: PodSecurity admission is off",
  );
  expect(
    /violates PodSecurity "restricted/.test(res.stderr),
    `unexpected refusal: ${res.stderr.trim()}`,
  );
  return `PodSecurity admission is on: ${res.stderr.trim().split("\n")[0]}`;
}

// --- releases ------------------------------------------------------------------------------------

interface Deployed {
  stack: Stack;
  release: HelmRelease;
  valuesFiles: string[];
  /** The rendered hook manifests (helm test pods), dry-run once the release exists. */
  hooks?: string[];
}

function writeValues(workDir: string, release: HelmRelease): string[] {
  return release.values.map((doc, i) => {
    const file = join(workDir, `${release.namespace}-${release.name}-values-${i}.yaml`);
    writeFileSync(file, doc, { mode: 0o600 });
    return file;
  });
}

async function applyObjects(
  k: Clients,
  stack: Stack,
  objects: readonly KubeObject[],
): Promise<string> {
  const lines: string[] = [];
  for (const { address, manifest } of objects) {
    const res = await k.kubectl(
      ["apply", "--server-side", "--field-manager=terraform", "-f", "-"],
      JSON.stringify(manifest),
    );
    if (res.status !== 0) fail(`${address}: the server refused it:\n${res.stderr.trim()}`);
    const meta = manifest.metadata as { name: string; namespace?: string };
    lines.push(`${address} → ${String(manifest.kind)}/${meta.name}`);
    // The Kubernetes provider waits for a LoadBalancer Service's address unless told not to.
    const [type, id] = address.split(".") as [string, string];
    const attrs = stack.json.resource?.[type]?.[id] ?? {};
    const spec = manifest.spec as { type?: string } | undefined;
    if (
      manifest.kind === "Service" &&
      spec?.type === "LoadBalancer" &&
      attrs.wait_for_load_balancer !== false
    ) {
      const host = await waitFor(
        `a load balancer address for ${address}`,
        async () => {
          const svc = await k.getJson<{
            status: { loadBalancer?: { ingress?: { hostname?: string }[] } };
          }>("service", meta.name, meta.namespace);
          return svc.status.loadBalancer?.ingress?.[0]?.hostname;
        },
        60_000,
      );
      lines.push(`    load balancer ${host} (faked)`);
    }
  }
  return lines.join("\n");
}

/** Has the server dry-run a YAML stream, refusing warnings too. */
async function dryRunCreate(k: Clients, namespace: string, stream: string, what: string) {
  const res = await k.kubectl(
    ["create", "--dry-run=server", "--warnings-as-errors", "-n", namespace, "-f", "-"],
    stream,
  );
  expect(
    res.status === 0,
    `the server refused a rendered manifest of ${what}:\n${res.stderr.trim()}`,
  );
  return renderedObjects(stream).map((o) => `${o.kind}/${o.name}`);
}

/**
 * Renders with the server (`helm install --dry-run=server`) and has the server dry-run the release's
 * manifests. Hook manifests (the test pod) need the release's ServiceAccount, so they are dry-run
 * after the install; they are returned for that.
 */
async function serverDryRun(k: Clients, d: Deployed): Promise<string> {
  const { release, valuesFiles } = d;
  const lint = helmLintArgs(release, valuesFiles);
  if (lint) await k.helmOk(lint);
  const rendered = await k.helmOk(helmServerDryRunArgs(release, valuesFiles));
  const warnings = rendered.stderr.split("\n").filter((l) => /warning/i.test(l));
  expect(warnings.length === 0, `helm install --dry-run=server warned:\n${warnings.join("\n")}`);
  const { manifest, hooks } = dryRunManifests(rendered.stdout);
  d.hooks = hooks;
  const objects = await dryRunCreate(k, release.namespace, manifest, release.address);
  return `${objects.length} manifests admitted by a server-side dry run without warnings: ${objects.join(", ")}`;
}

async function install(k: Clients, d: Deployed): Promise<string> {
  const args = helmUpgradeArgs(d.release, d.valuesFiles);
  log(`    helm ${args.join(" ")}`);
  const res = await k.helmOk(args);
  const status = await k.releaseStatus(d.release.name, d.release.namespace);
  expect(
    status?.status === "deployed",
    `${d.release.address}: release status ${status?.status ?? "missing"}`,
  );
  const hooks = await dryRunCreate(
    k,
    d.release.namespace,
    (d.hooks ?? []).join("\n---\n"),
    `${d.release.address} (hooks)`,
  );
  return [
    `revision ${status.version} deployed${res.stderr.trim() ? `; helm said: ${res.stderr.trim()}` : ""}`,
    `hooks admitted by a server-side dry run without warnings: ${hooks.join(", ") || "none"}`,
  ].join("\n");
}

interface ReleaseObjects {
  deployment: KubeItem & {
    spec: { selector: { matchLabels: Record<string, string> }; replicas?: number };
  };
  kinds: Map<string, string[]>;
}

async function releaseObjects(k: Clients, release: HelmRelease): Promise<ReleaseObjects> {
  const manifest = (await k.helmOk(["get", "manifest", release.name, "-n", release.namespace]))
    .stdout;
  const objects = renderedObjects(manifest);
  const kinds = new Map<string, string[]>();
  for (const o of objects) kinds.set(o.kind, [...(kinds.get(o.kind) ?? []), o.name]);
  // Every object of the release exists on the server.
  const found = await k.kubectlOk(
    ["get", "-f", "-", "-n", release.namespace, "-o", "name"],
    manifest,
  );
  expect(
    found.trim().split("\n").length === objects.length,
    `not every object of ${release.address} is on the server`,
  );
  const deployments = kinds.get("Deployment") ?? [];
  expect(
    deployments.length === 1,
    `${release.address}: expected one Deployment, found ${deployments.length}`,
  );
  const deployment = await k.getJson<ReleaseObjects["deployment"]>(
    "deployment",
    deployments[0]!,
    release.namespace,
  );
  return { deployment, kinds };
}

function matches(
  selector: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>> = {},
): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

async function checkRelease(
  k: Clients,
  d: Deployed,
  zonesAvailable: Map<string, number>,
): Promise<string> {
  const { release, stack } = d;
  const ns = release.namespace;
  const lines: string[] = [];
  const { deployment, kinds } = await releaseObjects(k, release);
  const selector = deployment.spec.selector.matchLabels;

  // Namespace enforces restricted, and the server finds no running pod that violates it.
  const namespace = await k.getJson<KubeItem>("namespace", ns);
  expect(
    namespace.metadata.labels?.["pod-security.kubernetes.io/enforce"] === "restricted",
    `namespace ${ns} does not enforce Pod Security restricted (labels ${JSON.stringify(namespace.metadata.labels)})`,
  );
  const relabel = await k.kubectl([
    "label",
    "namespace",
    ns,
    "pod-security.kubernetes.io/enforce=restricted",
    "--overwrite",
    "--dry-run=server",
  ]);
  expect(
    relabel.status === 0 && !/Warning/i.test(relabel.stderr),
    `the server reports pods in ${ns} that violate restricted:\n${relabel.stderr.trim()}`,
  );

  // Pods: all Ready, as many as the Deployment wants, on nodes of this environment, across zones.
  const pods = workloadPods(await k.getList("pods", ns, selectorString(selector)));
  const dep = await k.getJson<
    KubeItem & { spec: { replicas: number }; status: { readyReplicas?: number } }
  >("deployment", deployment.metadata.name, ns);
  expect(pods.length > 0, `${release.address}: no pods`);
  expect(
    pods.every(podReady),
    `${release.address}: pods not Ready: ${pods
      .filter((p) => !podReady(p))
      .map((p) => p.metadata.name)
      .join(", ")}`,
  );
  expect(
    pods.length === dep.spec.replicas && dep.status.readyReplicas === dep.spec.replicas,
    `${release.address}: ${pods.length} pods, Deployment wants ${dep.spec.replicas}, ${dep.status.readyReplicas ?? 0} ready`,
  );
  const nodes = await k.getList("nodes");
  const off = podsOffLabel(pods, nodes, ENV_LABEL, stack.name);
  expect(
    off.length === 0,
    `${release.address}: pods outside the ${stack.name} node group: ${off.join("; ")}`,
  );
  const zones = distinctNodeLabel(pods, nodes, "topology.kubernetes.io/zone");
  const wanted = expectedZoneSpread(pods.length, zonesAvailable.get(stack.name) ?? 0);
  expect(
    zones.length >= wanted,
    `${release.address}: ${pods.length} pods in ${zones.length} zone(s) (${zones.join(", ")}), expected at least ${wanted}`,
  );
  lines.push(
    `Pod Security restricted: ${pods.length}/${dep.spec.replicas} pods admitted and Ready on ${ENV_LABEL}=${stack.name} nodes, zones ${zones.join(", ")}`,
  );

  // The objects the design promises are accepted and wired to the pods.
  for (const kind of [
    "Service",
    "NetworkPolicy",
    "PodDisruptionBudget",
    "HorizontalPodAutoscaler",
  ]) {
    expect((kinds.get(kind) ?? []).length > 0, `${release.address}: the release has no ${kind}`);
  }
  const podLabels = pods[0]!.metadata.labels ?? {};
  const pdb = await k.getJson<
    KubeItem & {
      spec: { selector: { matchLabels: Record<string, string> } };
      status: {
        expectedPods?: number;
        currentHealthy?: number;
        desiredHealthy?: number;
        disruptionsAllowed?: number;
      };
    }
  >("pdb", kinds.get("PodDisruptionBudget")![0]!, ns);
  const pdbStatus = await waitFor(
    "the disruption controller to count the pods",
    async () => {
      const p = await k.getJson<typeof pdb>("pdb", pdb.metadata.name, ns);
      return p.status.expectedPods === pods.length ? p.status : undefined;
    },
    30_000,
  ).catch(() =>
    fail(
      `${release.address}: PodDisruptionBudget ${pdb.metadata.name} selects ${pdb.status.expectedPods ?? 0} pods, the Deployment has ${pods.length}`,
    ),
  );
  expect(
    (pdbStatus.currentHealthy ?? 0) >= (pdbStatus.desiredHealthy ?? 0),
    `PodDisruptionBudget ${pdb.metadata.name} is not healthy: ${JSON.stringify(pdbStatus)}`,
  );
  lines.push(
    `PodDisruptionBudget ${pdb.metadata.name}: expects ${pdbStatus.expectedPods} pods, ${pdbStatus.currentHealthy} healthy, ${pdbStatus.disruptionsAllowed} disruption(s) allowed`,
  );

  const hpa = await k.getJson<
    KubeItem & {
      spec: {
        scaleTargetRef: { kind: string; name: string };
        minReplicas: number;
        maxReplicas: number;
      };
    }
  >("hpa", kinds.get("HorizontalPodAutoscaler")![0]!, ns);
  expect(
    hpa.spec.scaleTargetRef.kind === "Deployment" &&
      hpa.spec.scaleTargetRef.name === deployment.metadata.name,
    `HPA ${hpa.metadata.name} targets ${JSON.stringify(hpa.spec.scaleTargetRef)}`,
  );
  lines.push(
    `HorizontalPodAutoscaler ${hpa.metadata.name}: ${hpa.spec.minReplicas}..${hpa.spec.maxReplicas} replicas of Deployment/${deployment.metadata.name}`,
  );

  for (const name of kinds.get("NetworkPolicy")!) {
    const np = await k.getJson<
      KubeItem & {
        spec: {
          podSelector: { matchLabels?: Record<string, string> };
          ingress?: { ports?: { port: unknown }[] }[];
        };
      }
    >("networkpolicy", name, ns);
    expect(
      matches(np.spec.podSelector.matchLabels ?? {}, podLabels),
      `NetworkPolicy ${name} does not select the pods`,
    );
    const ports = (np.spec.ingress ?? []).flatMap((r) =>
      (r.ports ?? []).map((p) => String(p.port)),
    );
    lines.push(
      `NetworkPolicy ${name}: admitted, selects the pods, ingress ports ${ports.join(", ") || "none"}`,
    );
  }

  for (const name of kinds.get("Service")!) {
    const svc = await k.getJson<
      KubeItem & {
        spec: { type: string };
        status: { loadBalancer?: { ingress?: { hostname?: string }[] } };
      }
    >("service", name, ns);
    const ready = await waitFor(
      `endpoints of Service ${name}`,
      async () => {
        const slices = await k.getList<{ endpoints?: { conditions?: { ready?: boolean } }[] }>(
          "endpointslices",
          ns,
          `kubernetes.io/service-name=${name}`,
        );
        const count = slices.items
          .flatMap((s) => s.endpoints ?? [])
          .filter((e) => e.conditions?.ready).length;
        return count === pods.length ? count : undefined;
      },
      30_000,
    ).catch(() =>
      fail(
        `${release.address}: Service ${name} does not route to the ${pods.length} Ready pods (its selector or port does not match them)`,
      ),
    );
    const lb = svc.status.loadBalancer?.ingress?.[0]?.hostname;
    lines.push(
      `Service ${name} (${svc.spec.type}): ${ready} ready endpoints${lb ? `, load balancer ${lb} (faked)` : ""}`,
    );
  }

  // Quota and limits of the namespace as the server counts them.
  const quotas = await k.getList<{
    metadata: { name: string };
    status?: { used?: Record<string, string>; hard?: Record<string, string> };
  }>("resourcequota", ns);
  for (const q of quotas.items) {
    lines.push(
      `ResourceQuota ${q.metadata.name}: used ${Object.entries(q.status?.used ?? {})
        .map(([r, v]) => `${r}=${v}/${q.status?.hard?.[r] ?? "?"}`)
        .join(", ")}`,
    );
  }

  // helm test: the chart's test pod is admitted, scheduled and (kwok) completes.
  const testStart = Date.now();
  const test = await k.helm(["test", release.name, "-n", ns, "--timeout", "120s"]);
  const testSeconds = ((Date.now() - testStart) / 1000).toFixed(1);
  expect(
    test.status === 0,
    `helm test ${release.name} failed:\n${(test.stderr || test.stdout).trim()}`,
  );
  const phase = /Phase:\s*(\S+)/.exec(test.stdout)?.[1];
  lines.push(
    `helm test: ${phase ?? "passed"} in ${testSeconds}s (test pod admitted under restricted and scheduled; kwok completes it)`,
  );
  return lines.join("\n");
}

/** Every Service the stack manages itself routes to the Ready pods its selector picks, and only to them. */
async function checkManagedServices(k: Clients, stack: Stack): Promise<string> {
  const lines: string[] = [];
  for (const { address, manifest } of kubernetesObjects(stack).filter(
    (o) => o.manifest.kind === "Service",
  )) {
    const meta = manifest.metadata as { name: string; namespace: string };
    const selector = (manifest.spec as { selector?: Record<string, string> }).selector ?? {};
    const pods = workloadPods(
      await k.getList("pods", meta.namespace, selectorString(selector)),
    ).filter(podReady);
    expect(
      pods.length > 0,
      `${address}: no Ready pod matches its selector ${selectorString(selector)}`,
    );
    const endpoints = await waitFor(
      `endpoints of ${address}`,
      async () => {
        const slices = await k.getList<{
          endpoints?: { conditions?: { ready?: boolean }; targetRef?: { name?: string } }[];
        }>("endpointslices", meta.namespace, `kubernetes.io/service-name=${meta.name}`);
        const ready = slices.items
          .flatMap((sl) => sl.endpoints ?? [])
          .filter((e) => e.conditions?.ready);
        return ready.length === pods.length ? ready : undefined;
      },
      30_000,
    ).catch(() =>
      fail(
        `${address}: does not route to exactly the ${pods.length} Ready pods its selector picks`,
      ),
    );
    const names = new Set(endpoints.map((e) => e.targetRef?.name));
    expect(
      pods.every((p) => names.has(p.metadata.name)),
      `${address}: routes to pods other than ${pods.map((p) => p.metadata.name).join(", ")}`,
    );
    lines.push(
      `${address} → Service/${meta.name}: ${endpoints.length} ready endpoints, selector ${selectorString(selector)}`,
    );
  }
  return lines.join("\n");
}

/** Every object a stack reads with a data source exists, with the attributes its outputs use. */
async function checkReads(k: Clients, reads: readonly KubernetesRead[]): Promise<string> {
  const lines: string[] = [];
  for (const read of reads) {
    const res = await k.kubectl([
      "get",
      read.kind,
      read.name,
      "-o",
      "json",
      ...(read.namespace ? ["-n", read.namespace] : []),
    ]);
    expect(res.status === 0, `${read.address}: ${res.stderr.trim()}`);
    const object: unknown = JSON.parse(res.stdout);
    const values = read.outputPaths.map((path) => {
      const value = followAttributePath(object, path);
      expect(
        value !== undefined && value !== "",
        `${read.address}.${path}, which an output reads, is empty on the server`,
      );
      return `${path}=${String(value)}`;
    });
    lines.push(`${read.address} → ${read.kind}/${read.name} ${values.join(", ")}`.trim());
  }
  return lines.join("\n");
}

// --- failure rehearsals ----------------------------------------------------------------------------

/** Ready pods per pod-template-hash of the release's Deployment. */
async function readyByTemplate(
  k: Clients,
  ns: string,
  selector: string,
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const pod of workloadPods(await k.getList("pods", ns, selector))) {
    const hash = pod.metadata.labels?.["pod-template-hash"] ?? "?";
    if (podReady(pod)) counts.set(hash, (counts.get(hash) ?? 0) + 1);
  }
  return counts;
}

async function failingUpgrade(
  k: Clients,
  d: Deployed,
  overrides: HelmOverrides,
  sample?: (tick: () => Promise<void>) => void,
): Promise<{
  output: string;
  before: number;
  after: { version: number; status: string; description: string };
}> {
  const before = await k.releaseStatus(d.release.name, d.release.namespace);
  expect(
    before?.status === "deployed",
    `${d.release.address} is not deployed before the failure rehearsal`,
  );
  const args = helmUpgradeArgs(d.release, d.valuesFiles, {
    timeoutSeconds: FAILURE_TIMEOUT_SECONDS,
    ...overrides,
  });
  const running = k.helm(args);
  if (sample) {
    let done = false;
    void running.then(() => (done = true));
    sample(async () => {
      while (!done) await new Promise((r) => setTimeout(r, 500));
    });
  }
  const res = await running;
  const output = `${res.stdout}\n${res.stderr}`.trim();
  expect(res.status !== 0, `the broken upgrade of ${d.release.address} succeeded:\n${output}`);
  const after = await k.releaseStatus(d.release.name, d.release.namespace);
  expect(after !== undefined, `${d.release.address} disappeared after the failed upgrade`);
  return { output, before: before.version, after };
}

function firstLine(text: string, pattern: RegExp): string {
  return (
    text
      .split("\n")
      .find((l) => pattern.test(l))
      ?.trim() ?? ""
  );
}

async function rehearseNeverReady(k: Clients, d: Deployed): Promise<string> {
  const ns = d.release.namespace;
  const { deployment } = await releaseObjects(k, d.release);
  const selector = selectorString(deployment.spec.selector.matchLabels);
  const start = await readyByTemplate(k, ns, selector);
  expect(
    start.size === 1,
    `expected one ReplicaSet's pods before the upgrade, found ${JSON.stringify([...start])}`,
  );
  const [[hash, readyBefore]] = [...start] as [[string, number]];
  let minReady = readyBefore;
  let samples = 0;
  let samplingError: unknown;
  let sampling: Promise<void> = Promise.resolve();
  const { output, before, after } = await failingUpgrade(
    k,
    d,
    // No node carries this label, so the new pods stay Pending and never become ready.
    { extraArgs: ["--set", `nodeSelector.${ENV_LABEL}=rehearsal-no-such-node-group`] },
    (untilDone) => {
      let finished = false;
      void untilDone().then(() => (finished = true));
      sampling = (async () => {
        while (!finished) {
          try {
            const counts = await readyByTemplate(k, ns, selector);
            minReady = Math.min(minReady, counts.get(hash) ?? 0);
            samples++;
          } catch (error) {
            samplingError = error;
          }
          await new Promise((r) => setTimeout(r, 500));
        }
      })();
    },
  );
  await sampling;
  if (samplingError) throw samplingError;
  const rolledBack = firstLine(output, /rolled back due to atomic/);
  expect(rolledBack !== "", `helm did not report an atomic rollback:\n${output}`);
  expect(
    after.status === "deployed" &&
      after.version === before + 2 &&
      /Rollback to/.test(after.description),
    `release after the failed upgrade: ${JSON.stringify(after)} (revision before: ${before})`,
  );
  expect(samples >= 5, `only ${samples} samples of the pods were taken during the upgrade`);
  expect(
    minReady >= readyBefore,
    `the previous revision's Ready pods dropped from ${readyBefore} to ${minReady} during the upgrade`,
  );
  const end = await readyByTemplate(k, ns, selector);
  expect(
    end.get(hash) === readyBefore && end.size === 1,
    `after the rollback: Ready pods per template ${JSON.stringify([...end])}`,
  );
  return [
    `user sees: ${rolledBack}`,
    `release: revision ${before} → failed ${before + 1} → ${after.description} (revision ${after.version}, ${after.status})`,
    `previous pods (template ${hash}): ${readyBefore} Ready before, at least ${minReady} Ready in each of ${samples} samples, ${end.get(hash)} after`,
  ].join("\n");
}

function postRenderer(workDir: string, breakage: Breakage): string {
  const file = join(workDir, `post-render-${breakage}.sh`);
  const tsx = join(repoRoot, "node_modules", ".bin", "tsx");
  const script = join(repoRoot, "scripts", "k8s-rehearsal", "post-render.ts");
  writeFileSync(file, `#!/bin/sh\nexec "${process.execPath}" "${tsx}" "${script}" ${breakage}\n`);
  chmodSync(file, 0o700);
  return file;
}

async function eventsSince(k: Clients, ns: string, pattern: RegExp): Promise<string> {
  return waitFor(
    `an event matching ${pattern}`,
    async () => warningMessages(await k.getList("events", ns)).find((m) => pattern.test(m)),
    30_000,
  );
}

async function rehearsePodSecurity(k: Clients, d: Deployed, workDir: string): Promise<string> {
  // 1. Through values: the chart's schema refuses a root UID before anything reaches the server.
  const before = await k.releaseStatus(d.release.name, d.release.namespace);
  const viaValues = await k.helm(
    helmUpgradeArgs(d.release, d.valuesFiles, {
      extraArgs: ["--set", "podSecurityContext.runAsUser=0"],
    }),
  );
  const afterValues = await k.releaseStatus(d.release.name, d.release.namespace);
  expect(viaValues.status !== 0, "helm accepted podSecurityContext.runAsUser=0");
  expect(
    afterValues?.version === before?.version,
    "a refused values change still created a revision",
  );
  const schemaLine = firstLine(viaValues.stderr, /runAsUser/);

  // 2. Through a broken template: the server refuses the pods; --atomic rolls back.
  const {
    output,
    before: rev,
    after,
  } = await failingUpgrade(k, d, {
    extraArgs: ["--post-renderer", postRenderer(workDir, "privilege-escalation")],
  });
  const warning = serverWarning(firstLine(output, /would violate PodSecurity/));
  expect(warning !== "", `helm did not relay the server's Pod Security warning:\n${output}`);
  const refused = await eventsSince(k, d.release.namespace, /violates PodSecurity "restricted/);
  const rolledBack = firstLine(output, /rolled back due to atomic/);
  expect(rolledBack !== "", `helm did not report an atomic rollback:\n${output}`);
  expect(
    after.status === "deployed" && /Rollback to/.test(after.description),
    `release after the refused upgrade: ${JSON.stringify(after)}`,
  );
  return [
    `values (runAsUser=0) refused by the chart schema, no new revision: ${schemaLine || viaValues.stderr.trim().split("\n")[0]}`,
    `rendered root/privilege-escalation pods: server warns: ${warning}`,
    `server refuses the pods: ${refused}`,
    `user sees: ${rolledBack}`,
    `release: revision ${rev} → ${after.description} (revision ${after.version}, ${after.status})`,
  ].join("\n");
}

async function rehearseSelectorMismatch(k: Clients, d: Deployed, workDir: string): Promise<string> {
  const { output, before, after } = await failingUpgrade(k, d, {
    extraArgs: ["--post-renderer", postRenderer(workDir, "selector-mismatch")],
  });
  const refusal = firstLine(
    output,
    /selector.? does not match template .?labels|field is immutable/,
  );
  expect(refusal !== "", `the server's refusal of the mismatched selector is missing:\n${output}`);
  expect(
    after.status === "deployed" && after.version !== before + 1,
    `release after the refused upgrade: ${JSON.stringify(after)}`,
  );
  return [
    `server says: ${refusal}`,
    `release stays deployed: ${after.description} (revision ${after.version})`,
  ].join("\n");
}

async function rehearseQuota(k: Clients, d: Deployed, stack: Stack): Promise<string> {
  const ns = `${d.release.namespace}-quota-rehearsal`;
  const original = kubernetesObjects(stack).filter((o) => {
    const meta = o.manifest.metadata as { name: string; namespace?: string };
    return meta.name === d.release.namespace || meta.namespace === d.release.namespace;
  });
  const namespace = original.find((o) => o.manifest.kind === "Namespace");
  expect(
    namespace !== undefined,
    `no namespace resource for ${d.release.namespace} in stack ${stack.name}`,
  );
  const copy = (o: Record<string, unknown>, kind: string): Record<string, unknown> => ({
    ...o,
    metadata: {
      ...(o.metadata as object),
      ...(kind === "Namespace" ? { name: ns } : { namespace: ns }),
    },
  });
  await k.kubectlOk(["create", "-f", "-"], JSON.stringify(copy(namespace.manifest, "Namespace")));
  try {
    for (const o of original.filter((o) => o.manifest.kind === "LimitRange")) {
      await k.kubectlOk(["create", "-f", "-"], JSON.stringify(copy(o.manifest, "LimitRange")));
    }
    // Room for exactly one pod: the release needs more.
    const quota = {
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: { name: "too-small", namespace: ns },
      spec: { hard: { pods: "1" } },
    };
    await k.kubectlOk(["create", "-f", "-"], JSON.stringify(quota));
    const release = { ...d.release, namespace: ns };
    const res = await k.helm(
      helmUpgradeArgs(release, d.valuesFiles, { timeoutSeconds: FAILURE_TIMEOUT_SECONDS }),
    );
    const output = `${res.stdout}\n${res.stderr}`;
    expect(
      res.status !== 0,
      `the release installed into a namespace with room for one pod:\n${output}`,
    );
    const exceeded = await eventsSince(k, ns, /exceeded quota/);
    const uninstalled = firstLine(output, /uninstalled due to atomic|rolled back due to atomic/);
    expect(uninstalled !== "", `helm did not report the atomic clean-up:\n${output}`);
    const status = await k.releaseStatus(release.name, ns);
    expect(
      status === undefined,
      `the failed install left release ${release.name} in ${ns}: ${JSON.stringify(status)}`,
    );
    return [
      `server says: ${exceeded}`,
      `user sees: ${uninstalled}`,
      `nothing left installed in ${ns}`,
    ].join("\n");
  } finally {
    await k.kubectl(["delete", "namespace", ns, "--wait=false"]);
  }
}

// --- main ------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  installSignalHandlers();
  const argv = process.argv.slice(2);
  for (const arg of argv) {
    if (!OPTIONS.includes(arg)) {
      fail(`unknown argument ${arg} (allowed: ${OPTIONS.join(", ")})`);
    }
  }
  const toolsDir = resolve(process.env.TOOLS_DIR ?? join(repoRoot, ".tools"));
  const outDir = resolve(process.env.CDKTF_OUTDIR ?? join(repoRoot, "cdktf.out"));
  const total = Date.now();

  const workDir = mkdtempSync(join(tmpdir(), "k8s-rehearsal-"));
  const shm = existsSync("/dev/shm")
    ? mkdtempSync("/dev/shm/k8s-rehearsal-etcd-")
    : join(workDir, "etcd");
  if (!argv.includes("--keep-logs")) removeOnExit(workDir);
  if (shm.startsWith("/dev/shm")) removeOnExit(shm);

  const bin = await ensureTools(
    repoRoot,
    toolsDir,
    [
      join(__dirname, "stages", "service-load-balancer.yaml"),
      join(__dirname, "stages", "pod-helm-test-complete.yaml"),
    ],
    step,
  );

  if (!argv.includes("--skip-synth")) {
    await step("synth (npm run synth)", async () => {
      const res = await run("npm", ["run", "--silent", "synth"], {
        cwd: repoRoot,
        env: { ...process.env, CDKTF_OUTDIR: outDir },
      });
      if (res.status !== 0) fail(`npm run synth failed:\n${(res.stderr || res.stdout).trim()}`);
    });
  }
  const shared = readStack(outDir, "shared");
  const stacks = appStacks(outDir);
  const byName = new Map([shared, ...stacks].map((s) => [s.name, s]));

  const layout = await planLayout(workDir, shm);
  const cp = await startControlPlane(bin, layout, (label, body) => step(`start ${label}`, body));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...CLIENT_ENV,
    KUBECONFIG: cp.kubeconfig,
    HELM_CACHE_HOME: join(workDir, "helm", "cache"),
    HELM_CONFIG_HOME: join(workDir, "helm", "config"),
    HELM_DATA_HOME: join(workDir, "helm", "data"),
  };
  const k = new Clients(bin.kubectl, bin.helm, env);
  if (argv.includes("--pause-on-failure")) pauseKubeconfig = cp.kubeconfig;
  log(`    control plane ${cp.server} (logs in ${join(workDir, "logs")})`);

  const zonesAvailable = new Map<string, number>();
  await step("kwok nodes from the shared stack's node groups", async () => {
    const { zones, nodes } = await createNodes(k, shared);
    const list = await k.getList("nodes");
    for (const node of list.items) {
      const env = node.metadata.labels?.[ENV_LABEL];
      if (!env) continue;
      const zonesOfEnv = new Set(
        list.items
          .filter((n) => n.metadata.labels?.[ENV_LABEL] === env)
          .map((n) => n.metadata.labels?.["topology.kubernetes.io/zone"]),
      );
      zonesAvailable.set(env, zonesOfEnv.size);
    }
    return `${nodes} nodes Ready across ${zones.join(", ")}`;
  });
  await step("Pod Security admission is enforced", () => proveAdmission(k));

  const deployed: Deployed[] = [];
  for (const stack of stacks) {
    // Terraform's order: what an item depends on first; consecutive objects are applied together.
    const plan = deploymentPlan(stack, byName);
    for (let i = 0; i < plan.length;) {
      const item = plan[i]!;
      if (item.kind === "object") {
        const batch: KubeObject[] = [];
        while (i < plan.length && plan[i]!.kind === "object") {
          batch.push((plan[i] as Extract<PlanItem, { kind: "object" }>).object);
          i++;
        }
        const kinds = [...new Set(batch.map((o) => String(o.manifest.kind)))].join(", ");
        await step(`${stack.name}: ${kinds}`, () => applyObjects(k, stack, batch));
        continue;
      }
      i++;
      const release = item.release;
      // A stack carries its chart as an asset; a missing folder means a stale synth.
      expect(
        existsSync(join(release.chart, "Chart.yaml")),
        `${release.address}.chart: ${release.chart} has no Chart.yaml (run \`npm run synth\`)`,
      );
      const d: Deployed = { stack, release, valuesFiles: writeValues(workDir, release) };
      await step(`${stack.name}: ${release.address} server-side dry run`, () => serverDryRun(k, d));
      await step(`${stack.name}: ${release.address} helm upgrade --install`, () => install(k, d));
      deployed.push(d);
    }
  }
  for (const d of deployed) {
    await step(`${d.stack.name}: ${d.release.address} checks`, () =>
      checkRelease(k, d, zonesAvailable),
    );
  }

  await step("NetworkPolicies admitted in every namespace with a release", async () => {
    const lines: string[] = [];
    for (const ns of [...new Set(deployed.map((d) => d.release.namespace))].sort()) {
      const policies = await k.getList("networkpolicies", ns);
      expect(policies.items.length > 0, `namespace ${ns} has a release but no NetworkPolicy`);
      lines.push(`${ns}: ${policies.items.map((p) => p.metadata.name).join(", ")}`);
    }
    return lines.join("\n");
  });

  for (const stack of stacks) {
    if (kubernetesObjects(stack).some((o) => o.manifest.kind === "Service")) {
      await step(`${stack.name}: Services the stack manages route to the ready pods`, () =>
        checkManagedServices(k, stack),
      );
    }
    const reads = kubernetesReads(stack);
    if (reads.length === 0) continue;
    await step(`${stack.name}: objects the stack reads back (data sources, outputs)`, () =>
      checkReads(k, reads),
    );
  }

  const target = deployed.find((d) => d.stack.name === "prod") ?? deployed[0]!;
  const name = `${target.stack.name}: ${target.release.name}`;
  await step(`failure: ${name} upgrade whose pods never become ready is rolled back`, () =>
    rehearseNeverReady(k, target),
  );
  await step(`failure: ${name} upgrade breaking Pod Security is refused`, () =>
    rehearsePodSecurity(k, target, workDir),
  );
  await step(`failure: ${name} upgrade breaking the selector labels is refused`, () =>
    rehearseSelectorMismatch(k, target, workDir),
  );
  await step(`failure: ${name} install into a namespace whose quota is too small`, () =>
    rehearseQuota(k, target, target.stack),
  );

  log(`\nsteps:`);
  for (const r of results)
    log(`  ${r.ok ? "✔" : "✘"} ${r.seconds.toFixed(1).padStart(7)}s  ${r.label}`);
  log(`  total ${((Date.now() - total) / 1000).toFixed(1)}s`);
  if (argv.includes("--keep-logs")) log(`logs kept in ${workDir}`);
}

if (require.main === module) {
  main()
    .then(() => cleanupAll())
    .then(() => process.exit(0))
    .catch(async (error: unknown) => {
      // A signal is stopping the run: its handler cleans up and exits with the signal's status.
      if (isStopping()) return new Promise<never>(() => undefined);
      process.stderr.write(
        `\nrehearse:k8s failed: ${error instanceof RehearsalError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      if (results.length > 0) {
        process.stderr.write(
          `\nsteps:\n${results.map((r) => `  ${r.ok ? "✔" : "✘"} ${r.seconds.toFixed(1).padStart(7)}s  ${r.label}`).join("\n")}\n`,
        );
      }
      if (pauseKubeconfig) {
        process.stderr.write(
          `\ncontrol plane kept running for inspection; press Ctrl-C to stop it:\n  export KUBECONFIG=${pauseKubeconfig}\n`,
        );
        await new Promise(() => undefined);
      }
      await cleanupAll();
      process.exit(1);
    });
}
