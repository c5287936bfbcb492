/**
 * Command-line entry point of the delivery scripts (`npm run delivery -- <command> [options]`).
 * Results go to stdout as `key=value` lines (append them to `$GITHUB_OUTPUT` or `$GITHUB_ENV`);
 * progress and errors go to stderr. Exit codes: 0 success, 1 a failed check, 2 a usage error.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import {
  alertObservation,
  ALERTING_WORKFLOWS,
  chatMessage,
  findFailure,
  logTail,
  runOutcome,
  type RunReport,
} from "./alert";
import { colourRelease, loadConfig, otherColour, type Colour } from "../../config";
import { colourState, colourStep, committedColours, environmentName } from "./blue-green";
import { AwsCliEcr, findImage, parseRepositoryUrl, promoteImage } from "./ecr";
import { DeliveryError, UsageError } from "./errors";
import { planFolderObservation } from "./drift";
import { gitHubContextFromEnv, GitHubClient } from "./github";
import { checkReleaseTag, devImageTag, latestReleaseTag } from "./image-tags";
import { readPlanDirectory } from "./plan-files";
import { hasChanges, JOB_SUMMARY_BUDGET, renderPlanReport } from "./plan-report";
import {
  driftSummary,
  processTools,
  readStackReleases,
  stackFile,
  recoverReleases,
  releaseDrift,
} from "./releases";
import { smokeTest } from "./smoke";
import { releaseStaleLock } from "./state-lock";
import { EKS_ADDON_VERSIONS } from "../../config/eks-addons";
import { dayNumber, supportDatesDocument, supportObservation } from "./support";
import { SUPPORT_TABLE } from "./support-dates";
import { syncTrackingIssue } from "./tracking-issue";

type Options = Record<string, string | string[] | boolean | undefined>;

const USAGE = `usage: npm run delivery -- <command> [options]

  plan-report   --plans <dir> --comment <file> --summary <file> [--title <text>]
                [--context <markdown line>]... [--full-plan-hint <text>]
  image-tags    --head <commit>        IMAGE_TAG_DEV and IMAGE_TAG_PROD (newest release-* git tag)
  release-check --tag <release-x.y.z> [--package api/package.json] [--commit <sha>]
  ecr-find      --repository-url <url> --tag <tag>
  promote       --repository-url <url> --source-tag <tag> --target-tag <tag>
  stack-output  --file <outputs.json> --stack <stack> --name <output>
  blue-green    --env <env> --outputs <outputs.json> --step deploy --tag <tag>
                --env <env> --outputs <outputs.json> --step switch
                --env <env> --outputs <outputs.json> --step current   (what runs now, for plans)
                ACTIVE_COLOUR_<ENV>, IMAGE_TAG_<ENV>_<COLOUR> and BLUE_GREEN_RELEASE for cdktf deploy
  strategy      --env <env>            rolling or blue-green, from the committed configuration
  rollback      --env <env> --outputs <outputs.json> [--to blue|green]   flip the active colour back
  smoke         --url <http://host> [--commit <sha>] [--version <x.y.z>] [--deadline-seconds 600]
  drift-issue   --plans <dir> --run-url <url> --commit <sha>   (reads <stack>.releases.json too)
  recover-state --env <env> [--outdir cdktf.out]   release a state lock a killed deploy left
  recover-releases --env <env> [--outdir cdktf.out]
                roll back (or uninstall) the stack's Helm releases a killed deploy left pending;
                run before cdktf deploy <env>
  release-drift --env <env> [--outdir cdktf.out] [--out <file.json>]
                compare the live objects of the stack's Helm releases with their manifests
                (recover-releases and release-drift run HELM_BIN / KUBECTL_BIN, default helm and
                kubectl, against the cluster KUBECONFIG names)
  alert         --workflow <deploy-dev|release|shared|drift> --results "<needs.*.result ...>"
  support-issue [--today YYYY-MM-DD] [--run-url <url>]
                one issue labelled end-of-support while the configured EKS version is within 90
                days of leaving standard support, or a tool in docs/support-dates.md is past its end
  support-dates --out docs/support-dates.md   render the support table (scripts/delivery/support-dates.ts)
  upload-sarif  --file <report.sarif> --category <name> --ref <git ref> --commit <sha>
`;

function str(options: Options, name: string): string {
  const value = options[name];
  if (typeof value !== "string" || value === "")
    throw new UsageError(`--${name} is required.\n\n${USAGE}`);
  return value;
}

function optional(options: Options, name: string): string | undefined {
  const value = options[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

function git(args: string[]): string {
  try {
    return execFileSync("git", args, {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    }).trim();
  } catch (error) {
    throw new DeliveryError(`git ${args.join(" ")} failed: ${(error as Error).message}`);
  }
}

function out(key: string, value: string): void {
  if (/[\r\n]/.test(value)) throw new DeliveryError(`output ${key} must be one line.`);
  process.stdout.write(`${key}=${value}\n`);
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

const commands: Record<
  string,
  {
    options: Record<string, { type: "string"; multiple?: boolean }>;
    run: (o: Options) => Promise<void> | void;
  }
> = {
  "plan-report": {
    options: {
      plans: { type: "string" },
      comment: { type: "string" },
      summary: { type: "string" },
      title: { type: "string" },
      context: { type: "string", multiple: true },
      "full-plan-hint": { type: "string" },
    },
    run(o) {
      const stacks = readPlanDirectory(str(o, "plans"));
      const base = {
        title: optional(o, "title") ?? "Terraform plan",
        context: Array.isArray(o.context) ? o.context : [],
      };
      const hint = optional(o, "full-plan-hint");
      const comment = renderPlanReport(stacks, {
        ...base,
        ...(hint ? { fullPlanHint: hint } : {}),
      });
      const summary = renderPlanReport(stacks, { ...base, budget: JOB_SUMMARY_BUDGET });
      writeFileSync(str(o, "comment"), comment.markdown);
      writeFileSync(str(o, "summary"), summary.markdown);
      for (const stack of stacks) {
        log(
          `${stack.stack}: ${stack.status === "failed" ? "plan failed" : hasChanges(stack) ? "changes" : "no changes"}`,
        );
      }
      out("changed", String(stacks.some(hasChanges)));
      out("failed", String(stacks.some((s) => s.status === "failed")));
      out("truncated", String(comment.truncated));
    },
  },
  "image-tags": {
    options: { head: { type: "string" } },
    run(o) {
      out("IMAGE_TAG_DEV", devImageTag(str(o, "head")));
      const tags = git(["tag", "--list", "release-*"]).split("\n").filter(Boolean);
      const latest = latestReleaseTag(tags);
      if (loadConfig({}).environments.prod.api.strategy === "blue-green")
        log("prod is blue/green: its tags come from the state (blue-green --step current)");
      else if (latest) out("IMAGE_TAG_PROD", latest);
      else log("no release-* tag yet: IMAGE_TAG_PROD keeps the committed default");
    },
  },
  "release-check": {
    options: { tag: { type: "string" }, package: { type: "string" }, commit: { type: "string" } },
    run(o) {
      const file = optional(o, "package") ?? "api/package.json";
      let version: unknown;
      try {
        version = (JSON.parse(readFileSync(file, "utf8")) as { version?: unknown }).version;
      } catch (error) {
        throw new DeliveryError(
          `cannot read the API's version from ${file}: ${(error as Error).message}`,
        );
      }
      const release = checkReleaseTag(str(o, "tag"), version);
      const commit = optional(o, "commit") ?? git(["rev-parse", "HEAD^{commit}"]);
      const sourceTag = devImageTag(commit);
      out("version", release.version.text);
      out("image_tag", release.tag);
      out("source_tag", sourceTag);
      out("commit", commit);
    },
  },
  "ecr-find": {
    options: { "repository-url": { type: "string" }, tag: { type: "string" } },
    async run(o) {
      const { repositoryName } = parseRepositoryUrl(str(o, "repository-url"));
      const image = await findImage(new AwsCliEcr(), repositoryName, str(o, "tag"));
      log(
        image
          ? `${repositoryName}:${str(o, "tag")} exists (${image.digest})`
          : `${repositoryName}:${str(o, "tag")} does not exist`,
      );
      out("digest", image?.digest ?? "");
    },
  },
  promote: {
    options: {
      "repository-url": { type: "string" },
      "source-tag": { type: "string" },
      "target-tag": { type: "string" },
    },
    async run(o) {
      const { repositoryName } = parseRepositoryUrl(str(o, "repository-url"));
      const result = await promoteImage(new AwsCliEcr(), {
        repositoryName,
        sourceTag: str(o, "source-tag"),
        targetTag: str(o, "target-tag"),
      });
      log(
        result.tagged
          ? `tagged ${str(o, "target-tag")} on ${result.digest}`
          : `${str(o, "target-tag")} already on ${result.digest}`,
      );
      out("digest", result.digest);
    },
  },
  "stack-output": {
    options: { file: { type: "string" }, stack: { type: "string" }, name: { type: "string" } },
    run(o) {
      const file = str(o, "file");
      let outputs: unknown;
      try {
        outputs = JSON.parse(readFileSync(file, "utf8"));
      } catch (error) {
        throw new DeliveryError(
          `cannot read the outputs file ${file}: ${(error as Error).message}`,
        );
      }
      const stack = (outputs as Record<string, unknown> | null)?.[str(o, "stack")];
      const value = (stack as Record<string, unknown> | null | undefined)?.[str(o, "name")];
      if (typeof value !== "string" || value === "") {
        throw new DeliveryError(
          `${file} has no string output ${str(o, "stack")}.${str(o, "name")}.`,
        );
      }
      out(str(o, "name"), value);
    },
  },
  "blue-green": {
    options: {
      env: { type: "string" },
      outputs: { type: "string" },
      step: { type: "string" },
      tag: { type: "string" },
    },
    run(o) {
      const env = environmentName(str(o, "env"));
      const step = str(o, "step");
      if (step !== "deploy" && step !== "switch" && step !== "current") {
        throw new UsageError(
          `--step must be deploy, switch or current, got "${step}".\n\n${USAGE}`,
        );
      }
      // Only a first deploy (or a plan before it) starts from the committed colours.
      const committed = step !== "switch" ? committedColours(loadConfig({}), env) : undefined;
      const state = colourState(readOutputs(str(o, "outputs")), env, committed);
      const assignments = colourStep(
        env,
        state,
        step === "deploy"
          ? { action: "deploy", tag: str(o, "tag") }
          : step === "switch"
            ? { action: "switch" }
            : { action: "current" },
      );
      for (const [key, value] of assignments) out(key, value);
      if (step !== "current") out("BLUE_GREEN_RELEASE", colourRelease(otherColour(state.active)));
    },
  },
  strategy: {
    options: { env: { type: "string" } },
    run(o) {
      const env = environmentName(str(o, "env"));
      out("strategy", loadConfig({}).environments[env].api.strategy ?? "rolling");
    },
  },
  rollback: {
    options: { env: { type: "string" }, outputs: { type: "string" }, to: { type: "string" } },
    run(o) {
      const env = environmentName(str(o, "env"));
      const to = optional(o, "to");
      if (to !== undefined && to !== "blue" && to !== "green") {
        throw new UsageError(`--to must be blue or green, got "${to}".\n\n${USAGE}`);
      }
      const state = colourState(readOutputs(str(o, "outputs")), env);
      const assignments = colourStep(env, state, { action: "rollback", to });
      for (const [key, value] of assignments) out(key, value);
      out("BLUE_GREEN_RELEASE", colourRelease(assignments[0][1] as Colour));
      log(`${env}: traffic moves from ${state.active} to ${assignments[0][1]}`);
    },
  },
  smoke: {
    options: {
      url: { type: "string" },
      commit: { type: "string" },
      version: { type: "string" },
      "deadline-seconds": { type: "string" },
    },
    async run(o) {
      const deadline = Number(optional(o, "deadline-seconds") ?? "600");
      if (!Number.isInteger(deadline) || deadline < 1) {
        throw new UsageError("--deadline-seconds must be a positive whole number.");
      }
      const commit = optional(o, "commit");
      const version = optional(o, "version");
      await smokeTest(
        { baseUrl: str(o, "url"), ...(commit ? { commit } : {}), ...(version ? { version } : {}) },
        { deadlineMs: deadline * 1000, intervalMs: 10_000, requestTimeoutMs: 5_000 },
        { fetch, now: Date.now, sleep: (ms) => new Promise((r) => setTimeout(r, ms)), log },
      );
    },
  },
  "drift-issue": {
    options: {
      plans: { type: "string" },
      "run-url": { type: "string" },
      commit: { type: "string" },
    },
    async run(o) {
      const observation = planFolderObservation(
        str(o, "plans"),
        str(o, "run-url"),
        str(o, "commit"),
      );
      log(
        await syncTrackingIssue(new GitHubClient(gitHubContextFromEnv(process.env)), observation),
      );
      out("drift", String(observation.state === "problem"));
    },
  },
  "support-issue": {
    options: { today: { type: "string" }, "run-url": { type: "string" } },
    async run(o) {
      const today = optional(o, "today") ?? new Date().toISOString().slice(0, 10);
      try {
        dayNumber(today);
      } catch (error) {
        throw new UsageError(`--today: ${(error as Error).message}`);
      }
      const version = loadConfig({}).shared.kubernetesVersion;
      const runUrl = optional(o, "run-url");
      const observation = supportObservation(
        SUPPORT_TABLE,
        version,
        today,
        runUrl ? { runUrl } : {},
      );
      log(`EKS ${version} on ${today}: ${observation.state}`);
      log(
        await syncTrackingIssue(new GitHubClient(gitHubContextFromEnv(process.env)), observation),
      );
      out("support", observation.state);
    },
  },
  "support-dates": {
    options: { out: { type: "string" } },
    async run(o) {
      const file = str(o, "out");
      const version = loadConfig({}).shared.kubernetesVersion;
      writeFileSync(
        file,
        await supportDatesDocument(SUPPORT_TABLE, version, EKS_ADDON_VERSIONS, file),
      );
      log(`wrote ${file}`);
    },
  },
  "recover-state": {
    options: { env: { type: "string" }, outdir: { type: "string" } },
    async run(o) {
      const dir = dirname(stackFile(optional(o, "outdir") ?? "cdktf.out", str(o, "env")));
      if (!existsSync(dir)) {
        throw new DeliveryError(`no synthesized stack in ${dir}: run \`npm run synth\` first.`);
      }
      const result = await releaseStaleLock(async (args) => {
        const run = spawnSync("terraform", args, { cwd: dir, encoding: "utf8", env: process.env });
        return { code: run.status ?? 1, output: `${run.stdout ?? ""}${run.stderr ?? ""}` };
      }, log);
      out("unlocked", String(result.released));
    },
  },
  "recover-releases": {
    options: { env: { type: "string" }, outdir: { type: "string" } },
    async run(o) {
      const releases = readStackReleases(optional(o, "outdir") ?? "cdktf.out", str(o, "env"));
      const results = await recoverReleases(releases, processTools(process.env), log);
      out("recovered", String(results.filter((r) => r.recovered).length));
    },
  },
  "release-drift": {
    options: { env: { type: "string" }, outdir: { type: "string" }, out: { type: "string" } },
    async run(o) {
      const stack = str(o, "env");
      const releases = readStackReleases(optional(o, "outdir") ?? "cdktf.out", stack);
      const report = await releaseDrift(stack, releases, processTools(process.env), log);
      const file = optional(o, "out");
      if (file) writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
      log(driftSummary(report));
      out("drifted", String(report.differences.length));
    },
  },
  alert: {
    options: { workflow: { type: "string" }, results: { type: "string" } },
    async run(o) {
      const workflow = str(o, "workflow");
      if (!(ALERTING_WORKFLOWS as readonly string[]).includes(workflow)) {
        throw new UsageError(
          `--workflow must be one of ${ALERTING_WORKFLOWS.join(", ")}; got ${JSON.stringify(workflow)}.`,
        );
      }
      const results = (optional(o, "results") ?? "").split(/\s+/).filter(Boolean);
      const env = process.env;
      const runId = env.GITHUB_RUN_ID ?? "";
      if (!/^\d+$/.test(runId))
        throw new DeliveryError("GITHUB_RUN_ID is not set: run this inside a workflow.");
      const github = new GitHubClient(gitHubContextFromEnv(env));
      const runUrl = `${env.GITHUB_SERVER_URL ?? "https://github.com"}/${env.GITHUB_REPOSITORY}/actions/runs/${runId}`;
      const state = runOutcome(results);
      let report: RunReport = { workflow, runUrl, commit: env.GITHUB_SHA ?? "unknown", state };
      if (state === "problem") {
        const failure = findFailure(await github.listRunJobs(runId, env.GITHUB_RUN_ATTEMPT ?? "1"));
        let tail: string;
        try {
          tail = failure ? logTail(await github.jobLog(failure.jobId)) : "";
        } catch (error) {
          tail = `(log unavailable: ${(error as Error).message.split("\n")[0]})`;
        }
        report = { ...report, ...(failure ? { failure } : {}), ...(tail ? { log: tail } : {}) };
      }
      log(await syncTrackingIssue(github, alertObservation(report)));
      const webhook = env.ALERT_WEBHOOK_URL;
      if (state !== "problem") return;
      if (!webhook) {
        log("no ALERT_WEBHOOK_URL secret: chat notification skipped");
        return;
      }
      const response = await fetch(webhook, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(chatMessage(report)),
        signal: AbortSignal.timeout(10_000),
      });
      if (!response.ok) throw new DeliveryError(`the chat webhook answered ${response.status}.`);
      log("chat notification sent");
    },
  },
  "upload-sarif": {
    options: {
      file: { type: "string" },
      category: { type: "string" },
      ref: { type: "string" },
      commit: { type: "string" },
    },
    async run(o) {
      const file = str(o, "file");
      let sarif: { runs?: Array<Record<string, unknown>> };
      try {
        sarif = JSON.parse(readFileSync(file, "utf8")) as typeof sarif;
      } catch (error) {
        throw new DeliveryError(
          `cannot read the SARIF report ${file}: ${(error as Error).message}`,
        );
      }
      if (!Array.isArray(sarif.runs))
        throw new DeliveryError(`${file} is not SARIF: it has no "runs" array.`);
      // The category keeps two reports of the same tool (image, repository) from replacing each other.
      for (const run of sarif.runs) run.automationDetails = { id: `${str(o, "category")}/` };
      const commit = devImageTag(str(o, "commit")).slice("sha-".length);
      const github = new GitHubClient(gitHubContextFromEnv(process.env));
      const id = await github.uploadSarif({
        commitSha: commit,
        ref: str(o, "ref"),
        sarifGzipBase64: gzipSync(JSON.stringify(sarif)).toString("base64"),
      });
      log(`uploaded ${file} as ${str(o, "category")} (${sarif.runs.length} runs) ${id}`);
    },
  },
};

/** A cdktf outputs file (`--outputs-file`), parsed. */
function readOutputs(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new DeliveryError(`cannot read the outputs file ${file}: ${(error as Error).message}`);
  }
}

/** Runs one command; resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  try {
    const command = name === undefined ? undefined : commands[name];
    if (!command)
      throw new UsageError(`unknown command ${JSON.stringify(name ?? "")}.\n\n${USAGE}`);
    let values: Options;
    try {
      values = parseArgs({
        args: [...rest],
        options: command.options,
        strict: true,
        allowPositionals: false,
      }).values;
    } catch (error) {
      throw new UsageError(`${name}: ${(error as Error).message}\n\n${USAGE}`);
    }
    await command.run(values);
    return 0;
  } catch (error) {
    if (error instanceof DeliveryError) {
      process.stderr.write(`error: ${error.message}\n`);
      if (process.env.GITHUB_ACTIONS === "true") {
        // Workflow commands are read from stderr too; stdout may be going to $GITHUB_OUTPUT.
        process.stderr.write(
          `::error title=${name ?? "delivery"}::${error.message.split("\n")[0]}\n`,
        );
      }
      return error.exitCode;
    }
    throw error;
  }
}

if (process.argv[1] && /cli\.ts$/.test(process.argv[1])) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
