import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parse } from "yaml";
import { EKS_ADDONS, EKS_ADDON_VERSIONS, type EksAddonName } from "../../config/eks-addons";
import { settings } from "../../config/settings";
import { SUPPORTED_KUBERNETES_VERSIONS } from "../../config/types";
import { main } from "../../scripts/delivery/cli";
import {
  dayNumber,
  SUPPORT_LABEL,
  SUPPORT_TITLE,
  supportDatesDocument,
  supportObservation,
  type SupportTable,
} from "../../scripts/delivery/support";
import { SUPPORT_TABLE } from "../../scripts/delivery/support-dates";
import { decideIssueAction } from "../../scripts/delivery/tracking-issue";
import { resources, synthesized } from "../helpers/synth";
import { assumedRoles, jobs, steps, type Json } from "../workflows/workflow-checks";

const repoRoot = join(__dirname, "..", "..");

/** A table of made-up rows, so the check's tests do not move when the real table does. */
const table: SupportTable = {
  checkedOn: "2027-01-01",
  eks: [
    {
      version: "1.36",
      released: "2026-06-02",
      standardSupportEnds: "2027-08-02",
      extendedSupportEnds: "2028-08-02",
      sources: ["https://example.test/eks"],
    },
  ],
  addons: [],
  tools: [
    {
      name: "Helm",
      line: "3",
      version: "3.19.0",
      endOfLife: "2027-02-10",
      sources: ["https://example.test/helm"],
      note: "Move to Helm 4.",
    },
    {
      name: "hashicorp/aws",
      line: "5",
      version: "5.100.0",
      endOfLife: null,
      sources: ["https://example.test/aws"],
      note: "No published end.",
    },
  ],
};
/** The same table with Helm's line supported for longer. */
const helmLater: SupportTable = {
  ...table,
  tools: table.tools.map((t) => (t.name === "Helm" ? { ...t, endOfLife: "2029-01-01" } : t)),
};

describe("the support check is a function of the table, the cluster's version and a date", () => {
  it("clear while the version is more than 90 days from the end of standard support", () => {
    const o = supportObservation(helmLater, "1.36", "2027-05-03"); // 91 days before
    expect(o.state).toBe("clear");
    expect(o.comment).toMatch(/EKS 1\.36 is in standard support until 2027-08-02/);
  });
  it("a problem within 90 days, naming the version and the date", () => {
    const at90 = supportObservation(helmLater, "1.36", "2027-05-04");
    expect(at90.state).toBe("problem");
    const o = supportObservation(helmLater, "1.36", "2027-06-03");
    expect(o.state).toBe("problem");
    expect(o.body).toMatch(
      /\*\*EKS 1\.36\*\* leaves standard support on 2027-08-02 \(in 60 days\)/,
    );
    expect(o.comment).toContain("2027-08-02");
  });
  it("a problem on and after the end of standard support", () => {
    for (const day of ["2027-08-02", "2027-12-24"]) {
      const o = supportObservation(helmLater, "1.36", day);
      expect(o.state).toBe("problem");
      expect(o.body).toMatch(/\*\*EKS 1\.36\*\* left standard support on 2027-08-02/);
      expect(o.body).toContain("2028-08-02");
    }
  });
  it("a problem when the cluster's version has no row", () => {
    const o = supportObservation(helmLater, "1.37", "2027-01-01");
    expect(o.state).toBe("problem");
    expect(o.body).toMatch(/\*\*EKS 1\.37\*\* has no row in the support table/);
  });
  it("a problem when a tool is past its end of life, even with the cluster's version fine", () => {
    expect(supportObservation(table, "1.36", "2027-02-09").state).toBe("clear");
    for (const day of ["2027-02-10", "2027-03-01"]) {
      const o = supportObservation(table, "1.36", day);
      expect(o.state).toBe("problem");
      expect(o.body).toMatch(
        /\*\*Helm 3\*\* \(pinned 3\.19\.0\) reached its end of life on 2027-02-10/,
      );
      expect(o.body).not.toMatch(/\*\*EKS/);
    }
  });
  it("a tool without a published end never opens the issue, and is listed as such", () => {
    const o = supportObservation(helmLater, "1.36", "2027-01-01");
    expect(o.state).toBe("clear");
    expect(o.body).toContain("| hashicorp/aws | 5.100.0 | no published end |");
  });
  it("keeps one issue: the same title and label whatever is due, updated, then closed", () => {
    const due = supportObservation(helmLater, "1.36", "2027-06-03");
    const later = supportObservation(table, "1.36", "2027-09-01");
    expect([due.title, due.label, later.title, later.label]).toEqual([
      SUPPORT_TITLE,
      SUPPORT_LABEL,
      SUPPORT_TITLE,
      SUPPORT_LABEL,
    ]);
    const open = [{ number: 7, title: SUPPORT_TITLE, labels: [SUPPORT_LABEL] }];
    expect(decideIssueAction(due, []).kind).toBe("open");
    expect(decideIssueAction(later, open)).toMatchObject({ kind: "update", number: 7 });
    const clear = supportObservation(helmLater, "1.36", "2027-01-01");
    expect(decideIssueAction(clear, open)).toMatchObject({ kind: "close", numbers: [7] });
  });
  it("names the run in the issue when given one", () => {
    const o = supportObservation(helmLater, "1.36", "2027-06-03", {
      runUrl: "https://github.com/o/r/actions/runs/1",
    });
    expect(o.body).toContain("([run](https://github.com/o/r/actions/runs/1))");
  });
  it("refuses a date that is not a day", () => {
    for (const day of ["2027-02-30", "2027-2-1", "tomorrow"]) {
      expect(() => supportObservation(table, "1.36", day)).toThrow(/allowed form YYYY-MM-DD/);
    }
  });
});

/** Add-on pins the table does not list for that add-on and cluster version. */
function unlistedPins(
  t: SupportTable,
  pins: Readonly<Record<string, Readonly<Record<EksAddonName, string>>>>,
): string[] {
  return Object.entries(pins).flatMap(([cluster, byAddon]) =>
    EKS_ADDONS.filter(
      (addon) =>
        !t.addons.some(
          (row) =>
            row.addon === addon &&
            row.version === byAddon[addon] &&
            row.clusterVersions.includes(cluster),
        ),
    ).map((addon) => `${addon} ${byAddon[addon]} on ${cluster}`),
  );
}

/** The day of the checked-out commit (invariant 40 holds on the date of the commit). */
function commitDay(): string {
  return execFileSync("git", ["log", "-1", "--format=%cs"], {
    cwd: repoRoot,
    encoding: "utf8",
  }).trim();
}

describe("the support table ties to the configuration and the repository's pins", () => {
  const configured = settings.shared.kubernetesVersion;

  it("40: the configured EKS version is in standard support on the date of the commit", () => {
    const row = SUPPORT_TABLE.eks.find((r) => r.version === configured);
    expect(row, `no support table row for EKS ${configured}`).toBeDefined();
    expect(dayNumber(row!.standardSupportEnds)).toBeGreaterThan(dayNumber(commitDay()));
  });
  it("every accepted Kubernetes minor has a row and add-on pins", () => {
    for (const version of SUPPORTED_KUBERNETES_VERSIONS) {
      expect(SUPPORT_TABLE.eks.map((r) => r.version)).toContain(version);
      expect(Object.keys(EKS_ADDON_VERSIONS[version]).sort()).toEqual([...EKS_ADDONS].sort());
    }
    expect(Object.keys(EKS_ADDON_VERSIONS).sort()).toEqual([...SUPPORTED_KUBERNETES_VERSIONS]);
  });
  it("every pinned add-on version is listed for its cluster version", () => {
    expect(unlistedPins(SUPPORT_TABLE, EKS_ADDON_VERSIONS)).toEqual([]);
  });
  it("an add-on pinned for a cluster version its row does not list fails", () => {
    const moved = {
      ...EKS_ADDON_VERSIONS,
      "1.36": { ...EKS_ADDON_VERSIONS["1.36"], coredns: "v1.13.2-eksbuild.11" },
    };
    expect(unlistedPins(SUPPORT_TABLE, moved)).toEqual(["coredns v1.13.2-eksbuild.11 on 1.36"]);
  });
  it("the shared stack installs each add-on at the version pinned for the cluster's minor", () => {
    const shared = synthesized("shared");
    const [cluster] = resources(shared, "aws_eks_cluster");
    expect(cluster!.version).toBe(configured);
    const installed = Object.fromEntries(
      resources(shared, "aws_eks_addon").map((a) => [a.addon_name, a.addon_version]),
    );
    expect(installed).toEqual(EKS_ADDON_VERSIONS[configured as keyof typeof EKS_ADDON_VERSIONS]);
  });
  it("the tool rows name the versions the repository pins", () => {
    const version = (name: string) => SUPPORT_TABLE.tools.find((t) => t.name === name)?.version;
    const setup = parse(readFileSync(join(repoRoot, ".github/actions/setup/action.yml"), "utf8"))
      .runs.steps as Json[];
    const withOf = (action: string) =>
      setup.find((s) => String(s.uses).startsWith(`${action}@`))!.with as Json;
    expect(version("Node.js")).toBe(readFileSync(join(repoRoot, ".nvmrc"), "utf8").trim());
    expect(`v${version("Helm")}`).toBe(withOf("Azure/setup-helm").version);
    const toolsSh = readFileSync(join(repoRoot, "scripts/tools.sh"), "utf8");
    expect(toolsSh).toContain(`HELM_VERSION="v${version("Helm")}"`);
    expect(version("Terraform")).toBe(withOf("hashicorp/setup-terraform").terraform_version);
    const providers = synthesized("dev").terraform.required_providers!;
    for (const name of ["aws", "helm", "kubernetes"]) {
      expect(version(`hashicorp/${name}`), name).toBe(providers[name]!.version);
    }
  });
  it("every row has a source and dates in order", () => {
    const rows = [...SUPPORT_TABLE.eks, ...SUPPORT_TABLE.addons, ...SUPPORT_TABLE.tools];
    for (const row of rows) {
      expect(row.sources.length).toBeGreaterThan(0);
      for (const s of row.sources) expect(s).toMatch(/^https:\/\/\S+$/);
    }
    for (const r of SUPPORT_TABLE.eks) {
      expect(dayNumber(r.released)).toBeLessThan(dayNumber(r.standardSupportEnds));
      expect(dayNumber(r.standardSupportEnds)).toBeLessThan(dayNumber(r.extendedSupportEnds));
    }
    for (const t of SUPPORT_TABLE.tools) if (t.endOfLife) dayNumber(t.endOfLife);
    dayNumber(SUPPORT_TABLE.checkedOn);
  });
  it("docs/support-dates.md is the table, rendered", async () => {
    const file = join(repoRoot, "docs", "support-dates.md");
    const expected = await supportDatesDocument(
      SUPPORT_TABLE,
      configured,
      EKS_ADDON_VERSIONS,
      file,
    );
    expect(
      readFileSync(file, "utf8"),
      "run npm run delivery -- support-dates --out docs/support-dates.md",
    ).toBe(expected);
  });
});

describe("the nightly step", () => {
  const drift = parse(readFileSync(join(repoRoot, ".github/workflows/drift.yml"), "utf8")) as Json;
  const support = jobs(drift).find(([id]) => id === "support")?.[1];

  it("runs support-issue in the drift workflow with an issue token and no cloud access", () => {
    expect(support).toBeDefined();
    expect(support!.permissions).toEqual({ contents: "read", issues: "write" });
    expect(assumedRoles(support!)).toEqual([]);
    // It reads the cluster's version from the committed configuration, so no plan is needed first.
    expect(support!.needs).toBeUndefined();
    const runs = steps(support!).map((s) => String(s.run ?? ""));
    expect(runs.some((r) => /npm run --silent delivery -- support-issue\b/.test(r))).toBe(true);
    expect(runs.join("\n")).not.toMatch(/--today/);
  });
});

describe("support commands", () => {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.GITHUB_TOKEN;
    delete process.env.GITHUB_TOKEN;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.GITHUB_TOKEN;
    else process.env.GITHUB_TOKEN = saved;
  });
  async function run(...argv: string[]) {
    let stderr = "";
    const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
      stderr += String(chunk);
      return true;
    });
    try {
      return { code: await main(argv), stderr };
    } finally {
      err.mockRestore();
    }
  }

  it.each([
    [["support-issue", "--today", "2027-13-01"], 2, /--today: "2027-13-01" is not a day/],
    [["support-issue", "--today", "2027-01-01"], 1, /GITHUB_TOKEN is not set/],
    [["support-dates"], 2, /--out is required/],
  ])("%j exits %i", async (argv, code, message) => {
    const result = await run(...argv);
    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(message);
  });
});
