/**
 * Evaluates rendered NetworkPolicies for one customer's namespace: which sources they admit, and
 * whether any of those could be a pod of another namespace. With the VPC CNI every pod gets an
 * address from the private subnets, so an ipBlock overlapping them admits other namespaces' pods
 * just as a namespace selector does.
 */
import { cidrsOverlap, parseCidr } from "../../config/rules";
import type { Manifest } from "../helpers/helm";

/** A namespace as the cluster labels it (`kubernetes.io/metadata.name` included). */
export interface NamespaceInfo {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** What the evaluator knows about the cluster. */
export interface IsolationContext {
  /** The namespace whose policies are evaluated. */
  readonly namespace: string;
  /** Every other namespace whose pods must not get in. */
  readonly otherNamespaces: readonly NamespaceInfo[];
  /** Where pods get their addresses (the private subnets). */
  readonly podCidrs: readonly string[];
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

interface Peer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

interface PolicySpec {
  podSelector?: LabelSelector;
  policyTypes?: string[];
  ingress?: { from?: Peer[]; ports?: unknown[] }[];
}

/** Kubernetes label selector semantics; an empty selector selects everything. */
export function selects(
  selector: LabelSelector,
  labels: Readonly<Record<string, string>>,
): boolean {
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpressions = (selector.matchExpressions ?? []).every(({ key, operator, values }) => {
    const has = key in labels;
    switch (operator) {
      case "In":
        return has && (values ?? []).includes(labels[key]);
      case "NotIn":
        return !has || !(values ?? []).includes(labels[key]);
      case "Exists":
        return has;
      case "DoesNotExist":
        return !has;
      default:
        throw new Error(`unknown selector operator ${operator}`);
    }
  });
  return byLabels && byExpressions;
}

/** True when `cidr` (minus its exceptions) shares an address with `pods`. */
function admitsPods(block: { cidr: string; except?: string[] }, pods: string): boolean {
  const range = parseCidr(block.cidr);
  const podRange = parseCidr(pods);
  if (!range || !podRange) throw new Error(`not an IPv4 CIDR: ${block.cidr} or ${pods}`);
  if (!cidrsOverlap(range, podRange)) return false;
  // An exception that covers the whole overlap keeps the pods out.
  const covered = (block.except ?? []).some((e) => {
    const ex = parseCidr(e);
    if (!ex) return false;
    const overlapStart = Math.max(range.network, podRange.network);
    const overlapEnd = Math.min(
      range.network + 2 ** (32 - range.prefix),
      podRange.network + 2 ** (32 - podRange.prefix),
    );
    return ex.network <= overlapStart && ex.network + 2 ** (32 - ex.prefix) >= overlapEnd;
  });
  return !covered;
}

/**
 * Every way the policies would let a pod of another namespace reach a pod in `ctx.namespace`,
 * one line each; empty when the namespace is isolated. Also reports a namespace without a
 * default-deny policy, since pods no policy selects accept traffic from anywhere.
 */
export function isolationViolations(docs: readonly Manifest[], ctx: IsolationContext): string[] {
  const violations: string[] = [];
  const policies = docs.filter((d) => d.kind === "NetworkPolicy");
  const specOf = (p: Manifest) => (p as unknown as { spec: PolicySpec }).spec;
  const isIngress = (spec: PolicySpec) =>
    (spec.policyTypes ?? (spec.ingress ? ["Ingress"] : [])).includes("Ingress");

  const denyAll = policies.some((p) => {
    const spec = specOf(p);
    return (
      p.metadata.namespace === ctx.namespace &&
      isIngress(spec) &&
      Object.keys(spec.podSelector ?? {}).length === 0 &&
      (spec.ingress ?? []).length === 0
    );
  });
  if (!denyAll) violations.push(`${ctx.namespace}: no default-deny ingress policy`);

  for (const policy of policies) {
    const at = `NetworkPolicy/${policy.metadata.name}`;
    if (policy.metadata.namespace !== ctx.namespace) {
      violations.push(`${at}: in namespace ${String(policy.metadata.namespace)}`);
      continue;
    }
    const spec = specOf(policy);
    if (!isIngress(spec)) continue;
    for (const [i, rule] of (spec.ingress ?? []).entries()) {
      if (!rule.from || rule.from.length === 0) {
        violations.push(`${at}: ingress[${i}] admits every source`);
        continue;
      }
      for (const [j, peer] of rule.from.entries()) {
        const where = `${at}: ingress[${i}].from[${j}]`;
        if (peer.ipBlock) {
          for (const pods of ctx.podCidrs) {
            if (admitsPods(peer.ipBlock, pods)) {
              violations.push(`${where} ipBlock ${peer.ipBlock.cidr} admits pod addresses ${pods}`);
            }
          }
        }
        if (peer.namespaceSelector) {
          const reached = ctx.otherNamespaces
            .filter((ns) => selects(peer.namespaceSelector!, ns.labels))
            .map((ns) => ns.name);
          if (reached.length > 0) {
            violations.push(`${where} admits namespaces ${reached.join(", ")}`);
          }
        }
      }
    }
  }
  return violations;
}
