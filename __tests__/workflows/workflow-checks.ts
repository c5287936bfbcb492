/**
 * Checks over parsed workflows (docs/invariants.md 30–34 and the delivery design). Each check is
 * a pure function returning the violations it found, so a test can break a copy of a workflow and
 * watch the check report it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isScalar, parseDocument, visit } from "yaml";

export type Json = Record<string, unknown>;

/** A `uses:` value with the comment written after it. */
export interface UsesRef {
  readonly file: string;
  readonly value: string;
  readonly comment: string | undefined;
}

/** A workflow file (or composite action) as the checks see it. */
export interface LoadedWorkflow {
  readonly file: string;
  readonly data: Json;
  readonly uses: readonly UsesRef[];
}

export const repoRoot = join(__dirname, "..", "..");
export const workflowsDir = join(repoRoot, ".github", "workflows");
export const actionsDir = join(repoRoot, ".github", "actions");

/** Parses YAML text, keeping the comments of `uses:` values. */
export function parseWorkflow(file: string, text: string): LoadedWorkflow {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
  const uses: UsesRef[] = [];
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.value === "uses" && isScalar(pair.value)) {
        uses.push({ file, value: String(pair.value.value), comment: pair.value.comment?.trim() });
      }
    },
  });
  return { file, data: doc.toJS() as Json, uses };
}

export function loadWorkflows(): LoadedWorkflow[] {
  return readdirSync(workflowsDir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => parseWorkflow(f, readFileSync(join(workflowsDir, f), "utf8")));
}

export function loadCompositeActions(): LoadedWorkflow[] {
  return readdirSync(actionsDir).map((name) => {
    const file = join(".github", "actions", name, "action.yml");
    return parseWorkflow(file, readFileSync(join(repoRoot, file), "utf8"));
  });
}

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function jobs(wf: Json): Array<[string, Json]> {
  return isRecord(wf.jobs)
    ? Object.entries(wf.jobs).filter((e): e is [string, Json] => isRecord(e[1]))
    : [];
}

/** The steps of a job (the array itself, so a test can add a step to a copy). */
export function steps(job: Json): Json[] {
  return Array.isArray(job.steps) ? (job.steps as Json[]) : [];
}

/** Steps of a composite action. */
export function actionSteps(action: Json): Json[] {
  return isRecord(action.runs) && Array.isArray(action.runs.steps)
    ? (action.runs.steps as Json[])
    : [];
}

/** The `on:` block as an object of event -> settings. */
export function triggers(wf: Json): Json {
  const on = wf.on;
  if (typeof on === "string") return { [on]: null };
  if (Array.isArray(on)) return Object.fromEntries(on.map((e) => [String(e), null]));
  return isRecord(on) ? on : {};
}

export function environmentName(job: Json): string | undefined {
  const env = job.environment;
  if (typeof env === "string") return env;
  if (isRecord(env) && typeof env.name === "string") return env.name;
  return undefined;
}

function usesAction(step: Json, action: string): boolean {
  return (
    typeof step.uses === "string" && step.uses.toLowerCase().startsWith(`${action.toLowerCase()}@`)
  );
}

/** The role variable a job assumes with configure-aws-credentials, if any. */
export function assumedRoles(job: Json): string[] {
  return steps(job)
    .filter((s) => usesAction(s, "aws-actions/configure-aws-credentials"))
    .map((s) => String((isRecord(s.with) ? s.with["role-to-assume"] : undefined) ?? ""));
}

function grantsIdToken(permissions: unknown): boolean {
  if (permissions === "write-all") return true;
  return isRecord(permissions) && permissions["id-token"] === "write";
}

function runScripts(wf: Json): Array<{ where: string; run: string }> {
  const found: Array<{ where: string; run: string }> = [];
  for (const [id, job] of jobs(wf)) {
    for (const [i, step] of steps(job).entries()) {
      if (typeof step.run === "string") found.push({ where: `${id}.steps[${i}]`, run: step.run });
    }
  }
  for (const [i, step] of actionSteps(wf).entries()) {
    if (typeof step.run === "string") found.push({ where: `runs.steps[${i}]`, run: step.run });
  }
  return found;
}

// --- invariant 30 -------------------------------------------------------------------------------

/** Top-level `permissions` is `{}` or exactly `contents: read`. */
export function checkTopLevelPermissions(wf: Json): string[] {
  const p = wf.permissions;
  if (isRecord(p) && Object.keys(p).length === 0) return [];
  if (isRecord(p) && Object.keys(p).length === 1 && p.contents === "read") return [];
  return [`top-level permissions must be {} or { contents: read }, got ${JSON.stringify(p)}`];
}

/** `id-token: write` only on jobs that assume a role, and every job that assumes a role has it. */
export function checkIdTokenScope(wf: Json): string[] {
  const problems: string[] = [];
  if (grantsIdToken(wf.permissions)) problems.push("id-token: write granted at the top level");
  for (const [id, job] of jobs(wf)) {
    const grants = grantsIdToken(job.permissions);
    const assumes = assumedRoles(job).length > 0;
    if (grants && !assumes) problems.push(`job ${id} grants id-token: write but assumes no role`);
    if (assumes && !grants) problems.push(`job ${id} assumes a role without id-token: write`);
  }
  return problems;
}

// --- invariant 31 -------------------------------------------------------------------------------

/** Every `uses:` outside this repository is pinned to a 40-hex commit SHA with a version comment. */
export function checkPinnedActions(refs: readonly UsesRef[]): string[] {
  const problems: string[] = [];
  for (const ref of refs) {
    if (ref.value.startsWith("./")) continue;
    if (ref.value.startsWith("docker://")) {
      if (!/@sha256:[0-9a-f]{64}$/.test(ref.value))
        problems.push(`${ref.file}: ${ref.value} is not pinned by digest`);
      continue;
    }
    if (!/^[\w.-]+\/[\w.-]+(\/[\w./-]+)?@[0-9a-f]{40}$/.test(ref.value)) {
      problems.push(`${ref.file}: ${ref.value} is not pinned to a 40-hex commit SHA`);
    } else if (!ref.comment || !/^v\d+(\.\d+){0,2}\b/.test(ref.comment)) {
      problems.push(`${ref.file}: ${ref.value} has no version comment (# vX.Y.Z)`);
    }
  }
  return problems;
}

// --- invariant 32 -------------------------------------------------------------------------------

/** No `pull_request_target` (nor `workflow_run`, which also runs with a write token on fork code). */
export function checkNoPrivilegedTriggers(wf: Json): string[] {
  return Object.keys(triggers(wf))
    .filter((event) => event === "pull_request_target" || event === "workflow_run")
    .map((event) => `trigger ${event} is not allowed`);
}

/** No `${{ github.event.* }}` (or the branch name) interpolated into a `run:` script. */
export function checkNoEventInRun(wf: Json): string[] {
  return runScripts(wf)
    .filter(({ run }) => /\$\{\{[^}]*\b(github\.event\.|github\.head_ref)/.test(run))
    .map(({ where }) => `${where}: run interpolates github.event/head_ref; pass it through env`);
}

// --- invariant 33 -------------------------------------------------------------------------------

function deploysProd(job: Json): boolean {
  return (
    environmentName(job) === "prod" ||
    assumedRoles(job).some((r) => r.includes("DEPLOY_PROD_ROLE_ARN")) ||
    steps(job).some((s) => typeof s.run === "string" && /cdktf\s+deploy\s+prod\b/.test(s.run))
  );
}

function cancels(concurrency: unknown): boolean | undefined {
  if (concurrency === undefined) return undefined;
  if (typeof concurrency === "string") return false;
  if (!isRecord(concurrency)) return undefined;
  return (
    concurrency["cancel-in-progress"] !== undefined && concurrency["cancel-in-progress"] !== false
  );
}

/** The guard a manual prod run (a rollback) needs: it runs only from a release tag. */
const RELEASE_REF_GUARD =
  /^(\$\{\{\s*)?startsWith\(github\.ref, 'refs\/tags\/release-'\)(\s*\}\})?$/;

/**
 * prod deploys only from `release-*` tags, in environment prod, with non-cancelling concurrency. A
 * manual run (`workflow_dispatch` alone, e.g. a rollback) counts when every prod job runs only if
 * the dispatched ref is a release tag.
 */
export function checkProdDeploy(wf: Json): string[] {
  const prodJobs = jobs(wf).filter(([, job]) => deploysProd(job));
  if (prodJobs.length === 0) return [];
  const problems: string[] = [];
  const on = triggers(wf);
  const events = Object.keys(on);
  const push = isRecord(on.push) ? on.push : undefined;
  const tags = push && Array.isArray(push.tags) ? push.tags : [];
  const manual = events.length === 1 && events[0] === "workflow_dispatch";
  if (manual) {
    for (const [id, job] of prodJobs) {
      if (!RELEASE_REF_GUARD.test(String(job.if ?? "").trim()))
        problems.push(
          `job ${id}: a manual prod run needs if: startsWith(github.ref, 'refs/tags/release-')`,
        );
    }
  } else if (
    events.length !== 1 ||
    !push ||
    tags.length === 0 ||
    !tags.every((t) => /^release-/.test(String(t)))
  ) {
    problems.push(
      `prod deploys only on push of release-* tags; triggers are ${JSON.stringify(on)}`,
    );
  }
  if (push && (push.branches !== undefined || push["branches-ignore"] !== undefined)) {
    problems.push("prod deploy workflow must not run on branch pushes");
  }
  for (const [id, job] of prodJobs) {
    if (environmentName(job) !== "prod")
      problems.push(`job ${id} deploys prod outside environment prod`);
    const own = cancels(job.concurrency);
    const top = cancels(wf.concurrency);
    if (own === undefined && top === undefined)
      problems.push(`job ${id} deploys prod without concurrency`);
    if (own === true || top === true)
      problems.push(`job ${id}: prod concurrency cancels in progress`);
  }
  return problems;
}

// --- invariant 34 -------------------------------------------------------------------------------

/** Every checkout sets `persist-credentials: false` (no job here pushes with git). */
export function checkCheckoutCredentials(wf: Json): string[] {
  const problems: string[] = [];
  const all = [...jobs(wf).flatMap(([id, job]) => steps(job).map((s) => [id, s] as const))];
  for (const [id, step] of all) {
    if (!usesAction(step, "actions/checkout")) continue;
    const persist = isRecord(step.with) ? step.with["persist-credentials"] : undefined;
    if (persist !== false && persist !== "false")
      problems.push(`job ${id}: checkout without persist-credentials: false`);
  }
  return problems;
}

// --- identity and delivery design ---------------------------------------------------------------

/** The role variable each environment may assume. */
export const ROLE_FOR_ENVIRONMENT: Readonly<Record<string, string>> = {
  "": "PLAN_ROLE_ARN",
  plan: "PLAN_ROLE_ARN",
  dev: "DEPLOY_DEV_ROLE_ARN",
  prod: "DEPLOY_PROD_ROLE_ARN",
  shared: "DEPLOY_SHARED_ROLE_ARN",
};

/**
 * Each role is assumed from a repository variable, in the environment its trust policy names
 * (the plan role from pull requests or environment plan); no stored AWS keys anywhere.
 */
export function checkRoles(wf: Json): string[] {
  const problems: string[] = [];
  const pullRequestOnly = Object.keys(triggers(wf)).every((e) => e === "pull_request");
  for (const [id, job] of jobs(wf)) {
    for (const step of steps(job).filter((s) =>
      usesAction(s, "aws-actions/configure-aws-credentials"),
    )) {
      const w = isRecord(step.with) ? step.with : {};
      for (const key of ["aws-access-key-id", "aws-secret-access-key", "aws-session-token"]) {
        if (key in w) problems.push(`job ${id}: stored AWS key (${key})`);
      }
      const role = String(w["role-to-assume"] ?? "");
      const match = /^\$\{\{\s*vars\.([A-Z_]+)\s*\}\}$/.exec(role);
      if (!match) {
        problems.push(`job ${id}: role-to-assume must be a repository variable, got ${role}`);
        continue;
      }
      const env = environmentName(job) ?? "";
      if (ROLE_FOR_ENVIRONMENT[env] !== match[1]) {
        problems.push(
          `job ${id}: ${match[1]} assumed in environment "${env}", which its trust policy does not name`,
        );
      }
      if (env === "" && !pullRequestOnly) {
        problems.push(`job ${id}: the plan role without an environment works only on pull_request`);
      }
      if (!/^\$\{\{\s*vars\.AWS_REGION\s*\}\}$/.test(String(w["aws-region"] ?? ""))) {
        problems.push(`job ${id}: aws-region must come from vars.AWS_REGION`);
      }
    }
  }
  return problems;
}

/** A deploy workflow queues in its own concurrency group and never cancels a running deploy. */
export function checkDeployConcurrency(wf: Json, group: string): string[] {
  const c = wf.concurrency;
  if (!isRecord(c) || c.group !== group)
    return [`concurrency group must be ${group}, got ${JSON.stringify(c)}`];
  if (c["cancel-in-progress"] !== false)
    return [`concurrency ${group} must set cancel-in-progress: false`];
  return [];
}

/**
 * Every `cdktf deploy <env>` runs with exactly `flags` (plus `--outputs-file <file>`): it deploys
 * what the job synthesized last, so that synthesis runs in an earlier step of the job with the
 * same environment, and no step in between changes `$GITHUB_ENV`.
 */
export function checkDeploysWhatWasSynthesized(wf: Json, flags: readonly string[]): string[] {
  const problems: string[] = [];
  for (const [id, job] of jobs(wf)) {
    const list = steps(job);
    list.forEach((step, i) => {
      const run = typeof step.run === "string" ? step.run : "";
      const match = /npx cdktf deploy (?!shared\b)(\S+)((?:\s+--?[\w-]+(?:\s+[^-\s]\S*)?)*)/.exec(
        run,
      );
      if (!match) return;
      const where = `${id}.steps[${i}] (cdktf deploy ${match[1]})`;
      const given = match[2]!
        .trim()
        .split(/\s+/)
        .filter((w) => w.startsWith("--") && w !== "--outputs-file");
      const want = [...flags].sort();
      if (JSON.stringify([...given].sort()) !== JSON.stringify(want)) {
        problems.push(
          `${where}: flags ${given.join(" ")}; want ${want.join(" ")} (and --outputs-file)`,
        );
      }
      const synth = list
        .slice(0, i)
        .map((s, k) => ({ s, k }))
        .filter(({ s }) => typeof s.run === "string" && /npm run --silent synth\b/.test(s.run))
        .pop();
      if (!synth) {
        problems.push(`${where}: no earlier step of the job runs npm run --silent synth`);
        return;
      }
      if (JSON.stringify(synth.s.env ?? {}) !== JSON.stringify(step.env ?? {})) {
        problems.push(
          `${where}: synthesized by ${id}.steps[${synth.k}] with env ${JSON.stringify(synth.s.env ?? {})}, deployed with ${JSON.stringify(step.env ?? {})}`,
        );
      }
      for (const between of list.slice(synth.k + 1, i)) {
        if (typeof between.run === "string" && between.run.includes("GITHUB_ENV")) {
          problems.push(`${where}: a step between the synthesis and the deploy writes $GITHUB_ENV`);
        }
      }
    });
  }
  return problems;
}

/** Every `npm run <script>` in a run step names a script of package.json. */
export function checkNpmScripts(wf: Json, scripts: Readonly<Record<string, string>>): string[] {
  const problems: string[] = [];
  for (const { where, run } of runScripts(wf)) {
    for (const match of run.matchAll(/npm run(?:\s+--?[\w-]+)*\s+([\w:-]+)/g)) {
      if (!(match[1]! in scripts))
        problems.push(`${where}: npm run ${match[1]} is not a package.json script`);
    }
  }
  return problems;
}

/** The commands a workflow runs, joined, for "does it run X" assertions. */
export function runText(wf: Json): string {
  return runScripts(wf)
    .map((r) => r.run)
    .join("\n");
}

/** Every `uses:` of the steps of a job (or a composite action). */
export function stepUses(stepsOf: readonly Json[]): string[] {
  return stepsOf
    .map((s) => (typeof s.uses === "string" ? s.uses.split("@")[0]! : ""))
    .filter(Boolean);
}

// --- scans and alerts ---------------------------------------------------------------------------

/**
 * A job that runs third-party scanners holds no cloud credentials and no write token: read-only
 * contents, no role, no secrets.
 */
export function checkNoCloudAccess(id: string, job: Json): string[] {
  const problems: string[] = [];
  const p = job.permissions;
  if (!(isRecord(p) && Object.keys(p).length === 1 && p.contents === "read")) {
    problems.push(
      `job ${id}: permissions must be exactly { contents: read }, got ${JSON.stringify(p)}`,
    );
  }
  if (assumedRoles(job).length > 0) problems.push(`job ${id} assumes an AWS role`);
  if (/\$\{\{[^}]*\bsecrets\./.test(JSON.stringify(job))) problems.push(`job ${id} reads a secret`);
  if (/AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)/.test(JSON.stringify(job))) {
    problems.push(`job ${id} sets AWS credentials`);
  }
  return problems;
}

/**
 * The alert job of a delivery workflow: calls alert.yml after every other job, whatever their
 * result, unless the run was cancelled; with the issue and run-log permissions only.
 */
export function checkAlertJob(wf: Json, workflow: string): string[] {
  const all = jobs(wf);
  const alert = all.find(([id]) => id === "alert")?.[1];
  if (!alert) return ["no alert job"];
  const problems: string[] = [];
  if (alert.uses !== "./.github/workflows/alert.yml")
    problems.push("alert job must call ./.github/workflows/alert.yml");
  const needs = Array.isArray(alert.needs) ? alert.needs.map(String) : [String(alert.needs ?? "")];
  const others = all.map(([id]) => id).filter((id) => id !== "alert");
  const missing = others.filter((id) => !needs.includes(id));
  if (missing.length > 0) problems.push(`alert job does not wait for ${missing.join(", ")}`);
  const condition = String(alert.if ?? "");
  if (!/\balways\(\)/.test(condition) || !/!\s*cancelled\(\)/.test(condition)) {
    problems.push(
      `alert job must run on success and failure but not when cancelled: if is ${JSON.stringify(condition)}`,
    );
  }
  const w = isRecord(alert.with) ? alert.with : {};
  if (w.workflow !== workflow)
    problems.push(`alert job reports workflow ${JSON.stringify(w.workflow)}, not ${workflow}`);
  if (!/join\(needs\.\*\.result/.test(String(w.results ?? "")))
    problems.push("alert job must pass join(needs.*.result, ' ')");
  const p = isRecord(alert.permissions) ? alert.permissions : {};
  if (
    JSON.stringify(p) !== JSON.stringify({ contents: "read", issues: "write", actions: "read" })
  ) {
    problems.push(
      `alert job permissions must be contents: read, issues: write, actions: read; got ${JSON.stringify(p)}`,
    );
  }
  return problems;
}
