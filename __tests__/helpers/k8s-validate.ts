/**
 * Validates manifests against the Kubernetes JSON schemas bundled with `kubernetes-validate`
 * (installed by scripts/tools.sh into `.tools/venv`). An object whose kind has no schema at that
 * version counts as a failure: an unvalidated object is not a valid one.
 */
import { tool } from "../../scripts/toolchain";
import { DEFAULT_KUBE_VERSION, type Manifest, runTool, toYamlStream } from "./helm";

/** Outcome of {@link validateManifests}. */
export interface ValidationResult {
  readonly ok: boolean;
  /** One line per object that failed, or had no schema, naming it and the offending field. */
  readonly errors: readonly string[];
  readonly output: string;
}

/**
 * Runs `kubernetes-validate` on the manifests (strict by default: unknown fields are errors).
 * @param kubeVersion a Kubernetes version such as `1.33` or `1.33.0`
 */
export async function validateManifests(
  docs: readonly Manifest[] | string,
  kubeVersion: string = DEFAULT_KUBE_VERSION,
  options: { readonly strict?: boolean } = {},
): Promise<ValidationResult> {
  const stream = typeof docs === "string" ? docs : toYamlStream(docs);
  const args = ["--kubernetes-version", kubeVersion, "--quiet"];
  if (options.strict ?? true) args.push("--strict");
  const run = await runTool(tool("kubernetesValidate"), [...args, "-"], { input: stream });
  const output = `${run.stdout}${run.stderr}`;
  const errors = output
    .split("\n")
    .filter((line) => /^(ERROR|WARN|FATAL)\b/.test(line))
    .map((line) => line.trim());
  return { ok: run.code === 0 && errors.length === 0, errors, output };
}
