import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkov, readSkipFile, unaccepted, type SkipFile } from "../helpers/checkov";
import { DEPLOY_FLAGS } from "../../scripts/rehearse/delivery";
import {
  actionSteps,
  checkAlertJob,
  checkNoCloudAccess,
  checkCheckoutCredentials,
  checkDeployConcurrency,
  checkIdTokenScope,
  checkNoEventInRun,
  checkNoPrivilegedTriggers,
  checkDeploysWhatWasSynthesized,
  checkNpmScripts,
  checkPinnedActions,
  checkProdDeploy,
  checkRoles,
  checkTopLevelPermissions,
  environmentName,
  jobs,
  loadCompositeActions,
  loadWorkflows,
  parseWorkflow,
  repoRoot,
  runText,
  stepUses,
  steps,
  triggers,
  type Json,
  type LoadedWorkflow,
} from "./workflow-checks";

const workflows = loadWorkflows();
const actions = loadCompositeActions();
const byName = (file: string): LoadedWorkflow => {
  const wf = workflows.find((w) => w.file === file);
  if (!wf) throw new Error(`no workflow ${file}`);
  return wf;
};
/** A deep copy to break. */
const copy = (file: string): Json => structuredClone(byName(file).data);
const job = (wf: Json, id: string): Json => {
  const found = jobs(wf).find(([name]) => name === id);
  if (!found) throw new Error(`no job ${id}`);
  return found[1];
};
const packageScripts = (
  JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  }
).scripts;

const EXPECTED = [
  "alert.yml",
  "ci.yml",
  "deploy-dev.yml",
  "drift.yml",
  "plan.yml",
  "release.yml",
  "rollback.yml",
  "scan.yml",
  "shared.yml",
];

describe("the workflow set", () => {
  it("has the delivery workflows", () => {
    expect(workflows.map((w) => w.file)).toEqual(expect.arrayContaining(EXPECTED));
  });
});

describe.each(workflows.map((w) => [w.file, w] as const))(
  "%s keeps invariants 30–34",
  (_file, wf) => {
    it("30: top-level permissions are read-only; id-token only where a role is assumed", () => {
      expect(checkTopLevelPermissions(wf.data)).toEqual([]);
      expect(checkIdTokenScope(wf.data)).toEqual([]);
    });
    it("31: every action is pinned to a commit SHA with its version", () => {
      expect(checkPinnedActions(wf.uses)).toEqual([]);
    });
    it("32: no pull_request_target, no github.event in run scripts", () => {
      expect(checkNoPrivilegedTriggers(wf.data)).toEqual([]);
      expect(checkNoEventInRun(wf.data)).toEqual([]);
    });
    it("33: prod deploys only from release tags, in environment prod, never cancelled", () => {
      expect(checkProdDeploy(wf.data)).toEqual([]);
    });
    it("34: checkout does not persist credentials", () => {
      expect(checkCheckoutCredentials(wf.data)).toEqual([]);
    });
    it("roles come from repository variables, each in the environment its trust names", () => {
      expect(checkRoles(wf.data)).toEqual([]);
    });
    it("runs only npm scripts that package.json defines", () => {
      expect(checkNpmScripts(wf.data, packageScripts)).toEqual([]);
    });
    it("deploys an environment with the rehearsal's flags, what the job synthesized with the same env", () => {
      expect(checkDeploysWhatWasSynthesized(wf.data, DEPLOY_FLAGS)).toEqual([]);
    });
  },
);

describe("composite actions keep the same rules", () => {
  it.each(actions.map((a) => [a.file, a] as const))("%s", (_file, action) => {
    expect(checkPinnedActions(action.uses)).toEqual([]);
    expect(checkNoEventInRun(action.data)).toEqual([]);
    expect(checkNpmScripts(action.data, packageScripts)).toEqual([]);
  });
});

describe("each check reports a broken workflow", () => {
  it("30: write-all or extra top-level permissions", () => {
    const wf = copy("plan.yml");
    wf.permissions = "write-all";
    expect(checkTopLevelPermissions(wf)).toHaveLength(1);
    wf.permissions = { contents: "read", "pull-requests": "write" };
    expect(checkTopLevelPermissions(wf)).toHaveLength(1);
  });
  it("30: id-token on a job that assumes no role, or missing where one is assumed", () => {
    const wf = copy("plan.yml");
    job(wf, "comment").permissions = { "pull-requests": "write", "id-token": "write" };
    expect(checkIdTokenScope(wf)).toEqual([
      "job comment grants id-token: write but assumes no role",
    ]);
    const other = copy("deploy-dev.yml");
    job(other, "deploy").permissions = { contents: "read" };
    expect(checkIdTokenScope(other)).toEqual(["job deploy assumes a role without id-token: write"]);
    const top = copy("ci.yml");
    top.permissions = { contents: "read", "id-token": "write" };
    expect(checkIdTokenScope(top)).toContain("id-token: write granted at the top level");
  });
  it("31: a tag instead of a SHA, a short SHA, or no version comment", () => {
    const text = readFileSync(join(repoRoot, ".github/workflows/plan.yml"), "utf8");
    const byTag = parseWorkflow(
      "t.yml",
      text.replace(/actions\/checkout@[0-9a-f]{40}/, "actions/checkout@v7"),
    );
    expect(checkPinnedActions(byTag.uses)).toEqual([
      "t.yml: actions/checkout@v7 is not pinned to a 40-hex commit SHA",
    ]);
    const short = parseWorkflow(
      "t.yml",
      text.replace(/(actions\/checkout@)([0-9a-f]{7})[0-9a-f]{33}/, "$1$2"),
    );
    expect(checkPinnedActions(short.uses)).toHaveLength(1);
    const noComment = parseWorkflow(
      "t.yml",
      text.replace(/(actions\/checkout@[0-9a-f]{40}) # v7\.0\.1/, "$1"),
    );
    expect(checkPinnedActions(noComment.uses)[0]).toMatch(/no version comment/);
  });
  it("32: pull_request_target or workflow_run triggers", () => {
    const wf = copy("plan.yml");
    wf.on = { pull_request_target: null };
    expect(checkNoPrivilegedTriggers(wf)).toEqual(["trigger pull_request_target is not allowed"]);
    wf.on = ["push", "workflow_run"];
    expect(checkNoPrivilegedTriggers(wf)).toEqual(["trigger workflow_run is not allowed"]);
  });
  it("32: github.event interpolated into run", () => {
    const wf = copy("plan.yml");
    steps(job(wf, "plan")).push({ run: 'echo "${{ github.event.pull_request.title }}"' });
    expect(checkNoEventInRun(wf)).toHaveLength(1);
    const action = structuredClone(actions[0]!.data);
    actionSteps(action).push({ run: "echo ${{ github.head_ref }}", shell: "bash" });
    expect(checkNoEventInRun(action)).toHaveLength(1);
  });
  it("33: prod deploy from a branch, outside environment prod, or cancellable", () => {
    const onBranch = copy("release.yml");
    onBranch.on = { push: { branches: ["main"] } };
    expect(checkProdDeploy(onBranch).join("\n")).toMatch(/only on push of release-\* tags/);
    const dispatch = copy("release.yml");
    (dispatch.on as Json).workflow_dispatch = null;
    expect(checkProdDeploy(dispatch)).toHaveLength(1);
    const noEnv = copy("release.yml");
    delete job(noEnv, "deploy").environment;
    expect(checkProdDeploy(noEnv)).toEqual(["job deploy deploys prod outside environment prod"]);
    const cancelling = copy("release.yml");
    (cancelling.concurrency as Json)["cancel-in-progress"] = true;
    expect(checkProdDeploy(cancelling)).toEqual([
      "job deploy: prod concurrency cancels in progress",
    ]);
    const unguarded = copy("rollback.yml");
    delete job(unguarded, "rollback").if;
    expect(checkProdDeploy(unguarded)).toEqual([
      "job rollback: a manual prod run needs if: startsWith(github.ref, 'refs/tags/release-')",
    ]);
    const branchGuard = copy("rollback.yml");
    job(branchGuard, "rollback").if = "github.ref == 'refs/heads/main'";
    expect(checkProdDeploy(branchGuard)).toHaveLength(1);
    const dispatchAndPush = copy("rollback.yml");
    (dispatchAndPush.on as Json).push = { branches: ["main"] };
    expect(checkProdDeploy(dispatchAndPush).length).toBeGreaterThan(0);
    const none = copy("release.yml");
    delete none.concurrency;
    expect(checkProdDeploy(none)).toEqual(["job deploy deploys prod without concurrency"]);
    // A prod deploy slipped into the dev workflow is caught by its command alone.
    const sneaky = copy("deploy-dev.yml");
    steps(job(sneaky, "deploy")).push({ run: "npx cdktf deploy prod --auto-approve" });
    expect(checkProdDeploy(sneaky).length).toBeGreaterThan(0);
  });
  it("34: checkout that persists credentials", () => {
    const wf = copy("ci.yml");
    const checkout = steps(job(wf, "checks"))[0]!;
    delete (checkout.with as Json)["persist-credentials"];
    expect(checkCheckoutCredentials(wf)).toEqual([
      "job checks: checkout without persist-credentials: false",
    ]);
  });
  it("roles: wrong environment, stored keys, a literal ARN, the plan role on a branch", () => {
    const wrongEnv = copy("deploy-dev.yml");
    job(wrongEnv, "deploy").environment = "prod";
    expect(checkRoles(wrongEnv)[0]).toMatch(/DEPLOY_DEV_ROLE_ARN assumed in environment "prod"/);
    const keys = copy("deploy-dev.yml");
    (
      steps(job(keys, "deploy")).find((s) => String(s.uses).includes("configure-aws"))!.with as Json
    )["aws-access-key-id"] = "${{ secrets.AWS_ACCESS_KEY_ID }}";
    expect(checkRoles(keys)).toEqual(["job deploy: stored AWS key (aws-access-key-id)"]);
    const literal = copy("plan.yml");
    (
      steps(job(literal, "plan")).find((s) => String(s.uses).includes("configure-aws"))!
        .with as Json
    )["role-to-assume"] = "arn:aws:iam::123456789012:role/plan";
    expect(checkRoles(literal)[0]).toMatch(/must be a repository variable/);
    const noEnv = copy("drift.yml");
    delete job(noEnv, "plan").environment;
    expect(checkRoles(noEnv)).toEqual([
      "job plan: the plan role without an environment works only on pull_request",
    ]);
  });
  it("deploy concurrency: wrong group or cancelling", () => {
    const wf = copy("deploy-dev.yml");
    expect(checkDeployConcurrency(wf, "deploy-dev")).toEqual([]);
    (wf.concurrency as Json)["cancel-in-progress"] = true;
    expect(checkDeployConcurrency(wf, "deploy-dev")).toHaveLength(1);
    expect(checkDeployConcurrency(copy("deploy-dev.yml"), "deploy-prod")).toHaveLength(1);
  });
  it("deploys: other flags, a synthesis with another env, $GITHUB_ENV changed in between", () => {
    const wf = copy("deploy-dev.yml");
    const list = steps(job(wf, "deploy"));
    const at = list.findIndex((s) => /cdktf deploy dev/.test(String(s.run)));
    const deploy = list[at]!;
    const run = String(deploy.run);
    deploy.run = run.replace(" --skip-synth", "");
    expect(checkDeploysWhatWasSynthesized(wf, DEPLOY_FLAGS)).toEqual([
      `deploy.steps[${at}] (cdktf deploy dev): flags --auto-approve --ignore-missing-stack-dependencies; want --auto-approve --ignore-missing-stack-dependencies --skip-synth (and --outputs-file)`,
    ]);
    deploy.run = run;
    (deploy.env as Json).IMAGE_TAG_DEV = "sha-other";
    expect(checkDeploysWhatWasSynthesized(wf, DEPLOY_FLAGS)[0]).toMatch(
      /synthesized by deploy\.steps\[\d+\] with env .*deployed with .*sha-other/,
    );
    (deploy.env as Json).IMAGE_TAG_DEV = "sha-${{ github.sha }}";
    list.splice(at, 0, { run: 'echo "IMAGE_TAG_DEV=x" >> "$GITHUB_ENV"' });
    expect(checkDeploysWhatWasSynthesized(wf, DEPLOY_FLAGS)).toEqual([
      `deploy.steps[${at + 1}] (cdktf deploy dev): a step between the synthesis and the deploy writes $GITHUB_ENV`,
    ]);
    const unsynthesized = copy("rollback.yml");
    for (const [, j] of jobs(unsynthesized)) {
      for (const s of steps(j)) {
        if (typeof s.run === "string") s.run = s.run.replace("npm run --silent synth", "true");
      }
    }
    expect(checkDeploysWhatWasSynthesized(unsynthesized, DEPLOY_FLAGS)[0]).toMatch(
      /no earlier step of the job runs npm run --silent synth/,
    );
  });
  it("npm scripts: a script package.json lacks", () => {
    const wf = copy("ci.yml");
    steps(job(wf, "checks")).push({ run: "npm run --silent no-such-script" });
    expect(checkNpmScripts(wf, packageScripts)).toEqual([
      `checks.steps[${steps(job(wf, "checks")).length - 1}]: npm run no-such-script is not a package.json script`,
    ]);
  });
});

describe("triggers", () => {
  it("ci: pull requests, pushes to main, and calls from deploy-dev", () => {
    expect(triggers(byName("ci.yml").data)).toEqual({
      pull_request: null,
      push: { branches: ["main"] },
      workflow_call: null,
    });
  });
  it("plan: pull requests only", () => {
    expect(triggers(byName("plan.yml").data)).toEqual({ pull_request: null });
  });
  it("deploy-dev: pushes to main only", () => {
    expect(triggers(byName("deploy-dev.yml").data)).toEqual({ push: { branches: ["main"] } });
  });
  it("release: release-* tags only", () => {
    expect(triggers(byName("release.yml").data)).toEqual({ push: { tags: ["release-*"] } });
  });
  it("shared: pushes to main that touch the shared stack's inputs, and by hand", () => {
    const on = triggers(byName("shared.yml").data);
    expect(Object.keys(on).sort()).toEqual(["push", "workflow_dispatch"]);
    const push = on.push as { branches: string[]; paths: string[] };
    expect(push.branches).toEqual(["main"]);
    expect(push.paths).toEqual(
      expect.arrayContaining([
        "main.ts",
        "config/**",
        "stacks/**",
        "constructs/**",
        "package-lock.json",
      ]),
    );
  });
  it("drift: nightly and by hand", () => {
    const on = triggers(byName("drift.yml").data);
    expect(Object.keys(on).sort()).toEqual(["schedule", "workflow_dispatch"]);
    expect((on.schedule as Array<{ cron: string }>)[0]!.cron).toMatch(/^\d+ \d+ \* \* \*$/);
  });
});

describe("ci runs what the README runs", () => {
  const ci = byName("ci.yml").data;
  const checks = job(ci, "checks");
  it("runs the npm scripts, with every stack validated", () => {
    const commands = runText(ci);
    for (const script of [
      "npm run format:check",
      "npm run lint",
      "npm run typecheck",
      "npm test",
      "npm run synth",
    ]) {
      expect(commands).toContain(script);
    }
    expect(commands).toMatch(/\.tools\/bin\/actionlint/);
    expect((checks.env as Json).VALIDATE_ALL_STACKS).toBe("1");
  });
  it("installs terraform without its wrapper, helm, and the checking tools", () => {
    const setup = actions.find((a) => a.file.includes("actions/setup/"))!.data;
    const s = actionSteps(setup);
    const terraform = s.find((x) => String(x.uses).startsWith("hashicorp/setup-terraform@"))!;
    expect((terraform.with as Json).terraform_wrapper).toBe(false);
    expect(stepUses(s)).toEqual(
      expect.arrayContaining(["Azure/setup-helm", "actions/setup-node", "actions/cache"]),
    );
    expect(runText(setup)).toContain("npm run tools");
    expect(steps(checks).find((x) => x.uses === "./.github/actions/setup")!.with).toEqual({
      "checking-tools": "true",
    });
  });
});

describe("plan", () => {
  const wf = byName("plan.yml").data;
  it("plans with the read-only role and no write token; comments with no cloud credentials", () => {
    const plan = job(wf, "plan");
    expect(plan.permissions).toEqual({ contents: "read", "id-token": "write" });
    expect(environmentName(plan)).toBeUndefined();
    const comment = job(wf, "comment");
    expect(comment.permissions).toEqual({ "pull-requests": "write" });
    expect(stepUses(steps(comment))).toContain("marocchino/sticky-pull-request-comment");
    const sticky = steps(comment).find((s) => String(s.uses).startsWith("marocchino/"))!;
    expect(sticky.with).toMatchObject({ header: "terraform-plan", path: "plan-comment.md" });
  });
  it("plans every stack with the image tags the merge would deploy, and keeps the full plan", () => {
    const commands = runText(wf);
    expect(commands).toMatch(/npm run plan:stacks -- plans\n/);
    expect(commands).toContain('image-tags --head "$HEAD_SHA"');
    expect(commands).toContain('>> "$GITHUB_STEP_SUMMARY"');
    expect(stepUses(steps(job(wf, "plan")))).toContain("actions/upload-artifact");
  });
});

describe("deploy-dev", () => {
  const wf = byName("deploy-dev.yml").data;
  it("queues deploys without cancelling them", () => {
    expect(checkDeployConcurrency(wf, "deploy-dev")).toEqual([]);
  });
  it("gates the deploy on the checks and the image", () => {
    expect(job(wf, "checks").uses).toBe("./.github/workflows/ci.yml");
    expect(job(wf, "deploy").needs).toEqual(["checks", "image"]);
    expect(environmentName(job(wf, "deploy"))).toBe("dev");
    expect(environmentName(job(wf, "image"))).toBe("dev");
  });
  it("builds once for amd64 and arm64 with a layer cache and pushes sha-<commit>", () => {
    const build = steps(job(wf, "image")).find((s) =>
      String(s.uses).startsWith("docker/build-push-action@"),
    )!;
    const w = build.with as Json;
    expect(w.platforms).toBe("linux/amd64,linux/arm64");
    expect(w.push).toBe(true);
    expect(String(w["cache-from"])).toMatch(/^type=gha/);
    expect(String(w["cache-to"])).toMatch(/^type=gha.*mode=max/);
    expect(w.file).toBe("api/Dockerfile");
    expect(String(w["build-args"])).toMatch(/VERSION=.*\n\s*GIT_SHA=\$\{\{ github\.sha \}\}/);
    expect(runText(wf)).toContain('echo "image=$ECR_REPOSITORY_URL:sha-$GITHUB_SHA"');
  });
  it("deploys dev with IMAGE_TAG_DEV=sha-<commit> and smoke-tests the service", () => {
    const deploy = steps(job(wf, "deploy")).find((s) => /cdktf deploy dev/.test(String(s.run)))!;
    expect((deploy.env as Json).IMAGE_TAG_DEV).toBe("sha-${{ github.sha }}");
    expect(String(deploy.run)).toContain("--auto-approve");
    expect(runText(wf)).toMatch(/delivery -- smoke --url "\$SERVICE_URL" --commit "\$GITHUB_SHA"/);
  });
});

describe("release", () => {
  const wf = byName("release.yml").data;
  it("checks the tag, then promotes and deploys prod in one approved job", () => {
    expect(runText(wf)).toContain('release-check --tag "$GITHUB_REF_NAME"');
    const deploy = job(wf, "deploy");
    expect(deploy.needs).toBe("verify");
    const names = steps(deploy).map((s) => String(s.run ?? s.uses ?? ""));
    const promote = names.findIndex((r) => r.includes("delivery -- promote"));
    const cdktf = names.findIndex((r) => r.includes("cdktf deploy prod"));
    expect(promote).toBeGreaterThan(-1);
    expect(cdktf).toBeGreaterThan(promote);
    expect((steps(deploy)[cdktf]!.env as Json).IMAGE_TAG_PROD).toBe(
      "${{ needs.verify.outputs.image_tag }}",
    );
    expect(checkDeployConcurrency(wf, "deploy-prod")).toEqual([]);
  });
  it("publishes the GitHub release only after prod is up, with the only write token", () => {
    const release = job(wf, "github-release");
    expect(release.needs).toEqual(["verify", "deploy"]);
    expect(release.permissions).toEqual({ contents: "write" });
    for (const [id, other] of jobs(wf)) {
      if (id === "github-release" || id === "alert") continue;
      const grants = Object.entries((other.permissions as Json | undefined) ?? {});
      expect(grants.filter(([scope, level]) => level === "write" && scope !== "id-token")).toEqual(
        [],
      );
    }
  });
});

describe("blue/green in release and rollback", () => {
  const release = byName("release.yml").data;
  const deploySteps = steps(job(release, "deploy"));
  const text = (s: Json) => `${String(s.name ?? "")} ${String(s.run ?? s.uses ?? "")}`;
  const index = (pattern: RegExp) => deploySteps.findIndex((s) => pattern.test(text(s)));

  it("release: deploy into the idle colour, helm test it, and only then switch", () => {
    const inputs = index(/delivery -- blue-green .*--step deploy/s);
    const install = index(/1\/3: cdktf deploy prod/);
    const test = index(/helm test "\$BLUE_GREEN_RELEASE"/);
    const switchInputs = index(/delivery -- blue-green .*--step switch/s);
    const flip = index(/3\/3: cdktf deploy prod/);
    expect([inputs, install, test, switchInputs, flip].every((i) => i >= 0)).toBe(true);
    expect(inputs).toBeLessThan(install);
    expect(install).toBeLessThan(test);
    expect(test).toBeLessThan(switchInputs);
    expect(switchInputs).toBeLessThan(flip);
    // A step that fails ends the job: nothing between the test and the switch runs regardless.
    for (const step of deploySteps.slice(install, flip + 1)) {
      expect(String(step.if ?? "")).toBe("steps.strategy.outputs.strategy == 'blue-green'");
      expect(step).not.toHaveProperty("continue-on-error");
      expect((step.env as Json | undefined)?.IMAGE_TAG_PROD).toBeUndefined();
    }
    const smoke = index(/delivery -- smoke/);
    expect(smoke).toBeGreaterThan(flip);
  });

  it("release: the rolling deploy runs only when prod is rolling", () => {
    const rolling = deploySteps.find((s) => s.name === "cdktf deploy prod")!;
    expect(rolling.if).toBe("steps.strategy.outputs.strategy == 'rolling'");
    expect(runText(release)).toContain("delivery -- strategy --env prod");
  });

  it.each(["plan.yml", "drift.yml"])(
    "%s: plans a blue/green prod with the colours from the state, before planning",
    (file) => {
      const planJob = jobs(byName(file).data).find(([, j]) =>
        steps(j).some((s) => String(s.run ?? "").includes("npm run plan:stacks")),
      )![1];
      const runs = steps(planJob).map((s) => String(s.run ?? ""));
      const colours = runs.findIndex((r) => r.includes("--step current"));
      const plan = runs.findIndex((r) => r.includes("npm run plan:stacks"));
      expect(colours).toBeGreaterThan(-1);
      expect(colours).toBeLessThan(plan);
      expect(runs[colours]).toContain('tee -a "$GITHUB_ENV"');
      const role = steps(planJob).findIndex((s) =>
        String(s.uses ?? "").startsWith("aws-actions/configure-aws-credentials@"),
      );
      expect(role).toBeGreaterThan(-1);
      expect(role).toBeLessThan(colours);
    },
  );

  it("rollback: by hand, in environment prod with the prod role, queued with releases", () => {
    const wf = byName("rollback.yml").data;
    expect(triggers(wf)).toEqual({ workflow_dispatch: null });
    expect(checkDeployConcurrency(wf, "deploy-prod")).toEqual([]);
    const rollback = job(wf, "rollback");
    expect(environmentName(rollback)).toBe("prod");
    expect(rollback.if).toBe("startsWith(github.ref, 'refs/tags/release-')");
    const names = steps(rollback).map((s) => String(s.run ?? s.uses ?? ""));
    const flip = names.findIndex((r) => r.includes("delivery -- rollback --env prod"));
    const apply = names.findIndex((r) => r.includes("cdktf deploy prod"));
    expect(flip).toBeGreaterThan(-1);
    expect(apply).toBeGreaterThan(flip);
    // No rebuild, no promotion, no re-install: a flip of the active colour only.
    expect(runText(wf)).not.toMatch(/docker|promote|IMAGE_TAG_PROD=|helm (install|upgrade)/);
    expect(stepUses(steps(rollback)).filter((u) => u.startsWith("docker/"))).toEqual([]);
  });
});

describe("shared and drift", () => {
  it("shared: plans read-only, then deploys in environment shared when something changes", () => {
    const wf = byName("shared.yml").data;
    expect(checkDeployConcurrency(wf, "deploy-shared")).toEqual([]);
    expect(environmentName(job(wf, "plan"))).toBe("plan");
    const deploy = job(wf, "deploy");
    expect(environmentName(deploy)).toBe("shared");
    expect(deploy.if).toBe("needs.plan.outputs.changed == 'true'");
    expect(runText(wf)).toContain("npx cdktf deploy shared --auto-approve");
  });
  it("drift: plans every stack, then keeps one drift issue with a token that has no cloud access", () => {
    const wf = byName("drift.yml").data;
    expect(runText(wf)).toMatch(/npm run plan:stacks -- plans\n/);
    const issue = job(wf, "issue");
    expect(issue.permissions).toEqual({ contents: "read", issues: "write" });
    expect(runText(wf)).toContain("delivery -- drift-issue");
  });
});

const TRIVY_ACTION = "aquasecurity/trivy-action@57a97c7e7821a5776cebc9bb87c984fa69cba8f1";

describe("scan (pull-request image build and scans)", () => {
  const wf = byName("scan.yml").data;
  it("runs on pull requests, on main and weekly", () => {
    const on = triggers(wf);
    expect(Object.keys(on).sort()).toEqual(["pull_request", "push", "schedule"]);
    expect(on.push).toEqual({ branches: ["main"] });
  });
  it("the scanning jobs hold no cloud credentials and no write token", () => {
    for (const id of ["trivy", "audit", "config"])
      expect(checkNoCloudAccess(id, job(wf, id))).toEqual([]);
  });
  it("a scanner job with a write token, a role or a secret is reported", () => {
    const broken = copy("scan.yml");
    job(broken, "trivy").permissions = { contents: "read", "security-events": "write" };
    expect(checkNoCloudAccess("trivy", job(broken, "trivy"))).toHaveLength(1);
    const role = copy("scan.yml");
    const t = job(role, "trivy");
    (t.permissions as Json)["id-token"] = "write";
    steps(t).unshift({
      uses: "aws-actions/configure-aws-credentials@e6de054238d6b7531b4efff3b6587d9aade6a06c",
      with: { "role-to-assume": "${{ vars.PLAN_ROLE_ARN }}" },
    });
    expect(checkNoCloudAccess("trivy", t)).toHaveLength(2);
    const secret = copy("scan.yml");
    steps(job(secret, "trivy")).push({ run: "true", env: { TOKEN: "${{ secrets.SOMETHING }}" } });
    expect(checkNoCloudAccess("trivy", job(secret, "trivy"))).toEqual(["job trivy reads a secret"]);
  });
  it("pins Trivy to the commit verified clean after the tag hijack", () => {
    const trivy = steps(job(wf, "trivy")).filter((s) => String(s.uses).startsWith("aquasecurity/"));
    expect(trivy.map((s) => s.uses)).toEqual([TRIVY_ACTION, TRIVY_ACTION]);
  });
  it("builds the image exactly as deploy-dev does, for amd64, without pushing", () => {
    const build = (file: string, id: string) =>
      steps(job(byName(file).data, id)).find((s) =>
        String(s.uses).startsWith("docker/build-push-action@"),
      )!.with as Json;
    const pr = build("scan.yml", "trivy");
    const main = build("deploy-dev.yml", "image");
    for (const key of ["context", "file", "cache-from", "cache-to"])
      expect(pr[key]).toBe(main[key]);
    const args = (w: Json) => String(w["build-args"]).replace(/VERSION=.*/, "VERSION");
    expect(args(pr)).toBe(args(main));
    expect(pr.platforms).toBe("linux/amd64");
    expect(pr.push).toBe(false);
    expect(pr.load).toBe(true);
  });
  it("fails on fixable HIGH and CRITICAL findings in the image and the repository, with misconfigurations", () => {
    const [image, repo] = steps(job(wf, "trivy"))
      .filter((s) => String(s.uses).startsWith("aquasecurity/"))
      .map((s) => s.with as Json);
    for (const w of [image!, repo!]) {
      expect(w).toMatchObject({
        severity: "HIGH,CRITICAL",
        "ignore-unfixed": true,
        "exit-code": "1",
        format: "sarif",
      });
      expect(w.trivyignores).toBe(".trivyignore");
    }
    expect(image).toMatchObject({ "scan-type": "image", "vuln-type": "os,library" });
    expect(repo).toMatchObject({ "scan-type": "fs", scanners: "vuln,misconfig" });
  });
  it("uploads SARIF from a job that runs no scanner", () => {
    const upload = job(wf, "upload");
    expect(upload.permissions).toEqual({ contents: "read", "security-events": "write" });
    expect(
      stepUses(steps(upload)).filter((u) => !u.startsWith("actions/") && !u.startsWith("./")),
    ).toEqual([]);
    expect(runText(wf)).toContain("delivery -- upload-sarif");
  });
  it("audits production dependencies and scans the Dockerfile and chart with the local scripts", () => {
    expect(runText(wf)).toContain("npm run audit:prod");
    expect(runText(wf)).toContain("npm run scan:config");
  });
});

describe("image provenance", () => {
  const wf = byName("deploy-dev.yml").data;
  it("the pushed image carries an SBOM and a full provenance attestation, linked in the summary", () => {
    const build = steps(job(wf, "image")).find((s) =>
      String(s.uses).startsWith("docker/build-push-action@"),
    )!;
    expect(build.with).toMatchObject({ sbom: true, provenance: "mode=max" });
    const text = runText(wf);
    expect(text).toContain("--format '{{ json .SBOM }}' > sbom.json");
    expect(text).toContain("--format '{{ json .Provenance }}' > provenance.json");
    expect(text).toMatch(
      /SBOM \(SPDX\) and provenance \(SLSA\) \| \[image-attestations artifact\]\(\$ATTESTATIONS_URL\)/,
    );
  });
});

describe("alerts on failed delivery workflows", () => {
  it.each([
    ["deploy-dev.yml", "deploy-dev"],
    ["release.yml", "release"],
    ["shared.yml", "shared"],
    ["drift.yml", "drift"],
  ])("%s alerts as %s", (file, name) => {
    expect(checkAlertJob(byName(file).data, name)).toEqual([]);
  });
  it("reports an alert job that skips failures, misses a job, or has more permissions", () => {
    const onSuccess = copy("deploy-dev.yml");
    job(onSuccess, "alert").if = "success()";
    expect(checkAlertJob(onSuccess, "deploy-dev")[0]).toMatch(/not when cancelled/);
    const onCancel = copy("deploy-dev.yml");
    job(onCancel, "alert").if = "${{ always() }}";
    expect(checkAlertJob(onCancel, "deploy-dev")).toHaveLength(1);
    const missing = copy("release.yml");
    job(missing, "alert").needs = ["verify", "deploy"];
    expect(checkAlertJob(missing, "release")).toEqual([
      "alert job does not wait for github-release",
    ]);
    const wide = copy("shared.yml");
    (job(wide, "alert").permissions as Json)["id-token"] = "write";
    expect(checkAlertJob(wide, "shared")[0]).toMatch(/permissions must be/);
    const none = copy("drift.yml");
    delete (none.jobs as Json).alert;
    expect(checkAlertJob(none, "drift")).toEqual(["no alert job"]);
  });
  it("the alert workflow runs only when called, with the issue and log permissions", () => {
    const wf = byName("alert.yml").data;
    expect(Object.keys(triggers(wf))).toEqual(["workflow_call"]);
    expect(job(wf, "alert").permissions).toEqual({
      contents: "read",
      issues: "write",
      actions: "read",
    });
    expect(runText(wf)).toContain('delivery -- alert --workflow "$WORKFLOW" --results "$RESULTS"');
    const secrets = ((wf.on as Json).workflow_call as Json).secrets as Json;
    expect((secrets.ALERT_WEBHOOK_URL as Json).required).toBe(false);
  });
});

describe("real tools", () => {
  const actionlint = join(repoRoot, ".tools/bin/actionlint");
  it("actionlint reports nothing on the workflows", () => {
    const result = spawnSync(actionlint, ["-color=false"], { cwd: repoRoot, encoding: "utf8" });
    expect(result.stdout).toBe("");
    expect(result.status).toBe(0);
  });
  it("actionlint fails a broken workflow", () => {
    const broken = readFileSync(join(repoRoot, ".github/workflows/plan.yml"), "utf8").replace(
      "steps.report.outputs.failed",
      "steps.nope.outputs.failed",
    );
    const result = spawnSync(actionlint, ["-color=false", "-"], {
      cwd: repoRoot,
      encoding: "utf8",
      input: broken,
    });
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/nope/);
  });
  it("checkov (github_actions) finds nothing unaccepted", async () => {
    const findings = await checkov(join(repoRoot, ".github"), "github_actions");
    expect(unaccepted(findings, skips())).toEqual([]);
  });
  it("checkov (github_actions) fails a broken workflow", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gha-"));
    try {
      mkdirSync(join(dir, ".github", "workflows"), { recursive: true });
      const text = readFileSync(join(repoRoot, ".github/workflows/drift.yml"), "utf8").replace(
        "  workflow_dispatch:\n",
        "  workflow_dispatch:\n    inputs:\n      stack:\n        type: string\n",
      );
      writeFileSync(join(dir, ".github", "workflows", "drift.yml"), text);
      const findings = await checkov(dir, "github_actions");
      expect(findings.map((f) => f.id)).toContain("CKV_GHA_7");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Accepted checkov findings for the workflows, each with its reason (none so far). */
function skips(): SkipFile {
  const file = join(repoRoot, "policy", "checkov-github-actions.yaml");
  return existsSync(file) ? readSkipFile(file) : { skips: [] };
}

describe("one Node.js line, from .nvmrc", () => {
  const nvmrc = readFileSync(join(repoRoot, ".nvmrc"), "utf8").trim();
  const nextMajor = Number(nvmrc.split(".")[0]) + 1;
  it(".nvmrc pins an exact Node.js 24 LTS version, and both engines fields admit only its line", () => {
    expect(nvmrc).toMatch(/^24\.\d+\.\d+$/);
    for (const file of ["package.json", "api/package.json"]) {
      const pkg = JSON.parse(readFileSync(join(repoRoot, file), "utf8")) as {
        engines: { node: string };
        devDependencies: Record<string, string>;
      };
      expect(pkg.engines.node, file).toBe(`>=${nvmrc} <${nextMajor}`);
      expect(pkg.devDependencies["@types/node"], file).toMatch(/^24\.\d+\.\d+$/);
    }
  });
  it("every setup-node step reads .nvmrc instead of naming a version", () => {
    const setupNode = [
      ...workflows.flatMap((w) =>
        jobs(w.data).flatMap(([, j]) => steps(j).map((s) => [w.file, s] as const)),
      ),
      ...actions.flatMap((a) => actionSteps(a.data).map((s) => [a.file, s] as const)),
    ].filter(([, s]) => String(s.uses).startsWith("actions/setup-node@"));
    expect(setupNode.map(([file]) => file)).toEqual(
      expect.arrayContaining(["scan.yml", ".github/actions/setup/action.yml"]),
    );
    for (const [file, s] of setupNode) {
      expect(s.with, file).toMatchObject({ "node-version-file": ".nvmrc" });
      expect(s.with, file).not.toHaveProperty("node-version");
    }
  });
  it("Dependabot waits before proposing a release, and keeps @types/node and the image on the line", () => {
    const { data } = parseWorkflow(
      ".github/dependabot.yml",
      readFileSync(join(repoRoot, ".github", "dependabot.yml"), "utf8"),
    );
    const updates = data.updates as Json[];
    expect(updates.map((u) => u["package-ecosystem"])).toEqual([
      "npm",
      "npm",
      "github-actions",
      "docker",
    ]);
    const ignored = (u: Json, name: string) =>
      ((u.ignore ?? []) as Json[]).find((i) => i["dependency-name"] === name)?.versions;
    for (const u of updates) {
      const ecosystem = String(u["package-ecosystem"]);
      // SemVer cooldowns exist for npm only here; Dependabot has none for actions and docker.
      expect(u.cooldown, ecosystem).toEqual(
        ecosystem === "npm"
          ? {
              "default-days": 7,
              "semver-major-days": 30,
              "semver-minor-days": 7,
              "semver-patch-days": 3,
            }
          : { "default-days": 7 },
      );
      if (ecosystem === "npm") expect(ignored(u, "@types/node")).toEqual([`>=${nextMajor}`]);
      if (ecosystem === "docker") expect(ignored(u, "node")).toEqual([`>=${nextMajor}`]);
    }
  });
});
