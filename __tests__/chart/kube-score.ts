/**
 * Runs kube-score (installed by scripts/tools.sh, pinned there) on rendered manifests and returns
 * the findings of the checks docs/invariants.md 37 and 38 name: ephemeral-storage requests and
 * limits, and a NetworkPolicy for each pod's ingress and egress.
 */
import { tool } from "../../scripts/toolchain";
import { type Manifest, runTool, toYamlStream } from "../helpers/helm";

/** The kube-score checks behind invariants 37 and 38. */
export const KUBE_SCORE_CHECKS = [
  "container-ephemeral-storage-request-and-limit",
  "pod-networkpolicy",
  "networkpolicy-targets-pod",
] as const;

/** kube-score's JSON (v2) output, as far as it is read here. */
interface ScoredObject {
  readonly object_name: string;
  readonly checks: readonly {
    readonly check: { readonly id: string };
    /** 10 is OK; lower is a warning (5, 7) or critical (1). */
    readonly grade: number;
    readonly skipped: boolean;
    readonly comments: readonly { readonly summary: string }[] | null;
  }[];
}

/** Outcome of {@link kubeScore}. */
export interface KubeScoreResult {
  /** `<object> <check>: <summary>`, for each of {@link KUBE_SCORE_CHECKS} that did not pass. */
  readonly findings: readonly string[];
  /** `<object> <check>`, for each of those checks that ran and passed. */
  readonly passed: readonly string[];
}

/**
 * `kube-score score` on the manifests, at a Kubernetes version.
 * @param kubeVersion such as `1.33.0`
 */
export async function kubeScore(
  docs: readonly Manifest[],
  kubeVersion: string,
): Promise<KubeScoreResult> {
  const [major, minor] = kubeVersion.split(".");
  const args = ["score", "--output-format", "json", "--kubernetes-version", `v${major}.${minor}`];
  const run = await runTool(tool("kubeScore"), [...args, "-"], { input: toYamlStream(docs) });
  let scored: ScoredObject[];
  try {
    scored = JSON.parse(run.stdout) as ScoredObject[];
  } catch {
    throw new Error(`kube-score exited ${run.code} without JSON:\n${run.stderr}${run.stdout}`);
  }
  const findings: string[] = [];
  const passed: string[] = [];
  for (const object of scored) {
    for (const { check, grade, skipped, comments } of object.checks) {
      if (!(KUBE_SCORE_CHECKS as readonly string[]).includes(check.id) || skipped) continue;
      const at = `${object.object_name} ${check.id}`;
      if (grade >= 10) passed.push(at);
      else
        findings.push(
          ...(comments ?? [{ summary: `grade ${grade}` }]).map((c) => `${at}: ${c.summary}`),
        );
    }
  }
  return { findings, passed };
}
