import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { DeliveryError } from "../../scripts/delivery/errors";
import {
  countChanges,
  DEFAULT_COMMENT_BUDGET,
  GITHUB_COMMENT_LIMIT,
  hasChanges,
  parsePlan,
  parsePlanText,
  renderPlanReport,
  type StackReport,
} from "../../scripts/delivery/plan-report";

const fixtures = join(__dirname, "fixtures", "plans");
/** A plan recorded with `terraform show -json` (Terraform 1.11.4). */
const recorded = (name: string): string =>
  name.endsWith(".gz")
    ? gunzipSync(readFileSync(join(fixtures, name))).toString("utf8")
    : readFileSync(join(fixtures, name), "utf8");
const plan = (stack: string, name: string) => parsePlanText(stack, recorded(name));
const failed = (stack: string): StackReport => ({
  stack,
  status: "failed",
  error: recorded("failed-plan.log"),
});
const render = (stacks: StackReport[], budget?: number) =>
  renderPlanReport(stacks, {
    title: "Terraform plan",
    fullPlanHint: "Full plan: job summary.",
    ...(budget ? { budget } : {}),
  });

describe("plan JSON -> counts", () => {
  it("no changes", () => {
    const p = plan("dev", "no-changes.json");
    expect(p.changes).toEqual([]);
    expect(hasChanges(p)).toBe(false);
  });
  it("create only", () => {
    const p = plan("shared", "create-only.json");
    expect(countChanges(p)).toEqual({ create: 4, update: 0, delete: 0, replace: 0, import: 0 });
  });
  it("update in place, with an output change", () => {
    const p = plan("dev", "update-in-place.json");
    expect(countChanges(p)).toMatchObject({ update: 1, create: 0, delete: 0 });
    expect(p.changes[0]!.address).toBe("terraform_data.api_release");
    expect(p.outputChanges).toEqual(["replicas"]);
  });
  it("destroy", () => {
    const p = plan("dev", "destroy.json");
    expect(p.changes).toEqual([
      {
        address: "terraform_data.legacy_queue[0]",
        kind: "delete",
        reason: "delete_because_count_index",
      },
    ]);
  });
  it("replace counts once, as a replacement", () => {
    const p = plan("prod", "replace.json");
    expect(countChanges(p)).toEqual({ create: 0, update: 0, delete: 0, replace: 1, import: 0 });
  });
});

describe("markdown", () => {
  it("a table row per stack, no changes said plainly, no details for a clean stack", () => {
    const { markdown, truncated } = render([plan("shared", "no-changes.json")]);
    expect(truncated).toBe(false);
    expect(markdown).toContain("| `shared` | 0 | 0 | 0 | 0 | no changes |");
    expect(markdown).not.toContain("<details>");
  });
  it("create: counts and the addresses folded in details", () => {
    const { markdown } = render([plan("shared", "create-only.json")]);
    expect(markdown).toContain("| `shared` | 4 | 0 | 0 | 0 | changes |");
    expect(markdown).toMatch(/<details><summary><code>shared<\/code>: 4 to add, 0 to change/);
    expect(markdown).toContain("- `aws_ecr_repository.Registry_Repository_4F2A1B3C`");
  });
  it("destroys and replacements are flagged", () => {
    const { markdown } = render([plan("dev", "destroy.json"), plan("prod", "replace.json")]);
    expect(markdown).toContain("| `dev` | 0 | 0 | 1 | 0 | :warning: destroys 1 |");
    expect(markdown).toContain("| `prod` | 0 | 0 | 0 | 1 | :warning: replaces 1 |");
    expect(markdown).toContain("**Replace (destroy and re-create)** (1)");
    expect(markdown).toContain("replace because cannot update");
  });
  it("a failed stack shows its error while the others are still reported", () => {
    const { markdown } = render([
      plan("shared", "no-changes.json"),
      failed("dev"),
      plan("prod", "update-in-place.json"),
    ]);
    expect(markdown).toContain("| `dev` | – | – | – | – | :x: plan failed |");
    expect(markdown).toContain("Error: No valid credential sources found");
    expect(markdown).toContain("| `prod` | 0 | 1 | 0 | 0 | changes |");
    expect(markdown).toContain("| `shared` | 0 | 0 | 0 | 0 | no changes |");
  });
  it("a plan too large for one comment is cut under the limit, keeping the table and the failures", () => {
    const large = plan("shared", "too-large.json.gz");
    expect(large.changes).toHaveLength(1000);
    const stacks = [large, failed("dev"), plan("prod", "replace.json")];
    const whole = render(stacks, 10_000_000);
    expect(whole.markdown.length).toBeGreaterThan(GITHUB_COMMENT_LIMIT);
    const { markdown, truncated } = render(stacks);
    expect(truncated).toBe(true);
    expect(markdown.length).toBeLessThanOrEqual(DEFAULT_COMMENT_BUDGET);
    expect(markdown).toContain("| `shared` | 1000 | 0 | 0 | 0 | changes |");
    expect(markdown).toContain("No valid credential sources found");
    expect(markdown).toContain("terraform_data.node_group");
    expect(markdown).toMatch(/… and \d+ more resources, listed in the full plan\./);
    expect(markdown).toContain("Full plan: job summary.");
    // the cut never leaves a details block or a code fence open
    expect(markdown.match(/<details/g)!.length).toBe(markdown.match(/<\/details>/g)!.length);
    expect((markdown.match(/^```/gm) ?? []).length % 2).toBe(0);
  });
  it("stays within even a small budget", () => {
    const stacks = [plan("shared", "too-large.json.gz"), failed("dev")];
    for (const budget of [600, 2_000, 20_000]) {
      expect(render(stacks, budget).markdown.length).toBeLessThanOrEqual(budget);
    }
  });
  it("code spans survive backticks in addresses", () => {
    const stack: StackReport = {
      stack: "dev",
      status: "planned",
      changes: [{ address: 'x.y["a`b"]', kind: "create" }],
      outputChanges: [],
      driftedResources: 0,
    };
    expect(render([stack]).markdown).toContain('- ``x.y["a`b"]``');
  });
});

describe("unreadable plans are refused with the reason", () => {
  const bad: Array<[string, string, RegExp]> = [
    ["not JSON", "Error: something", /is not JSON/],
    ["an array", "[]", /expected a JSON object/],
    ["no format_version", "{}", /format_version is undefined/],
    ["an unknown major format", '{"format_version":"2.0"}', /expected "1.<minor>"/],
    ["an errored plan", '{"format_version":"1.2","errored":true}', /marked errored/],
    [
      "resource_changes not an array",
      '{"format_version":"1.2","resource_changes":{}}',
      /must be an array/,
    ],
    [
      "an unknown action",
      '{"format_version":"1.2","resource_changes":[{"address":"a.b","change":{"actions":["explode"]}}]}',
      /unknown action list \[explode\]/,
    ],
  ];
  it.each(bad)("%s", (_name, text, message) => {
    expect(() => parsePlanText("dev", text)).toThrow(DeliveryError);
    expect(() => parsePlanText("dev", text)).toThrow(message);
  });
  it("a resource change without an address", () => {
    expect(() =>
      parsePlan("dev", { format_version: "1.2", resource_changes: [{ change: {} }] }),
    ).toThrow(/resource_changes\[0\] needs a string "address"/);
  });
  it("no stacks at all", () => {
    expect(() => render([])).toThrow(/no stacks to report/);
  });
});
