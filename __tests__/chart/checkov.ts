/**
 * Runs `checkov --framework kubernetes` (from `.tools/venv`, offline) on rendered manifests and
 * applies the exceptions of policy/checkov-kubernetes.yaml.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { type Manifest, repoRoot, runTool, toolsDir, toYamlStream } from "../helpers/helm";

/** The checkov executable. */
export const checkovBin = path.join(toolsDir, "venv", "bin", "checkov");
/** The exceptions file for the kubernetes framework. */
export const kubernetesSkipFile = path.join(repoRoot, "policy", "checkov-kubernetes.yaml");

/** One failed check on one object. */
export interface CheckovFailure {
  readonly checkId: string;
  readonly checkName: string;
  /** `<Kind>.<namespace>.<name>` */
  readonly resource: string;
  /** The input the object came from (the key of the manifests passed in). */
  readonly input: string;
}

/** Result of one checkov run. */
export interface CheckovReport {
  readonly passed: number;
  readonly failed: readonly CheckovFailure[];
}

/** An exception from the skip file. */
export interface CheckovException {
  readonly id: string;
  readonly reason: string;
  readonly kinds?: readonly string[];
}

interface RawFailure {
  check_id: string;
  check_name: string;
  resource: string;
  file_path: string;
}

interface RawReport {
  summary: { passed: number; failed: number; parsing_errors: number };
  results?: { failed_checks?: RawFailure[] };
}

/**
 * Runs checkov once over several sets of manifests (one file each), so its start-up cost is paid
 * once. Every check runs; exceptions are applied by {@link unexpectedFailures}.
 */
export async function checkovKubernetes(
  inputs: Readonly<Record<string, readonly Manifest[]>>,
): Promise<CheckovReport> {
  const dir = await mkdtemp(path.join(tmpdir(), "checkov-k8s-"));
  try {
    for (const [name, docs] of Object.entries(inputs)) {
      await writeFile(path.join(dir, `${name}.yaml`), toYamlStream(docs));
    }
    // Offline: no download of the check-to-guideline mapping.
    const run = await runTool(
      checkovBin,
      [
        "--directory",
        dir,
        "--framework",
        "kubernetes",
        "--skip-download",
        "--output",
        "json",
        "--quiet",
      ],
      { env: { BC_SKIP_MAPPING: "TRUE" } },
    );
    if (run.code !== 0 && run.code !== 1) {
      throw new Error(`checkov exited ${run.code}:\n${run.stderr}`);
    }
    const raw = JSON.parse(run.stdout) as RawReport | RawReport[];
    const reports = Array.isArray(raw) ? raw : [raw];
    const parsingErrors = reports.reduce((n, r) => n + r.summary.parsing_errors, 0);
    if (parsingErrors > 0) throw new Error(`checkov could not parse ${parsingErrors} file(s)`);
    return {
      passed: reports.reduce((n, r) => n + r.summary.passed, 0),
      failed: reports.flatMap((r) =>
        (r.results?.failed_checks ?? []).map((f) => ({
          checkId: f.check_id,
          checkName: f.check_name,
          resource: f.resource,
          input: path.basename(f.file_path, ".yaml"),
        })),
      ),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Reads and checks the exceptions file: every entry has an id and a reason. */
export async function kubernetesExceptions(): Promise<CheckovException[]> {
  const entries = parse(await readFile(kubernetesSkipFile, "utf8")) as unknown;
  if (!Array.isArray(entries)) throw new Error(`${kubernetesSkipFile}: expected a list`);
  return entries.map((entry: Partial<CheckovException>, index) => {
    if (!entry.id || !/^CKV2?_K8S_\d+$/.test(entry.id)) {
      throw new Error(`${kubernetesSkipFile}[${index}]: id must be a CKV_K8S_* or CKV2_K8S_* id`);
    }
    if (!entry.reason || entry.reason.trim().length < 40) {
      throw new Error(`${kubernetesSkipFile}[${index}] ${entry.id}: give a reason`);
    }
    return { id: entry.id, reason: entry.reason, kinds: entry.kinds };
  });
}

/** True when an exception covers the failure. */
export function isExcepted(
  failure: CheckovFailure,
  exceptions: readonly CheckovException[],
): boolean {
  const kind = failure.resource.split(".")[0];
  return exceptions.some(
    (e) => e.id === failure.checkId && (e.kinds === undefined || e.kinds.includes(kind)),
  );
}

/** Failures no exception covers, as readable lines. */
export function unexpectedFailures(
  report: CheckovReport,
  exceptions: readonly CheckovException[],
  input?: string,
): string[] {
  return report.failed
    .filter((f) => input === undefined || f.input === input)
    .filter((f) => !isExcepted(f, exceptions))
    .map((f) => `${f.input}: ${f.checkId} "${f.checkName}" on ${f.resource}`);
}
