/**
 * Runs checkov (from the toolchain, offline) on a folder and returns its failed checks by id and
 * resource, minus the ones a skip file accepts with a reason.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { parse } from "yaml";
import { checkovEnv, tool } from "../../scripts/toolchain";

const run = promisify(execFile);

export type CheckovFramework =
  "terraform_json" | "kubernetes" | "github_actions" | "dockerfile" | "helm";

/** A failed check. */
export interface CheckovFinding {
  readonly id: string;
  readonly name: string;
  readonly resource: string;
  readonly file: string;
}

/** Accepted findings: `skips: [{ id, reason, resources? }]`; a skip without resources applies to all. */
export interface SkipFile {
  readonly skips: ReadonlyArray<{ id: string; reason: string; resources?: string[] }>;
}

/** Reads a skip file and checks every entry carries a real reason. */
export function readSkipFile(path: string): SkipFile {
  const parsed = parse(readFileSync(path, "utf8")) as SkipFile;
  for (const skip of parsed.skips ?? []) {
    if (
      !/^CKV2?_[A-Z0-9]+_\d+$/.test(skip.id) ||
      typeof skip.reason !== "string" ||
      skip.reason.trim().length < 20
    ) {
      throw new Error(
        `${path}: every skip needs a checkov id and a reason of a sentence or more; got ${JSON.stringify(skip)}`,
      );
    }
  }
  return parsed;
}

/** Runs checkov on `dir` with one framework and returns every failed check. */
export async function checkov(
  dir: string,
  framework: CheckovFramework,
  extraArgs: string[] = [],
): Promise<CheckovFinding[]> {
  let stdout: string;
  try {
    ({ stdout } = await run(
      tool("checkov"),
      [
        "--directory",
        dir,
        "--framework",
        framework,
        "--output",
        "json",
        "--quiet",
        "--compact",
        "--skip-download",
        ...extraArgs,
      ],
      { env: checkovEnv(), maxBuffer: 64 * 1024 * 1024, timeout: 300_000 },
    ));
  } catch (error) {
    // checkov exits 1 when a check fails; the report is still on stdout.
    stdout = (error as { stdout?: string }).stdout ?? "";
    if (!stdout.trim()) throw error;
  }
  const trimmed = stdout.trim();
  if (trimmed === "" || trimmed === "[]" || trimmed.startsWith('{\n    "passed": 0')) return [];
  const parsed = JSON.parse(trimmed) as unknown;
  const reports = (Array.isArray(parsed) ? parsed : [parsed]) as Array<{
    results?: {
      failed_checks?: Array<{
        check_id: string;
        check_name: string;
        resource: string;
        file_path: string;
      }>;
    };
  }>;
  return reports.flatMap((r) =>
    (r.results?.failed_checks ?? []).map((f) => ({
      id: f.check_id,
      name: f.check_name,
      resource: f.resource,
      file: f.file_path,
    })),
  );
}

/** Findings that no skip accepts. */
export function unaccepted(findings: readonly CheckovFinding[], skips: SkipFile): CheckovFinding[] {
  return findings.filter(
    (f) =>
      !skips.skips.some(
        (s) => s.id === f.id && (!s.resources || s.resources.some((r) => f.resource.includes(r))),
      ),
  );
}
