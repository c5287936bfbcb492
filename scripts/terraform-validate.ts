/**
 * Runs `terraform init -backend=false` and `terraform validate -json` on synthesized stack folders with
 * the toolchain's CLI configuration, and reports terraform's own diagnostics.
 *
 * A stack whose providers cannot be installed on this machine (no local mirror, no registry) is
 * reported as `unavailable` with the providers and terraform's reason; with VALIDATE_ALL_STACKS=1 that
 * is a failure instead. `npm run validate` synthesizes and validates every stack.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { terraformEnv } from "./toolchain";

const run = promisify(execFile);

/** One diagnostic as `terraform validate -json` prints it. */
export interface TerraformDiagnostic {
  readonly severity: "error" | "warning";
  readonly summary: string;
  readonly detail?: string;
  readonly address?: string;
  readonly range?: { filename: string; start: { line: number } };
}

export type ValidateResult =
  | { readonly status: "valid"; readonly stack: string; readonly warnings: TerraformDiagnostic[] }
  | {
      readonly status: "invalid";
      readonly stack: string;
      readonly diagnostics: TerraformDiagnostic[];
    }
  | {
      readonly status: "unavailable";
      readonly stack: string;
      /** Providers (`hashicorp/helm`) terraform could not install, with its message. */
      readonly providers: string[];
      readonly reason: string;
    }
  | { readonly status: "init-failed"; readonly stack: string; readonly output: string };

/** The `hashicorp/<name>` providers a synthesized stack requires. */
export function requiredProviders(stackJson: {
  terraform?: { required_providers?: Record<string, { source?: string; version?: string }> };
}): string[] {
  return Object.entries(stackJson.terraform?.required_providers ?? {}).map(([name, p]) => {
    const source = p.source ?? name;
    const full = source.includes("/") ? source : `hashicorp/${source}`;
    return `${full.replace(/^registry\.terraform\.io\//, "")}@${p.version ?? "any"}`;
  });
}

/** Providers named in terraform's "Failed to query available provider packages" errors. */
export function unavailableProviders(initOutput: string): string[] {
  const found = new Set<string>();
  const pattern =
    /Failed to (?:query available provider packages|install provider)[\s\S]*?provider\s+(?:registry\.terraform\.io\/)?([\w-]+\/[\w-]+)/g;
  for (const m of initOutput.matchAll(pattern)) found.add(m[1]);
  return [...found].sort();
}

/** `terraform init -backend=false`; undefined when it worked, else the result to report. */
async function initStack(stackDir: string, stack: string): Promise<ValidateResult | undefined> {
  if (!existsSync(join(stackDir, "cdk.tf.json"))) {
    throw new Error(`validate: ${stackDir} holds no cdk.tf.json; synthesize first (npm run synth)`);
  }
  try {
    await run("terraform", ["init", "-backend=false", "-input=false", "-no-color"], {
      cwd: stackDir,
      env: terraformEnv(),
      maxBuffer: 16 * 1024 * 1024,
    });
    return undefined;
  } catch (error) {
    const output = `${(error as { stdout?: string }).stdout ?? ""}${(error as { stderr?: string }).stderr ?? ""}`;
    const providers = unavailableProviders(output);
    if (providers.length > 0) {
      // Terraform wraps its messages; join the paragraph that says why.
      const paragraph = output
        .split(/\n\s*\n/)
        .find((p) =>
          /could not connect|no available releases|not available|does not have a package/i.test(p),
        );
      const reason = paragraph?.replace(/\s+/g, " ").trim() ?? "terraform could not install them";
      return { status: "unavailable", stack, providers, reason };
    }
    return { status: "init-failed", stack, output };
  }
}

/** `terraform validate -json` on an initialized stack folder. */
async function validateInitialized(stackDir: string, stack: string): Promise<ValidateResult> {
  let stdout: string;
  try {
    ({ stdout } = await run("terraform", ["validate", "-json", "-no-color"], {
      cwd: stackDir,
      env: terraformEnv(),
      maxBuffer: 16 * 1024 * 1024,
    }));
  } catch (error) {
    // validate exits 1 when the configuration is invalid; the JSON is still on stdout.
    stdout = (error as { stdout?: string }).stdout ?? "";
    if (!stdout.trim().startsWith("{")) throw error;
  }
  const report = JSON.parse(stdout) as { valid: boolean; diagnostics: TerraformDiagnostic[] };
  return report.valid
    ? {
        status: "valid",
        stack,
        warnings: report.diagnostics.filter((d) => d.severity === "warning"),
      }
    : { status: "invalid", stack, diagnostics: report.diagnostics };
}

/**
 * Validates synthesized stack folders (each holding `cdk.tf.json`). Every init runs before any
 * validate, one at a time: inits write the shared plugin cache, which validations read.
 * Validations then run in parallel.
 */
export async function validateStacks(
  stacks: ReadonlyArray<{ readonly dir: string; readonly name: string }>,
): Promise<ValidateResult[]> {
  const inits: Array<ValidateResult | undefined> = [];
  for (const { dir, name } of stacks) inits.push(await initStack(dir, name));
  return Promise.all(stacks.map(({ dir, name }, i) => inits[i] ?? validateInitialized(dir, name)));
}

/** True when VALIDATE_ALL_STACKS demands every stack be validated (a CI runner with the registry). */
export function validateAllRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.VALIDATE_ALL_STACKS === "1" || env.VALIDATE_ALL_STACKS === "true";
}

/** One line per result, terraform's messages verbatim. */
export function describe(result: ValidateResult): string {
  switch (result.status) {
    case "valid":
      return `${result.stack}: valid (terraform validate)${result.warnings.length ? `, ${result.warnings.length} warning(s)` : ""}`;
    case "invalid":
      return `${result.stack}: INVALID\n${result.diagnostics
        .map(
          (d) =>
            `  ${d.severity}: ${d.summary}${d.address ? ` (${d.address})` : ""}${d.detail ? `\n    ${d.detail.replace(/\n/g, "\n    ")}` : ""}`,
        )
        .join("\n")}`;
    case "unavailable":
      return `${result.stack}: not validated here: provider(s) ${result.providers.join(", ")} cannot be installed on this machine (${result.reason}). Point TF_PLUGIN_MIRROR at a mirror that holds them, or run where the registry is reachable; VALIDATE_ALL_STACKS=1 makes this a failure.`;
    case "init-failed":
      return `${result.stack}: terraform init failed\n${result.output}`;
  }
}

async function main(): Promise<void> {
  const outdir = process.argv[2] ?? "cdktf.out";
  const manifest = JSON.parse(readFileSync(join(outdir, "manifest.json"), "utf8")) as {
    stacks: Record<string, { workingDirectory: string }>;
  };
  const results = await validateStacks(
    Object.entries(manifest.stacks).map(([name, s]) => ({
      dir: join(outdir, s.workingDirectory),
      name,
    })),
  );
  let failed = false;
  for (const r of results) {
    console.log(describe(r));
    if (r.status === "invalid" || r.status === "init-failed") failed = true;
    if (r.status === "unavailable" && validateAllRequired()) failed = true;
  }
  process.exit(failed ? 1 : 0);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
