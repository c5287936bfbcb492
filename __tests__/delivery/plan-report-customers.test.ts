/**
 * The plan comment groups changes by customer: addresses under a customer's construct
 * (`Customer-<id>` in stacks/api.ts) are counted and listed under that customer, so a reviewer sees
 * who a change affects. The plan documents are written in `terraform show -json` shape with the
 * addresses the dev and prod stacks synthesize.
 */
import { describe, expect, it } from "vitest";
import {
  changesByCustomer,
  customerOf,
  parsePlan,
  renderPlanReport,
} from "../../scripts/delivery/plan-report";

const change = (address: string, actions: string[]) => ({
  address,
  change: { actions, before: null, after: null },
});

/** dev: globex's workspace goes away, acme's release changes, a new customer arrives. */
const devPlan = {
  format_version: "1.2",
  resource_changes: [
    change("helm_release.Api_Release_C73DB1C1", ["update"]),
    change("helm_release.Customer-acme_Release_D141242A", ["update"]),
    change("kubernetes_namespace_v1.Customer-globex-eu_Namespace_5079DA0D", ["delete"]),
    change("helm_release.Customer-globex-eu_Release_F30CAE38", ["delete"]),
    change("data.kubernetes_service_v1.Customer-initech_Service_125150A8", ["read"]),
    change("kubernetes_namespace_v1.Customer-initech_Namespace_4515E7F8", ["create"]),
    change("kubernetes_resource_quota_v1.Customer-initech_Quota_BC70C4F1", ["create"]),
  ],
  output_changes: { customer_service_urls: { actions: ["update"] } },
};
const prodPlan = {
  format_version: "1.2",
  resource_changes: [
    change("kubernetes_resource_quota_v1.Customer-acme_Quota_0A1B2C3D", ["delete", "create"]),
  ],
};

const render = () =>
  renderPlanReport([parsePlan("dev", devPlan), parsePlan("prod", prodPlan)], {
    title: "Terraform plan",
  }).markdown;

describe("changes grouped by customer", () => {
  it("finds the customer in an address, and none in the environment's own", () => {
    expect(customerOf("helm_release.Customer-acme_Release_D141242A")).toBe("acme");
    expect(customerOf("kubernetes_namespace_v1.Customer-globex-eu_Namespace_5079DA0D")).toBe(
      "globex-eu",
    );
    expect(customerOf("data.kubernetes_service_v1.Customer-a1_Service_1")).toBe("a1");
    expect(customerOf("module.x.helm_release.Customer-acme_Release_1")).toBe("acme");
    expect(customerOf("helm_release.Api_Release_C73DB1C1")).toBeUndefined();
    expect(customerOf("aws_iam_role.CustomerRole_1")).toBeUndefined();
    expect(customerOf("helm_release.Customer-_Release_1")).toBeUndefined();
  });

  it("splits a stack's changes: the environment's first, then customers by id", () => {
    const groups = changesByCustomer(parsePlan("dev", devPlan).changes);
    expect(groups.map(([owner, changes]) => [owner, changes.length])).toEqual([
      [undefined, 1],
      ["acme", 1],
      ["globex-eu", 2],
      ["initech", 2],
    ]);
  });

  it("tables the customers affected, per stack, with destroys and replacements flagged", () => {
    const markdown = render();
    expect(markdown).toContain("**Customers affected**");
    const rows = markdown
      .split("\n")
      .filter((line) => /^\| `[a-z0-9-]+` \| `(dev|prod)` \|/.test(line));
    expect(rows).toEqual([
      "| `acme` | `dev` | 0 | 1 | 0 | 0 |  |",
      "| `acme` | `prod` | 0 | 0 | 0 | 1 | :warning: replaces 1 |",
      "| `globex-eu` | `dev` | 0 | 0 | 2 | 0 | :warning: destroys 2 |",
      "| `initech` | `dev` | 2 | 0 | 0 | 0 |  |",
    ]);
    // The stack table still counts every change.
    expect(markdown).toContain("| `dev` | 2 | 2 | 2 | 0 | :warning: destroys 2 |");
  });

  it("lists each customer's addresses under its own heading", () => {
    const markdown = render();
    const dev = markdown.slice(
      markdown.indexOf("<code>dev</code>"),
      markdown.indexOf("<code>prod</code>"),
    );
    const headings = [...dev.matchAll(/^##### (.*)$/gm)].map((m) => m[1]);
    expect(headings).toEqual([
      "Environment (all customers share it): 0 to add, 1 to change, 0 to destroy, 0 to replace",
      "Customer `acme`: 0 to add, 1 to change, 0 to destroy, 0 to replace",
      "Customer `globex-eu`: 0 to add, 0 to change, 2 to destroy, 0 to replace",
      "Customer `initech`: 2 to add, 0 to change, 0 to destroy, 0 to replace",
    ]);
    const section = (heading: string) => {
      const start = dev.indexOf(heading);
      const next = dev.indexOf("#####", start + 1);
      return dev.slice(start, next < 0 ? undefined : next);
    };
    expect(section("Customer `globex-eu`")).toContain(
      "- `kubernetes_namespace_v1.Customer-globex-eu_Namespace_5079DA0D`",
    );
    expect(section("Customer `globex-eu`")).not.toContain("acme");
    expect(section("Environment")).toContain("- `helm_release.Api_Release_C73DB1C1`");
    expect(section("Environment")).not.toContain("Customer-");
  });

  it("leaves a plan without customer changes as it was: no customer table, no headings", () => {
    const plain = {
      format_version: "1.2",
      resource_changes: [change("helm_release.Api_Release_C73DB1C1", ["update"])],
    };
    const { markdown } = renderPlanReport([parsePlan("dev", plain)], { title: "Terraform plan" });
    expect(markdown).not.toContain("Customers affected");
    expect(markdown).not.toContain("#####");
    expect(markdown).toContain("**Update in place** (1)");
  });

  it("keeps the customer table when addresses are cut to fit", () => {
    const many = {
      format_version: "1.2",
      resource_changes: Array.from({ length: 2000 }, (_, i) =>
        change(`kubernetes_role_v1.Customer-c${i % 40}_DeployerRole_${i}`, ["create"]),
      ),
    };
    const { markdown, truncated } = renderPlanReport([parsePlan("dev", many)], {
      title: "Terraform plan",
      budget: 20_000,
    });
    expect(truncated).toBe(true);
    expect(markdown.length).toBeLessThanOrEqual(20_000);
    expect(markdown).toContain("| `c39` | `dev` | 50 | 0 | 0 | 0 |  |");
  });
});
