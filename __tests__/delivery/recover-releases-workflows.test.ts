/**
 * Every `cdktf deploy dev|prod` step of the delivery workflows is preceded by recover-releases, with
 * helm installed, a kubeconfig and a synthesized stack; the nightly plan compares the releases'
 * live objects (RELEASE_DRIFT=1) with a kubeconfig.
 */
import { describe, expect, it } from "vitest";
import { jobs, loadWorkflows, steps, type Json } from "../workflows/workflow-checks";

const workflows = loadWorkflows();
const workflow = (file: string): Json => {
  const found = workflows.find((w) => w.file === file);
  if (!found) throw new Error(`no workflow ${file}`);
  return structuredClone(found.data);
};

const DEPLOY = /cdktf\s+deploy\s+(dev|prod)\b/;
const run = (step: Json | undefined) => String(step?.run ?? "");
const isSetupHelm = (step: Json) => String(step.uses ?? "").startsWith("Azure/setup-helm@");
/** The setup-helm pin the blue/green helm test has always used. */
const HELM_PIN = "Azure/setup-helm@9bc31f4ebc9c6b171d7bfbaa5d006ae7abdb4310";

/** In order: what the commands of a run script must do before `last`. */
function ordered(script: string, parts: readonly string[]): boolean {
  let at = 0;
  for (const part of parts) {
    const found = script.indexOf(part, at);
    if (found < 0) return false;
    at = found + part.length;
  }
  return true;
}

/** Problems with the recovery before each deploy step of a workflow; also counts the deploys. */
function recoveryProblems(wf: Json): { deploys: string[]; problems: string[] } {
  const deploys: string[] = [];
  const problems: string[] = [];
  for (const [id, job] of jobs(wf)) {
    const list = steps(job);
    list.forEach((step, i) => {
      const env = DEPLOY.exec(run(step))?.[1];
      if (!env) return;
      const where = `${id}.steps[${i}] (${String(step.name ?? "")})`;
      deploys.push(`${env}: ${where}`);
      const before = list[i - 1];
      const unlock = `npm run --silent delivery -- recover-state --env ${env}`;
      const recover = `npm run --silent delivery -- recover-releases --env ${env}`;
      if (!run(before).includes(recover) || !run(before).includes(unlock)) {
        problems.push(`${where}: the step before it does not run ${unlock} and ${recover}`);
        return;
      }
      if (
        !ordered(run(before), [
          "npm run --silent synth",
          'export KUBECONFIG="$RUNNER_TEMP/kubeconfig"',
          "aws eks update-kubeconfig",
          '--kubeconfig "$KUBECONFIG"',
          unlock,
          recover,
        ])
      ) {
        problems.push(`${where}: recovery without a synthesized stack and a kubeconfig before it`);
      }
      if (before!.if !== step.if)
        problems.push(`${where}: recovery runs under another condition than the deploy`);
      const helm = list.slice(0, i).find(isSetupHelm);
      if (!helm) problems.push(`${where}: no setup-helm before the recovery`);
      else if (helm.if !== undefined || (helm.with as Json | undefined)?.version !== "v3.19.0")
        problems.push(`${where}: setup-helm must run unconditionally with version v3.19.0`);
      else if (String(helm.uses).split(" ")[0] !== HELM_PIN)
        problems.push(`${where}: setup-helm is not pinned to ${HELM_PIN}`);
    });
  }
  return { deploys, problems };
}

describe("recover-releases before every deploy of dev and prod", () => {
  it.each([
    ["deploy-dev.yml", 1],
    ["release.yml", 3],
    ["rollback.yml", 1],
  ])("%s: each of its %i deploy steps", (file, count) => {
    const { deploys, problems } = recoveryProblems(workflow(file));
    expect(deploys).toHaveLength(count);
    expect(problems).toEqual([]);
  });

  it("reports a deploy without recovery, a recovery after it, or one without helm", () => {
    const missing = workflow("deploy-dev.yml");
    const deploySteps = steps(jobs(missing).find(([id]) => id === "deploy")![1]);
    const at = deploySteps.findIndex((s) => DEPLOY.test(run(s)));
    deploySteps.splice(at - 1, 1);
    expect(recoveryProblems(missing).problems).toEqual([
      expect.stringMatching(
        /does not run npm run --silent delivery -- recover-state --env dev and npm run --silent delivery -- recover-releases --env dev/,
      ),
    ]);

    const after = workflow("rollback.yml");
    const rollbackSteps = steps(jobs(after)[0]![1]);
    const i = rollbackSteps.findIndex((s) => DEPLOY.test(run(s)));
    [rollbackSteps[i - 1], rollbackSteps[i]] = [rollbackSteps[i]!, rollbackSteps[i - 1]!];
    expect(recoveryProblems(after).problems).toHaveLength(1);

    const noHelm = workflow("release.yml");
    const releaseSteps = steps(jobs(noHelm).find(([id]) => id === "deploy")![1]);
    releaseSteps.splice(releaseSteps.findIndex(isSetupHelm), 1);
    expect(recoveryProblems(noHelm).problems).toHaveLength(3);

    const wrongEnv = workflow("release.yml");
    const bg = steps(jobs(wrongEnv).find(([id]) => id === "deploy")![1]);
    const first = bg.find((s) => run(s).includes("recover-releases"))!;
    first.run = run(first).replace("--env prod", "--env dev");
    expect(recoveryProblems(wrongEnv).problems).toHaveLength(1);
  });
});

describe("nightly live drift of the Helm releases", () => {
  it("drift.yml plans with RELEASE_DRIFT=1, helm and a kubeconfig", () => {
    const plan = jobs(workflow("drift.yml")).find(([id]) => id === "plan")![1];
    const list = steps(plan);
    const i = list.findIndex((s) => run(s).includes("npm run plan:stacks -- plans"));
    expect(i).toBeGreaterThan(-1);
    expect((list[i]!.env as Json).RELEASE_DRIFT).toBe("1");
    expect(
      ordered(run(list[i]), [
        'export KUBECONFIG="$RUNNER_TEMP/kubeconfig"',
        "aws eks update-kubeconfig",
        "npm run plan:stacks -- plans",
      ]),
    ).toBe(true);
    const helm = list.slice(0, i).find(isSetupHelm);
    expect(helm?.uses).toBe(HELM_PIN);
    expect(helm?.with).toEqual({ version: "v3.19.0" });
  });
});
