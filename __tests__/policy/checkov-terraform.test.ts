/**
 * checkov (`--framework terraform_json`, offline) on every synthesized stack: no failed check except
 * the ones policy/checkov-terraform.yaml accepts with a reason, and no entry there that has gone stale.
 * A copy of the shared stack with the registry made mutable shows that a new failure is caught.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STACK_NAMES, type StackName } from "../../stacks/app";
import {
  checkov,
  readSkipFile,
  unaccepted,
  type CheckovFinding,
  type SkipFile,
} from "../helpers/checkov";
import { stackDir } from "../helpers/synth";

const SKIP_FILE = resolve(__dirname, "..", "..", "policy", "checkov-terraform.yaml");
const findings = new Map<StackName, CheckovFinding[]>();
let skips: SkipFile;
let tripwire: CheckovFinding[];
const show = (list: CheckovFinding[]) =>
  list.map((f) => `${f.id} ${f.file} ${f.resource}: ${f.name}`).join("\n");
const tripwireDir = mkdtempSync(join(tmpdir(), "checkov-tripwire-"));

beforeAll(async () => {
  skips = readSkipFile(SKIP_FILE);
  const shared = JSON.parse(readFileSync(join(stackDir("shared"), "cdk.tf.json"), "utf8")) as {
    resource: Record<string, Record<string, Record<string, unknown>>>;
  };
  for (const repo of Object.values(shared.resource.aws_ecr_repository)) {
    repo.image_tag_mutability = "MUTABLE";
  }
  writeFileSync(join(tripwireDir, "cdk.tf.json"), JSON.stringify(shared));
  // checkov spends most of its seconds starting up: one run over the folder of all stacks (findings
  // are told apart by file) and one over the tripwire, side by side.
  const [tripwireFindings, all] = await Promise.all([
    checkov(tripwireDir, "terraform_json"),
    checkov(dirname(stackDir("shared")), "terraform_json"),
  ]);
  tripwire = tripwireFindings;
  for (const stack of STACK_NAMES) {
    findings.set(
      stack,
      all.filter((f) => f.file.split("/").includes(stack)),
    );
  }
  const attributed = [...findings.values()].flat().length;
  if (attributed !== all.length) throw new Error(`unattributed findings:\n${show(all)}`);
}, 300_000);

afterAll(() => rmSync(tripwireDir, { recursive: true, force: true }));

describe("checkov terraform_json", () => {
  it.each(STACK_NAMES)("%s: every failed check is accepted in the skip file", (stack) => {
    const left = unaccepted(findings.get(stack)!, skips);
    expect(left, show(left)).toEqual([]);
  });

  it("checks the stacks that have findings: bootstrap and shared", () => {
    expect(findings.get("bootstrap")!.length).toBeGreaterThan(0);
    expect(findings.get("shared")!.length).toBeGreaterThan(0);
  });

  it("every skip entry still matches a failure (no stale exceptions)", () => {
    const all = [...findings.values()].flat();
    const stale = skips.skips.filter(
      (s) =>
        !all.some(
          (f) => f.id === s.id && (!s.resources || s.resources.some((r) => f.resource.includes(r))),
        ),
    );
    expect(stale.map((s) => s.id)).toEqual([]);
  });

  it("every skip is scoped to named resources", () => {
    expect(skips.skips.filter((s) => !s.resources?.length).map((s) => s.id)).toEqual([]);
  });

  it("a new failure is reported: a mutable registry fails CKV_AWS_51", () => {
    expect(unaccepted(tripwire, skips).map((f) => f.id)).toEqual(["CKV_AWS_51"]);
  });
});
