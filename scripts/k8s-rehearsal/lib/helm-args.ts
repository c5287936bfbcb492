/**
 * Translates a synthesized `helm_release` (hashicorp/helm provider 3.x) into the helm CLI call that
 * does the same: `helm upgrade --install` with the same chart, values, set entries and options,
 * including the provider's defaults where an attribute is absent (`wait` is on, `timeout` is 300s).
 * An attribute without a CLI equivalent is an error rather than a quiet difference.
 */
import type { HelmRelease } from "./stack";
import { RehearsalError } from "./processes";

/** Provider defaults (registry.terraform.io/hashicorp/helm 3.x, resource `helm_release`). */
export const PROVIDER_DEFAULTS = {
  wait: true,
  timeout: 300,
  render_subchart_notes: true,
} as const;

/** Boolean attributes that map one-to-one to a helm flag when true. */
const BOOLEAN_FLAGS: Record<string, string> = {
  atomic: "--atomic",
  cleanup_on_fail: "--cleanup-on-fail",
  create_namespace: "--create-namespace",
  dependency_update: "--dependency-update",
  devel: "--devel",
  disable_openapi_validation: "--disable-openapi-validation",
  disable_webhooks: "--no-hooks",
  force_update: "--force",
  pass_credentials: "--pass-credentials",
  render_subchart_notes: "--render-subchart-notes",
  reset_values: "--reset-values",
  reuse_values: "--reuse-values",
  skip_crds: "--skip-crds",
  take_ownership: "--take-ownership",
  verify: "--verify",
  wait: "--wait",
  wait_for_jobs: "--wait-for-jobs",
};

/** String attributes that map to a helm flag with a value. */
const STRING_FLAGS: Record<string, string> = {
  description: "--description",
  keyring: "--keyring",
  repository: "--repo",
  repository_ca_file: "--ca-file",
  repository_cert_file: "--cert-file",
  repository_key_file: "--key-file",
  repository_username: "--username",
  repository_password: "--password",
  version: "--version",
};

/** Attributes handled outside the flag tables (or Terraform meta-arguments). */
const HANDLED = new Set([
  "name",
  "namespace",
  "chart",
  "values",
  "set",
  "set_list",
  "set_sensitive",
  "set_wo",
  "set_wo_revision",
  "timeout",
  "max_history",
  "postrender",
  "lint",
  "upgrade_install",
  "timeouts",
  "depends_on",
  "provider",
  "lifecycle",
  "//",
]);

/** Attributes that have no helm CLI equivalent when set to true. */
const UNSUPPORTED_WHEN_TRUE = ["disable_crd_hooks", "recreate_pods", "replace"];

function setValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  throw new RehearsalError(`set value ${JSON.stringify(value)} is not a string, number or bool`);
}

function setFlags(release: HelmRelease): string[] {
  const flags: string[] = [];
  const entries = (key: string): Record<string, unknown>[] => {
    const value = release.attrs[key];
    if (value === undefined) return [];
    if (!Array.isArray(value)) throw new RehearsalError(`${release.address}.${key} must be a list`);
    return value as Record<string, unknown>[];
  };
  for (const key of ["set", "set_sensitive", "set_wo"]) {
    for (const entry of entries(key)) {
      const type = entry.type === undefined ? "auto" : String(entry.type);
      const flag =
        type === "string"
          ? "--set-string"
          : type === "literal"
            ? "--set-literal"
            : type === "auto"
              ? "--set"
              : "";
      if (!flag) throw new RehearsalError(`${release.address}.${key}: unknown type ${type}`);
      flags.push(flag, `${String(entry.name)}=${setValue(entry.value)}`);
    }
  }
  for (const entry of entries("set_list")) {
    const list = Array.isArray(entry.value) ? entry.value.map(setValue) : [];
    flags.push("--set", `${String(entry.name)}={${list.join(",")}}`);
  }
  return flags;
}

/** Extra arguments a rehearsal adds on purpose (a failure to provoke, a shorter timeout). */
export interface HelmOverrides {
  readonly timeoutSeconds?: number;
  readonly extraArgs?: readonly string[];
}

/**
 * The `helm upgrade --install` arguments for a release. `valuesFiles` holds the release's `values`
 * documents written to files, in the same order.
 */
export function helmUpgradeArgs(
  release: HelmRelease,
  valuesFiles: readonly string[],
  overrides: HelmOverrides = {},
): string[] {
  if (valuesFiles.length !== release.values.length) {
    throw new Error(
      `${release.address}: ${release.values.length} values documents, ${valuesFiles.length} files`,
    );
  }
  const attrs = release.attrs;
  for (const key of Object.keys(attrs)) {
    if (
      !(key in BOOLEAN_FLAGS) &&
      !(key in STRING_FLAGS) &&
      !HANDLED.has(key) &&
      !UNSUPPORTED_WHEN_TRUE.includes(key)
    ) {
      throw new RehearsalError(
        `${release.address}.${key} has no helm CLI translation in the rehearsal`,
      );
    }
  }
  for (const key of UNSUPPORTED_WHEN_TRUE) {
    if (attrs[key] === true) {
      throw new RehearsalError(`${release.address}.${key} = true has no helm CLI equivalent`);
    }
  }
  const args = [
    "upgrade",
    "--install",
    release.name,
    release.chart,
    "--namespace",
    release.namespace,
  ];
  for (const [key, flag] of Object.entries(BOOLEAN_FLAGS)) {
    const value = attrs[key] ?? (PROVIDER_DEFAULTS as Record<string, unknown>)[key] ?? false;
    if (typeof value !== "boolean")
      throw new RehearsalError(`${release.address}.${key} must be a bool`);
    if (value) args.push(flag);
  }
  for (const [key, flag] of Object.entries(STRING_FLAGS)) {
    const value = attrs[key];
    if (value === undefined) continue;
    if (typeof value !== "string" || value.includes("${")) {
      throw new RehearsalError(`${release.address}.${key} must be a literal string`);
    }
    args.push(flag, value);
  }
  const timeout = overrides.timeoutSeconds ?? attrs.timeout ?? PROVIDER_DEFAULTS.timeout;
  if (typeof timeout !== "number" || !Number.isInteger(timeout) || timeout <= 0) {
    throw new RehearsalError(`${release.address}.timeout must be a whole number of seconds`);
  }
  args.push("--timeout", `${timeout}s`);
  if (attrs.max_history !== undefined) {
    if (
      typeof attrs.max_history !== "number" ||
      !Number.isInteger(attrs.max_history) ||
      attrs.max_history < 0
    ) {
      throw new RehearsalError(`${release.address}.max_history must be a whole number`);
    }
    // 0 means unlimited in both the provider and helm.
    args.push("--history-max", String(attrs.max_history));
  }
  const postrender = attrs.postrender as Record<string, unknown> | undefined;
  if (postrender !== undefined) {
    args.push("--post-renderer", String(postrender.binary_path));
    for (const arg of Array.isArray(postrender.args) ? postrender.args : []) {
      args.push("--post-renderer-args", String(arg));
    }
  }
  for (const file of valuesFiles) args.push("--values", file);
  args.push(...setFlags(release));
  args.push(...(overrides.extraArgs ?? []));
  return args;
}

/** `helm lint` with the release's values, which the provider runs first when `lint` is true. */
export function helmLintArgs(
  release: HelmRelease,
  valuesFiles: readonly string[],
): string[] | undefined {
  if (release.attrs.lint !== true) return undefined;
  return [
    "lint",
    release.chart,
    "--strict",
    ...valuesFiles.flatMap((f) => ["--values", f]),
    ...setFlags(release),
  ];
}

/**
 * `helm install --dry-run=server` with the release's chart, values and set entries: renders every
 * manifest (hooks included) with the server's capabilities, printing the release as JSON.
 */
export function helmServerDryRunArgs(
  release: HelmRelease,
  valuesFiles: readonly string[],
): string[] {
  return [
    "install",
    release.name,
    release.chart,
    "--namespace",
    release.namespace,
    "--dry-run=server",
    "--output",
    "json",
    ...valuesFiles.flatMap((f) => ["--values", f]),
    ...setFlags(release),
  ];
}
