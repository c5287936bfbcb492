/**
 * Runs the real `helm` binary from the toolchain (`.tools/bin/helm`, see scripts/tools.sh) and
 * returns parsed results. Calls run concurrently up to the number of CPUs; values are passed as
 * files, never through `--set`, so they reach Helm exactly as a values file or the Terraform Helm
 * provider would pass them.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import path from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { settings } from "../../config/settings";
import { REPO_ROOT, tool } from "../../scripts/toolchain";

/** The repository root. */
export const repoRoot = REPO_ROOT;
/** The API chart. */
export const apiChartDir = path.join(repoRoot, "helm", "api");
/**
 * Kubernetes version rendered and validated against unless a caller names another: the configured
 * cluster's minor (`shared.kubernetesVersion`), as `kubernetes-validate` bundles schemas for it.
 */
export const DEFAULT_KUBE_VERSION = `${settings.shared.kubernetesVersion}.0`;

/** A rendered Kubernetes object. */
export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
  };
  readonly [field: string]: unknown;
}

/** Values as an object, or as the YAML/JSON text of a values file. */
export type Values = Record<string, unknown> | string;

/** Options of {@link helmTemplate} and {@link helmLint}. */
export interface HelmOptions {
  /** @default "default" */
  readonly namespace?: string;
  /** @default "release" */
  readonly releaseName?: string;
  /**
   * Kubernetes version reported to the chart (`.Capabilities.KubeVersion`).
   * @default DEFAULT_KUBE_VERSION
   */
  readonly kubeVersion?: string;
}

/** Outcome of a Helm command that may fail on purpose. */
export type HelmResult<T> =
  | { readonly ok: true; readonly value: T; readonly output: string }
  | { readonly ok: false; readonly error: string };

/** Raised when helm exits non-zero where success was expected. */
export class HelmError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly output: string,
  ) {
    super(`helm ${args.join(" ")} failed:\n${output}`);
    this.name = "HelmError";
  }
}

const limit = Math.max(1, availableParallelism());
let running = 0;
const waiting: (() => void)[] = [];

/** Runs `run` once fewer than `limit` runs are in flight; a finished run hands its slot on. */
async function withSlot<T>(run: () => Promise<T>): Promise<T> {
  if (running < limit) running += 1;
  else await new Promise<void>((resolve) => waiting.push(resolve));
  try {
    return await run();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running -= 1;
  }
}

/** Exit code and output of a command. */
export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link runTool}. */
export interface RunOptions {
  /** Written to the command's standard input. */
  readonly input?: string;
  /** Added to the environment. */
  readonly env?: Readonly<Record<string, string>>;
}

/** Runs a command with a bounded concurrency; never rejects on a non-zero exit. */
export function runTool(
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<Run> {
  return withSlot(
    () =>
      new Promise<Run>((resolve, reject) => {
        const child = execFile(
          file,
          [...args],
          { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...options.env } },
          (error, stdout, stderr) => {
            if (error && typeof error.code !== "number") {
              reject(new Error(`cannot run ${file}: ${error.message}`));
              return;
            }
            resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
          },
        );
        if (options.input !== undefined) child.stdin?.end(options.input);
      }),
  );
}

async function withValuesFiles<T>(
  values: Values | readonly Values[],
  use: (args: string[]) => Promise<T>,
): Promise<T> {
  const list = Array.isArray(values) ? values : [values as Values];
  const dir = await mkdtemp(path.join(tmpdir(), "helm-values-"));
  try {
    const args: string[] = [];
    for (const [index, value] of list.entries()) {
      const file = path.join(dir, `values-${index}.yaml`);
      await writeFile(file, typeof value === "string" ? value : stringify(value));
      args.push("--values", file);
    }
    return await use(args);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function commonArgs(options: HelmOptions): string[] {
  return [
    "--namespace",
    options.namespace ?? "default",
    "--kube-version",
    options.kubeVersion ?? DEFAULT_KUBE_VERSION,
  ];
}

/** Parses a multi-document YAML stream into objects, dropping empty documents. */
export function parseManifests(stream: string): Manifest[] {
  return parseAllDocuments(stream)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors[0].message}`);
      return doc.toJS() as Manifest | null;
    })
    .filter((doc): doc is Manifest => doc !== null && typeof doc === "object");
}

/** Serialises manifests back into one YAML stream (for tools that read files). */
export function toYamlStream(docs: readonly Manifest[]): string {
  return docs.map((doc) => stringify(doc)).join("---\n");
}

/**
 * `helm template`; later values override earlier ones, as repeated `--values` flags do.
 * Resolves to `{ ok: false, error }` when Helm refuses the values or the templates fail.
 */
export async function tryHelmTemplate(
  chartDir: string,
  values: Values | readonly Values[] = [],
  options: HelmOptions = {},
): Promise<HelmResult<Manifest[]>> {
  return withValuesFiles(values, async (valueArgs) => {
    const args = ["template", options.releaseName ?? "release", chartDir, ...commonArgs(options)];
    const run = await runTool(tool("helm"), [...args, ...valueArgs]);
    if (run.code !== 0) return { ok: false, error: `${run.stderr}${run.stdout}`.trim() };
    return { ok: true, value: parseManifests(run.stdout), output: run.stdout };
  });
}

/** `helm template`, parsed; throws {@link HelmError} when rendering fails. */
export async function helmTemplate(
  chartDir: string,
  values: Values | readonly Values[] = [],
  options: HelmOptions = {},
): Promise<Manifest[]> {
  const result = await tryHelmTemplate(chartDir, values, options);
  if (!result.ok) throw new HelmError(["template", chartDir], result.error);
  return result.value;
}

/** Outcome of {@link helmLint}. */
export interface LintResult {
  readonly ok: boolean;
  readonly output: string;
}

/** `helm lint` (strict by default: warnings fail too). */
export async function helmLint(
  chartDir: string,
  values: Values | readonly Values[] = [],
  options: HelmOptions & { readonly strict?: boolean } = {},
): Promise<LintResult> {
  return withValuesFiles(values, async (valueArgs) => {
    const args = ["lint", chartDir, ...commonArgs(options), ...valueArgs];
    if (options.strict ?? true) args.push("--strict");
    const run = await runTool(tool("helm"), args);
    return { ok: run.code === 0, output: `${run.stdout}${run.stderr}` };
  });
}

/** The rendered objects of one kind, optionally with one name. */
export function manifestsOf(docs: readonly Manifest[], kind: string, name?: string): Manifest[] {
  return docs.filter(
    (doc) => doc.kind === kind && (name === undefined || doc.metadata.name === name),
  );
}

/** The single rendered object of a kind; throws when there is none or more than one. */
export function manifestOf(docs: readonly Manifest[], kind: string): Manifest {
  const found = manifestsOf(docs, kind);
  if (found.length !== 1) throw new Error(`expected one ${kind}, found ${found.length}`);
  return found[0];
}
