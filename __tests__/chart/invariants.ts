/**
 * Checkers for docs/invariants.md 21–28, 37 and 38 on manifests rendered by `helm template`.
 * Each returns the list of violations (empty when the property holds), each naming the object and
 * the field.
 */
import { parseMemory } from "../../config/rules";
import type { Manifest } from "../helpers/helm";

interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  readOnlyRootFilesystem?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type?: string };
}

interface Probe {
  httpGet?: { path?: string; port?: string | number };
}

interface Container {
  name: string;
  image?: string;
  ports?: { name?: string; containerPort: number; hostPort?: number }[];
  env?: { name: string; value?: string }[];
  resources?: {
    requests?: Record<string, string | number>;
    limits?: Record<string, string | number>;
  };
  securityContext?: SecurityContext;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds?: number }; exec?: { command?: string[] } } };
}

interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  terminationGracePeriodSeconds?: number;
  securityContext?: SecurityContext;
  containers: Container[];
  initContainers?: Container[];
  volumes?: ({ name: string } & Record<string, unknown>)[];
  topologySpreadConstraints?: {
    topologyKey: string;
    labelSelector?: { matchLabels?: Record<string, string> };
  }[];
}

interface PodTemplate {
  metadata?: { labels?: Record<string, string> };
  spec: PodSpec;
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
}

/** A pod template (a Deployment's) or a bare Pod (the helm test hook), with where it came from. */
export interface PodView {
  readonly where: string;
  readonly labels: Record<string, string>;
  readonly spec: PodSpec;
}

const field = <T>(doc: Manifest, key: string): T => doc[key] as T;
const where = (doc: Manifest): string => `${doc.kind}/${doc.metadata.name}`;

/** Every pod the manifests would create: Deployment templates and bare Pods. */
export function pods(docs: readonly Manifest[]): PodView[] {
  const views: PodView[] = [];
  for (const doc of docs) {
    if (doc.kind === "Deployment") {
      const { template } = field<{ template: PodTemplate }>(doc, "spec");
      views.push({
        where: where(doc),
        labels: template.metadata?.labels ?? {},
        spec: template.spec,
      });
    } else if (doc.kind === "Pod") {
      views.push({
        where: where(doc),
        labels: doc.metadata.labels ?? {},
        spec: field<PodSpec>(doc, "spec"),
      });
    }
  }
  return views;
}

function deployments(docs: readonly Manifest[]): PodView[] {
  return pods(docs).filter((pod) => pod.where.startsWith("Deployment/"));
}

function containers(spec: PodSpec): Container[] {
  return [...(spec.initContainers ?? []), ...spec.containers];
}

/** True when every matchLabels entry of the selector is among the labels (and it selects something). */
export function selects(
  selector: LabelSelector | undefined,
  labels: Record<string, string>,
): boolean {
  const wanted = Object.entries(selector?.matchLabels ?? {});
  return wanted.length > 0 && wanted.every(([key, value]) => labels[key] === value);
}

/** 21: non-root, no privilege escalation, capabilities drop ALL, seccomp RuntimeDefault. */
export function checkPodSecurityRestricted(docs: readonly Manifest[]): string[] {
  const violations: string[] = [];
  for (const pod of pods(docs)) {
    const podContext = pod.spec.securityContext ?? {};
    for (const c of containers(pod.spec)) {
      const at = `${pod.where} container ${c.name}`;
      const context = c.securityContext ?? {};
      if ((context.runAsNonRoot ?? podContext.runAsNonRoot) !== true) {
        violations.push(`${at}: runAsNonRoot is not true`);
      }
      if (context.allowPrivilegeEscalation !== false) {
        violations.push(`${at}: allowPrivilegeEscalation is not false`);
      }
      if (!(context.capabilities?.drop ?? []).includes("ALL")) {
        violations.push(`${at}: capabilities.drop does not include ALL`);
      }
      if ((context.capabilities?.add ?? []).length > 0) {
        violations.push(`${at}: capabilities.add is not empty`);
      }
      const seccomp = context.seccompProfile?.type ?? podContext.seccompProfile?.type;
      if (seccomp !== "RuntimeDefault") {
        violations.push(`${at}: seccompProfile.type is ${String(seccomp)}, not RuntimeDefault`);
      }
    }
  }
  if (pods(docs).length === 0) violations.push("no pod is rendered");
  return violations;
}

/** Volume types Pod Security `restricted` admits. */
const RESTRICTED_VOLUME_TYPES = new Set([
  "configMap",
  "csi",
  "downwardAPI",
  "emptyDir",
  "ephemeral",
  "persistentVolumeClaim",
  "projected",
  "secret",
]);

/**
 * 22: read-only root filesystem, UID >= 10000, no host namespaces, ports or paths, not
 * privileged.
 */
export function checkPodIsolation(docs: readonly Manifest[]): string[] {
  const violations: string[] = [];
  for (const pod of pods(docs)) {
    for (const key of ["hostNetwork", "hostPID", "hostIPC"] as const) {
      if (pod.spec[key] === true) violations.push(`${pod.where}: ${key} is true`);
    }
    for (const volume of pod.spec.volumes ?? []) {
      const types = Object.keys(volume).filter((key) => key !== "name");
      for (const type of types.filter((t) => !RESTRICTED_VOLUME_TYPES.has(t))) {
        violations.push(`${pod.where}: volume ${volume.name} is of type ${type}`);
      }
    }
    for (const c of containers(pod.spec)) {
      const at = `${pod.where} container ${c.name}`;
      const context = c.securityContext ?? {};
      if (context.readOnlyRootFilesystem !== true) {
        violations.push(`${at}: readOnlyRootFilesystem is not true`);
      }
      if (context.privileged === true) violations.push(`${at}: privileged is true`);
      for (const port of c.ports ?? []) {
        if (port.hostPort !== undefined) violations.push(`${at}: hostPort ${port.hostPort} is set`);
      }
      const uid = context.runAsUser ?? pod.spec.securityContext?.runAsUser;
      if (uid === undefined || uid < 10000) {
        violations.push(`${at}: runAsUser is ${String(uid)}, not >= 10000`);
      }
    }
  }
  return violations;
}

/** 23: the pods use their own ServiceAccount, tokens not mounted, nothing in `default`. */
export function checkServiceAccount(docs: readonly Manifest[]): string[] {
  const violations: string[] = [];
  const accounts = docs.filter((doc) => doc.kind === "ServiceAccount");
  for (const account of accounts) {
    if (field<boolean | undefined>(account, "automountServiceAccountToken") !== false) {
      violations.push(`${where(account)}: automountServiceAccountToken is not false`);
    }
  }
  for (const pod of deployments(docs)) {
    const name = pod.spec.serviceAccountName;
    if (!name || name === "default") {
      violations.push(`${pod.where}: runs as ServiceAccount ${String(name ?? "default")}`);
    } else if (!accounts.some((account) => account.metadata.name === name)) {
      violations.push(`${pod.where}: ServiceAccount ${name} is not rendered by the chart`);
    }
  }
  for (const pod of pods(docs)) {
    if (pod.spec.automountServiceAccountToken !== false) {
      violations.push(`${pod.where}: automountServiceAccountToken is not false`);
    }
  }
  for (const doc of docs) {
    const namespace = doc.metadata.namespace;
    if (!namespace || namespace === "default") {
      violations.push(`${where(doc)}: namespace is ${String(namespace ?? "unset")}`);
    }
  }
  return violations;
}

const QUANTITY_KEYS = ["cpu", "memory"] as const;

/** 24: requests and limits for CPU and memory; image pinned by tag or digest, never `latest`. */
export function checkResourcesAndImage(docs: readonly Manifest[]): string[] {
  const violations: string[] = [];
  for (const pod of pods(docs)) {
    for (const c of containers(pod.spec)) {
      const at = `${pod.where} container ${c.name}`;
      for (const kind of ["requests", "limits"] as const) {
        for (const key of QUANTITY_KEYS) {
          const value = c.resources?.[kind]?.[key];
          if (value === undefined || value === "" || value === null) {
            violations.push(`${at}: resources.${kind}.${key} is missing`);
          }
        }
      }
      const image = c.image ?? "";
      const digest = /@sha256:[a-f0-9]{64}$/.test(image);
      const tag = /:([A-Za-z0-9_][A-Za-z0-9_.-]*)$/.exec(image.split("/").pop() ?? "")?.[1];
      if (!digest && !tag) violations.push(`${at}: image ${image} has neither tag nor digest`);
      if (!digest && tag?.toLowerCase() === "latest") {
        violations.push(`${at}: image ${image} uses the mutable tag latest`);
      }
    }
  }
  return violations;
}

/** 25: a NetworkPolicy selects the API pods and admits ingress to the service port only. */
export function checkNetworkPolicy(docs: readonly Manifest[]): string[] {
  const violations: string[] = [];
  const services = docs.filter((doc) => doc.kind === "Service");
  const policies = docs.filter((doc) => doc.kind === "NetworkPolicy");
  for (const pod of deployments(docs)) {
    const policy = policies.find((p) =>
      selects(field<{ podSelector: LabelSelector }>(p, "spec").podSelector, pod.labels),
    );
    if (!policy) {
      violations.push(`${pod.where}: no NetworkPolicy selects its pods`);
      continue;
    }
    const spec = field<{
      policyTypes?: string[];
      ingress?: { ports?: { port?: string | number; protocol?: string }[] }[];
    }>(policy, "spec");
    if (!(spec.policyTypes ?? []).includes("Ingress")) {
      violations.push(`${where(policy)}: policyTypes does not include Ingress`);
    }
    // The ports a Service forwards to, by name and number, for the pods this policy guards.
    const allowed = new Set<string | number>();
    for (const service of services) {
      const serviceSpec = field<{
        selector?: Record<string, string>;
        ports?: { targetPort?: string | number }[];
      }>(service, "spec");
      if (!selects({ matchLabels: serviceSpec.selector }, pod.labels)) continue;
      for (const port of serviceSpec.ports ?? []) {
        if (port.targetPort === undefined) continue;
        allowed.add(port.targetPort);
        for (const c of pod.spec.containers) {
          for (const p of c.ports ?? []) {
            if (p.name === port.targetPort || p.containerPort === port.targetPort) {
              allowed.add(p.containerPort);
              if (p.name) allowed.add(p.name);
            }
          }
        }
      }
    }
    if (allowed.size === 0) violations.push(`${pod.where}: no Service forwards to its pods`);
    for (const [index, rule] of (spec.ingress ?? []).entries()) {
      if (!rule.ports || rule.ports.length === 0) {
        violations.push(`${where(policy)}: ingress[${index}] admits every port`);
        continue;
      }
      for (const port of rule.ports) {
        if (port.port === undefined || !allowed.has(port.port)) {
          violations.push(
            `${where(policy)}: ingress[${index}] admits port ${String(port.port ?? "any")}, not the service port`,
          );
        }
      }
    }
  }
  if (deployments(docs).length === 0) violations.push("no Deployment is rendered");
  return violations;
}

/** 26: readiness and liveness probes, on distinct endpoints. */
export function checkProbes(docs: readonly Manifest[]): string[] {
  const violations: string[] = [];
  for (const pod of deployments(docs)) {
    for (const c of pod.spec.containers) {
      const at = `${pod.where} container ${c.name}`;
      const live = c.livenessProbe?.httpGet?.path;
      const ready = c.readinessProbe?.httpGet?.path;
      if (!c.livenessProbe) violations.push(`${at}: no livenessProbe`);
      if (!c.readinessProbe) violations.push(`${at}: no readinessProbe`);
      if (c.livenessProbe && c.readinessProbe && (live === undefined || live === ready)) {
        violations.push(`${at}: liveness and readiness probe the same endpoint (${String(live)})`);
      }
    }
  }
  return violations;
}

/** Options of {@link checkRollout}. */
export interface RolloutOptions {
  /**
   * Fewest replicas the workload may run (prod: 2).
   * @default 2
   */
  readonly minReplicas?: number;
}

/** 27: replicas, RollingUpdate with maxUnavailable 0, a matching PDB, spread across zones or nodes. */
export function checkRollout(docs: readonly Manifest[], options: RolloutOptions = {}): string[] {
  const minReplicas = options.minReplicas ?? 2;
  const violations: string[] = [];
  for (const doc of docs.filter((d) => d.kind === "Deployment")) {
    const at = where(doc);
    const spec = field<{
      replicas?: number;
      strategy?: { type?: string; rollingUpdate?: { maxUnavailable?: number | string } };
      template: PodTemplate;
    }>(doc, "spec");
    const labels = spec.template.metadata?.labels ?? {};
    const hpa = docs.find(
      (d) =>
        d.kind === "HorizontalPodAutoscaler" &&
        field<{ scaleTargetRef: { kind: string; name: string } }>(d, "spec").scaleTargetRef.name ===
          doc.metadata.name,
    );
    const floor = hpa
      ? (field<{ minReplicas?: number }>(hpa, "spec").minReplicas ?? 1)
      : (spec.replicas ?? 1);
    if (floor < minReplicas) {
      violations.push(`${at}: runs ${floor} replica(s) at least, fewer than ${minReplicas}`);
    }
    if ((spec.strategy?.type ?? "RollingUpdate") !== "RollingUpdate") {
      violations.push(`${at}: strategy is ${String(spec.strategy?.type)}, not RollingUpdate`);
    }
    const maxUnavailable = spec.strategy?.rollingUpdate?.maxUnavailable;
    if (maxUnavailable !== 0 && maxUnavailable !== "0%") {
      violations.push(
        `${at}: maxUnavailable is ${String(maxUnavailable ?? "25% (default)")}, not 0`,
      );
    }
    const budget = docs.find(
      (d) =>
        d.kind === "PodDisruptionBudget" &&
        selects(field<{ selector?: LabelSelector }>(d, "spec").selector, labels),
    );
    if (!budget) violations.push(`${at}: no PodDisruptionBudget selects its pods`);
    const spread = (spec.template.spec.topologySpreadConstraints ?? []).filter(
      (t) =>
        ["topology.kubernetes.io/zone", "kubernetes.io/hostname"].includes(t.topologyKey) &&
        selects(t.labelSelector, labels),
    );
    if (spread.length === 0) violations.push(`${at}: no topology spread across zones or nodes`);
  }
  if (!docs.some((d) => d.kind === "Deployment")) violations.push("no Deployment is rendered");
  return violations;
}

/** 28: a preStop pause shorter than the grace period, matched to SHUTDOWN_DELAY_MS. */
export function checkPreStop(docs: readonly Manifest[]): string[] {
  const violations: string[] = [];
  for (const pod of deployments(docs)) {
    const grace = pod.spec.terminationGracePeriodSeconds ?? 30;
    for (const c of pod.spec.containers) {
      const at = `${pod.where} container ${c.name}`;
      const pause = c.lifecycle?.preStop?.sleep?.seconds;
      if (pause === undefined) {
        violations.push(`${at}: no preStop sleep`);
        continue;
      }
      if (pause >= grace) {
        violations.push(
          `${at}: preStop sleep ${pause}s is not shorter than the grace period ${grace}s`,
        );
      }
      const delay = c.env?.find((e) => e.name === "SHUTDOWN_DELAY_MS")?.value;
      if (delay !== String(pause * 1000)) {
        violations.push(`${at}: SHUTDOWN_DELAY_MS is ${String(delay)}, not ${pause * 1000}`);
      }
    }
  }
  return violations;
}

/** The cluster's DNS resolver: EKS CoreDNS, as the chart's `networkPolicy.dnsTo` selects it. */
export const CLUSTER_DNS = {
  namespaceLabels: { "kubernetes.io/metadata.name": "kube-system" },
  podLabels: { "k8s-app": "kube-dns" },
} as const;

interface PolicyPort {
  port?: string | number;
  endPort?: number;
  protocol?: string;
}

interface PolicyPeer {
  podSelector?: LabelSelector & { matchExpressions?: unknown[] };
  namespaceSelector?: LabelSelector & { matchExpressions?: unknown[] };
  ipBlock?: { cidr: string };
}

interface PolicyRule {
  ports?: PolicyPort[];
  from?: PolicyPeer[];
  to?: PolicyPeer[];
}

interface PolicySpec {
  podSelector: LabelSelector & { matchExpressions?: unknown[] };
  policyTypes?: string[];
  ingress?: PolicyRule[];
  egress?: PolicyRule[];
}

/** The policy types a policy enforces, with the API server's default when they are omitted. */
function policyTypes(spec: PolicySpec): string[] {
  return spec.policyTypes ?? ["Ingress", ...(spec.egress ? ["Egress"] : [])];
}

/** True when a policy's podSelector selects the labels; `{}` selects every pod. */
function policySelects(spec: PolicySpec, labels: Record<string, string>): boolean {
  const wanted = Object.entries(spec.podSelector.matchLabels ?? {});
  if (spec.podSelector.matchExpressions?.length) {
    throw new Error("podSelector.matchExpressions is not read by these checks");
  }
  return wanted.every(([key, value]) => labels[key] === value);
}

/** True when every entry of `subset` is in `labels` (an empty subset included). */
function within(subset: Record<string, string> | undefined, labels: Record<string, string>) {
  return Object.entries(subset ?? {}).every(([key, value]) => labels[key] === value);
}

/** True when a selector matches by labels that include the expected ones (more only narrow it). */
function hasLabels(selector: PolicyPeer["podSelector"], expected: Record<string, string>): boolean {
  if (!selector || selector.matchExpressions?.length) return false;
  const labels = selector.matchLabels ?? {};
  return Object.keys(labels).length > 0 && within(expected, labels);
}

/** One pod peer in the resolver's namespace, selecting the resolver's pods (both in one peer). */
function isClusterDns(peer: PolicyPeer): boolean {
  return (
    peer.ipBlock === undefined &&
    hasLabels(peer.namespaceSelector, CLUSTER_DNS.namespaceLabels) &&
    hasLabels(peer.podSelector, CLUSTER_DNS.podLabels)
  );
}

const protocolOf = (port: PolicyPort): string => port.protocol ?? "TCP";
const describePort = (port: PolicyPort): string =>
  `${String(port.port ?? "any")}${port.endPort ? `-${port.endPort}` : ""}/${protocolOf(port)}`;

/** A test pod is the chart's helm test hook. */
function isTestPod(pod: PodView): boolean {
  return pod.labels["app.kubernetes.io/component"] === "test";
}

/** The API pods of the release, their ports (names and numbers), and the Services in front. */
interface ApiTarget {
  readonly pod: PodView;
  readonly ports: Set<string | number>;
  readonly serviceSelectors: Record<string, string>[];
}

function apiTargets(docs: readonly Manifest[]): ApiTarget[] {
  return deployments(docs).map((pod) => {
    const ports = new Set<string | number>();
    for (const c of pod.spec.containers) {
      for (const p of c.ports ?? []) {
        ports.add(p.containerPort);
        if (p.name) ports.add(p.name);
      }
    }
    const serviceSelectors = docs
      .filter((d) => d.kind === "Service")
      .map((d) => field<{ selector?: Record<string, string> }>(d, "spec").selector ?? {})
      .filter((selector) => selects({ matchLabels: selector }, pod.labels));
    return { pod, ports, serviceSelectors };
  });
}

/**
 * True when a peer selects API pods of this namespace by exactly a Service's selector: a CNI that
 * enforces egress before the Service's address is translated (the AWS VPC CNI) admits the
 * ClusterIP only for such a peer.
 */
function isApiPeer(peer: PolicyPeer, target: ApiTarget): boolean {
  if (peer.ipBlock || peer.namespaceSelector || !peer.podSelector) return false;
  if (peer.podSelector.matchExpressions?.length) return false;
  const labels = peer.podSelector.matchLabels ?? {};
  return (
    selects({ matchLabels: labels }, target.pod.labels) &&
    target.serviceSelectors.some((selector) => within(labels, selector) && within(selector, labels))
  );
}

/**
 * True when an ingress rule admits a pod of this namespace (by its labels) to the port: from any
 * source, or from a pod peer whose labels the pod carries.
 */
function admitsPod(
  rule: PolicyRule,
  labels: Record<string, string>,
  port: { containerPort: number; name?: string } | undefined,
): boolean {
  const toPort =
    !rule.ports?.length ||
    rule.ports.some((p) => p.port === port?.containerPort || (port?.name && p.port === port.name));
  const fromPod =
    !rule.from?.length ||
    rule.from.some(
      (peer) =>
        !peer.ipBlock &&
        !peer.namespaceSelector &&
        Object.keys(peer.podSelector?.matchLabels ?? {}).length > 0 &&
        within(peer.podSelector?.matchLabels, labels),
    );
  return toPort && fromPod;
}

/**
 * 37: every pod is under a default-deny egress policy that admits DNS (UDP and TCP 53) to the
 * cluster's resolver and nothing else; the helm test pod may also reach the API pods on their port,
 * and the API pods' ingress admits it.
 */
export function checkEgress(docs: readonly Manifest[]): string[] {
  const violations: string[] = [];
  const policies = docs
    .filter((doc) => doc.kind === "NetworkPolicy")
    .map((doc) => ({ at: where(doc), spec: field<PolicySpec>(doc, "spec") }));
  const targets = apiTargets(docs);
  for (const pod of pods(docs)) {
    const test = isTestPod(pod);
    const selecting = policies.filter((p) => policySelects(p.spec, pod.labels));
    const egress = selecting.filter((p) => policyTypes(p.spec).includes("Egress"));
    if (egress.length === 0) {
      violations.push(`${pod.where}: no NetworkPolicy restricts its egress`);
      continue;
    }
    const dnsPorts = new Set<string>();
    const apiPorts = new Set<string | number>();
    for (const policy of egress) {
      for (const [index, rule] of (policy.spec.egress ?? []).entries()) {
        const at = `${policy.at}: egress[${index}]`;
        if (!rule.to || rule.to.length === 0) {
          violations.push(`${at} admits any destination`);
          continue;
        }
        if (!rule.ports || rule.ports.length === 0) {
          violations.push(`${at} admits every port`);
          continue;
        }
        const ports = rule.ports;
        if (rule.to.every(isClusterDns)) {
          for (const port of ports) {
            const protocol = protocolOf(port);
            if (port.port === 53 && !port.endPort && ["UDP", "TCP"].includes(protocol)) {
              dnsPorts.add(protocol);
            } else {
              violations.push(`${at} admits port ${describePort(port)} on the DNS resolver`);
            }
          }
          continue;
        }
        const target = targets.find((t) => rule.to!.every((peer) => isApiPeer(peer, t)));
        if (test && target) {
          for (const port of ports) {
            if (
              port.port !== undefined &&
              !port.endPort &&
              protocolOf(port) === "TCP" &&
              target.ports.has(port.port)
            ) {
              apiPorts.add(port.port);
            } else {
              violations.push(`${at} admits port ${describePort(port)} on the API pods`);
            }
          }
          continue;
        }
        violations.push(
          `${at} admits ${JSON.stringify(rule.to)}: neither the cluster's DNS resolver nor, for the helm test pod, the API pods`,
        );
      }
    }
    for (const protocol of ["UDP", "TCP"]) {
      if (!dnsPorts.has(protocol)) {
        violations.push(`${pod.where}: egress does not admit DNS (53/${protocol}) to the resolver`);
      }
    }
    if (!test) continue;
    for (const target of targets) {
      const port = target.pod.spec.containers[0]?.ports?.[0];
      const reaches =
        port && (apiPorts.has(port.containerPort) || (port.name && apiPorts.has(port.name)));
      if (!reaches) {
        violations.push(
          `${pod.where}: egress does not admit the API pods on port ${String(port?.containerPort)}`,
        );
      }
      const admitted = policies
        .filter((p) => policySelects(p.spec, target.pod.labels))
        .filter((p) => policyTypes(p.spec).includes("Ingress"))
        .some((p) => (p.spec.ingress ?? []).some((rule) => admitsPod(rule, pod.labels, port)));
      if (!admitted) violations.push(`${target.pod.where}: ingress does not admit ${pod.where}`);
    }
  }
  if (pods(docs).length === 0) violations.push("no pod is rendered");
  // A policy that selects several pods would report its rules once per pod.
  return [...new Set(violations)];
}

/**
 * 38: every container requests and limits ephemeral-storage; every emptyDir has a sizeLimit, on
 * disk no larger than the pod's ephemeral-storage limit (which it counts towards).
 */
export function checkEphemeralStorage(docs: readonly Manifest[]): string[] {
  const violations: string[] = [];
  for (const pod of pods(docs)) {
    // The pod's limit is the sum of its containers'; unbounded when one of them has none.
    let podLimit: number | undefined = 0;
    for (const c of containers(pod.spec)) {
      const at = `${pod.where} container ${c.name}`;
      for (const kind of ["requests", "limits"] as const) {
        const value = c.resources?.[kind]?.["ephemeral-storage"];
        const bytes = parseMemory(typeof value === "number" ? String(value) : value);
        if (bytes === undefined) {
          violations.push(
            `${at}: resources.${kind}.ephemeral-storage is ${value === undefined ? "missing" : String(value)}`,
          );
        }
        if (kind === "limits" && !(pod.spec.initContainers ?? []).includes(c)) {
          podLimit = bytes === undefined || podLimit === undefined ? undefined : podLimit + bytes;
        }
      }
    }
    for (const volume of pod.spec.volumes ?? []) {
      const emptyDir = volume.emptyDir as { sizeLimit?: string; medium?: string } | undefined;
      if (!emptyDir) continue;
      const size = parseMemory(emptyDir.sizeLimit);
      if (size === undefined) {
        violations.push(`${pod.where}: emptyDir ${volume.name} has no sizeLimit`);
      } else if (emptyDir.medium !== "Memory" && podLimit !== undefined && size > podLimit) {
        violations.push(
          `${pod.where}: emptyDir ${volume.name} sizeLimit ${String(emptyDir.sizeLimit)} exceeds the containers' ephemeral-storage limits (${podLimit / 2 ** 20}Mi)`,
        );
      }
    }
  }
  if (pods(docs).length === 0) violations.push("no pod is rendered");
  return violations;
}

/** The checkers by invariant number. */
export const INVARIANT_CHECKS = {
  21: checkPodSecurityRestricted,
  22: checkPodIsolation,
  23: checkServiceAccount,
  24: checkResourcesAndImage,
  25: checkNetworkPolicy,
  26: checkProbes,
  27: checkRollout,
  28: checkPreStop,
  37: checkEgress,
  38: checkEphemeralStorage,
} as const;
