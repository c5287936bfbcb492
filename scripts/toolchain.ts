/**
 * Where the checking tools live once `npm run tools` has run, and the environment they need. Used by
 * the test helpers and the scripts so that every caller runs the same binaries with the same settings.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

export const REPO_ROOT = resolve(__dirname, "..");
export const TOOLS_DIR = process.env.TOOLS_DIR ?? join(REPO_ROOT, ".tools");

export const TOOLS = {
  helm: join(TOOLS_DIR, "bin", "helm"),
  actionlint: join(TOOLS_DIR, "bin", "actionlint"),
  kubeScore: join(TOOLS_DIR, "bin", "kube-score"),
  kubernetesValidate: join(TOOLS_DIR, "venv", "bin", "kubernetes-validate"),
  checkov: join(TOOLS_DIR, "venv", "bin", "checkov"),
  motoServer: join(TOOLS_DIR, "venv", "bin", "moto_server"),
  terraformrc: join(TOOLS_DIR, "terraformrc"),
  terraformMirror: join(TOOLS_DIR, "tf-mirror"),
  // `bash scripts/tools.sh --rehearsal`: the rehearsal's local control plane.
  etcd: join(TOOLS_DIR, "bin", "etcd"),
  kwok: join(TOOLS_DIR, "bin", "kwok"),
  kwokStages: join(TOOLS_DIR, "k8s", "kwok-stages"),
  kubeApiserver: join(TOOLS_DIR, "bin", "kube-apiserver"),
  kubeControllerManager: join(TOOLS_DIR, "bin", "kube-controller-manager"),
  kubeScheduler: join(TOOLS_DIR, "bin", "kube-scheduler"),
  kubectl: join(TOOLS_DIR, "bin", "kubectl"),
} as const;

/** Returns the path of a tool, or throws naming the tool and how to get it. */
export function tool(name: keyof typeof TOOLS): string {
  const path = TOOLS[name];
  if (!existsSync(path)) {
    throw new Error(`${name} is not installed at ${path}: run \`npm run tools\` first`);
  }
  return path;
}

/** Environment for terraform: the toolchain's CLI configuration, no prompts, no colour. */
export function terraformEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TF_CLI_CONFIG_FILE: tool("terraformrc"),
    TF_IN_AUTOMATION: "1",
    TF_INPUT: "0",
    CHECKPOINT_DISABLE: "1",
    ...extra,
  };
}

/** Environment for checkov offline: no downloads, no calls to its vendor's API. */
export function checkovEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    BC_SKIP_MAPPING: "TRUE",
    CHECKOV_RUN_SCA_PACKAGE_SCAN_V2: "false",
    LOG_LEVEL: "WARNING",
  };
}
