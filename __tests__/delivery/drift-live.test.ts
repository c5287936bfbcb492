import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  driftObservation,
  LIVE_DRIFT_ROWS,
  readReleaseDriftFiles,
  type StackLiveDrift,
} from "../../scripts/delivery/drift";
import { readPlanDirectory } from "../../scripts/delivery/plan-files";
import type { ReleaseDifference, ReleaseDriftReport } from "../../scripts/delivery/releases";
import { environmentNamespace } from "../../config/names";

const RUN = "https://github.com/o/n/actions/runs/7";
const COMMIT = "c".repeat(40);
const plans = (name: string) => readPlanDirectory(join(__dirname, "fixtures", "plan-dirs", name));
const work = mkdtempSync(join(tmpdir(), "drift-live-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const difference = (over: Partial<ReleaseDifference> = {}): ReleaseDifference => ({
  stack: "prod",
  release: "api-blue",
  namespace: "api-prod",
  kind: "Deployment",
  name: "api-blue",
  path: "spec.template.spec.containers[name=api].image",
  rendered: "r.example/api:release-1.4.0",
  live: "r.example/api:hotfix",
  ...over,
});
const report = (stack: string, differences: ReleaseDifference[]): ReleaseDriftReport => ({
  stack,
  releases: [
    {
      release: stack === "prod" ? "api-blue" : "api",
      namespace: environmentNamespace(stack),
      objects: 7,
    },
  ],
  differences,
});

describe("live drift of the Helm releases in the drift issue", () => {
  it("is drift even when every plan is clean, in its own section", () => {
    const live: StackLiveDrift[] = [
      { stack: "dev", report: report("dev", []) },
      {
        stack: "prod",
        report: report("prod", [
          difference(),
          difference({
            kind: "Service",
            name: "api",
            path: "(object)",
            rendered: "present",
            live: null,
          }),
        ]),
      },
    ];
    const observation = driftObservation(plans("clean"), RUN, COMMIT, live);
    expect(observation.state).toBe("problem");
    expect(observation.body).toContain("The nightly plan found changes in no stack.");
    expect(observation.body).toContain(
      "Live objects of the Helm releases differ from what they render in `prod`",
    );
    const section = observation.body.slice(
      observation.body.indexOf("### Live objects of the Helm releases"),
    );
    expect(section).toContain("hashicorp/terraform-provider-helm#372");
    expect(section).toContain("| stack | release | object | path | rendered | live |");
    expect(section).toContain(
      '| `prod` | `api-blue` | `Deployment/api-blue` in `api-prod` | `spec.template.spec.containers[name=api].image` | `"r.example/api:release-1.4.0"` | `"r.example/api:hotfix"` |',
    );
    expect(section).toContain(
      "| `prod` | `api-blue` | `Service/api` in `api-prod` | (the whole object) | present | **missing** |",
    );
    expect(section).toContain("- `dev`: no live differences (`api`)");
    expect(observation.comment).toBe(`Still drifting (prod (live objects)): ${RUN}`);
  });

  it("cuts a long value to where it differs, so an image's tag stays in view", () => {
    const registry = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/${"platform/".repeat(8)}api`;
    const rendered = `${registry}:sha-${"a".repeat(40)}`;
    const live = `${registry}:sha-${"f".repeat(40)}`;
    const observation = driftObservation(plans("clean"), RUN, COMMIT, [
      { stack: "dev", report: report("dev", [difference({ stack: "dev", rendered, live })]) },
    ]);
    const row = observation.body.split("\n").find((l) => l.includes("Deployment/api-blue")) ?? "";
    expect(row).toContain(`:sha-${"a".repeat(40)}"\``);
    expect(row).toContain(`:sha-${"f".repeat(40)}"\``);
    expect(row).toContain("`…");
    expect(row).not.toContain("123456789012");
  });

  it("names a stack with both kinds of drift once", () => {
    const observation = driftObservation(plans("drifted"), RUN, COMMIT, [
      { stack: "dev", report: report("dev", [difference({ stack: "dev", release: "api" })]) },
    ]);
    expect(observation.comment).toBe(`Still drifting (dev (plan, live objects)): ${RUN}`);
  });

  it("stays clear without live differences, and unknown when a report cannot be read", () => {
    expect(
      driftObservation(plans("clean"), RUN, COMMIT, [{ stack: "dev", report: report("dev", []) }])
        .state,
    ).toBe("clear");
    expect(driftObservation(plans("clean"), RUN, COMMIT).body).not.toContain("Live objects");
    const unreadable = driftObservation(plans("clean"), RUN, COMMIT, [
      { stack: "dev", error: "dev.releases.json is not JSON" },
    ]);
    expect(unreadable.state).toBe("unknown");
    expect(unreadable.body).toContain(
      "- `dev`: the live comparison could not be read: dev.releases.json is not JSON",
    );
  });

  it("shows at most LIVE_DRIFT_ROWS rows and escapes pipes", () => {
    const many = Array.from({ length: LIVE_DRIFT_ROWS + 5 }, (_, i) =>
      difference({ path: `metadata.labels.l${i}`, rendered: "a|b", live: "c" }),
    );
    const body = driftObservation(plans("clean"), RUN, COMMIT, [
      { stack: "prod", report: report("prod", many) },
    ]).body;
    expect(body.match(/^\| `prod` \| `api-blue` /gm)).toHaveLength(LIVE_DRIFT_ROWS);
    expect(body).toContain(`… and 5 more, in the run's artifacts`);
    expect(body).toContain('`"a\\|b"`');
    expect(body.length).toBeLessThan(65_536);
  });

  it("reads <stack>.releases.json beside the plans, reporting a malformed one as unreadable", () => {
    const dir = join(work, "plans");
    cpSync(join(__dirname, "fixtures", "plan-dirs", "clean"), dir, { recursive: true });
    writeFileSync(join(dir, "prod.releases.json"), JSON.stringify(report("prod", [difference()])));
    writeFileSync(join(dir, "dev.releases.json"), JSON.stringify({ differences: "no" }));
    const live = readReleaseDriftFiles(dir);
    expect(live.map((l) => [l.stack, "error" in l])).toEqual([
      ["dev", true],
      ["prod", false],
    ]);
    expect((live[0] as { error: string }).error).toMatch(/not a release-drift report/);
    // The plan folder still reads as three stacks: <stack>.releases.json is not a plan.
    expect(readPlanDirectory(dir).map((s) => s.stack)).toEqual(["shared", "dev", "prod"]);
    expect(readReleaseDriftFiles(join(work, "absent"))).toEqual([]);
  });
});
