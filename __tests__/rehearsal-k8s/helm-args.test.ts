import { describe, expect, it } from "vitest";
import {
  helmLintArgs,
  helmServerDryRunArgs,
  helmUpgradeArgs,
} from "../../scripts/k8s-rehearsal/lib/helm-args";
import type { HelmRelease } from "../../scripts/k8s-rehearsal/lib/stack";

function release(attrs: Record<string, unknown>): HelmRelease {
  return {
    address: "helm_release.Api",
    name: "api",
    namespace: "api-dev",
    chart: "/stack/assets/Chart/ABC",
    values: ['{"replicaCount":2}', "image:\n  tag: release-1.0.0\n"],
    attrs: { name: "api", chart: "assets/Chart/ABC", namespace: "api-dev", ...attrs },
  };
}

/** The value following a flag, or undefined. */
function flagValue(args: readonly string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i === -1 ? undefined : args[i + 1];
}

describe("helm_release → helm upgrade --install", () => {
  const files = ["/tmp/v0.yaml", "/tmp/v1.yaml"];

  it("passes chart, name, namespace and every option of the release", () => {
    const args = helmUpgradeArgs(
      release({ atomic: true, cleanup_on_fail: true, wait: true, timeout: 600, max_history: 10 }),
      files,
    );
    expect(args.slice(0, 6)).toEqual([
      "upgrade",
      "--install",
      "api",
      "/stack/assets/Chart/ABC",
      "--namespace",
      "api-dev",
    ]);
    expect(args).toContain("--atomic");
    expect(args).toContain("--cleanup-on-fail");
    expect(args).toContain("--wait");
    expect(flagValue(args, "--timeout")).toBe("600s");
    expect(flagValue(args, "--history-max")).toBe("10");
    expect(args).not.toContain("--force");
    expect(args).not.toContain("--create-namespace");
  });

  it("keeps the values documents in order", () => {
    const args = helmUpgradeArgs(release({}), files);
    const values = args.flatMap((a, i) => (a === "--values" ? [args[i + 1]] : []));
    expect(values).toEqual(files);
  });

  it("applies the provider's defaults: wait on, 300s timeout, no atomic", () => {
    const args = helmUpgradeArgs(release({}), files);
    expect(args).toContain("--wait");
    expect(flagValue(args, "--timeout")).toBe("300s");
    expect(args).not.toContain("--atomic");
    expect(args).not.toContain("--history-max");
  });

  it("drops --wait when the release turns it off, and maps the other switches", () => {
    const args = helmUpgradeArgs(
      release({
        wait: false,
        create_namespace: true,
        force_update: true,
        disable_webhooks: true,
        version: "1.2.3",
      }),
      files,
    );
    expect(args).not.toContain("--wait");
    expect(args).toContain("--create-namespace");
    expect(args).toContain("--force");
    expect(args).toContain("--no-hooks");
    expect(flagValue(args, "--version")).toBe("1.2.3");
  });

  it("translates set, set_sensitive and set_list by type", () => {
    const args = helmUpgradeArgs(
      release({
        set: [
          { name: "a.b", value: "1" },
          { name: "tag", value: "007", type: "string" },
        ],
        set_sensitive: [{ name: "secret", value: "s3cr3t" }],
        set_list: [{ name: "hosts", value: ["x", "y"] }],
      }),
      files,
    );
    expect(args.join(" ")).toContain(
      "--set a.b=1 --set-string tag=007 --set secret=s3cr3t --set hosts={x,y}",
    );
  });

  it("appends a rehearsal's overrides after the release's own arguments", () => {
    const args = helmUpgradeArgs(release({ timeout: 600 }), files, {
      timeoutSeconds: 25,
      extraArgs: ["--set", "nodeSelector.workload-env=none"],
    });
    expect(flagValue(args, "--timeout")).toBe("25s");
    expect(args.slice(-2)).toEqual(["--set", "nodeSelector.workload-env=none"]);
  });

  it("refuses an attribute it cannot translate instead of ignoring it", () => {
    expect(() => helmUpgradeArgs(release({ brand_new_option: true }), files)).toThrow(
      /brand_new_option has no helm CLI translation/,
    );
    expect(() => helmUpgradeArgs(release({ replace: true }), files)).toThrow(/replace = true/);
    expect(() => helmUpgradeArgs(release({ timeout: "5m" }), files)).toThrow(
      /timeout must be a whole number/,
    );
  });

  it("needs one file per values document", () => {
    expect(() => helmUpgradeArgs(release({}), ["/tmp/only-one.yaml"])).toThrow(
      /2 values documents, 1 files/,
    );
  });

  it("lints only when the release asks for it", () => {
    expect(helmLintArgs(release({}), files)).toBeUndefined();
    expect(helmLintArgs(release({ lint: true }), files)).toEqual([
      "lint",
      "/stack/assets/Chart/ABC",
      "--strict",
      "--values",
      files[0],
      "--values",
      files[1],
    ]);
  });

  it("renders with the server for the dry run, with the same values", () => {
    const args = helmServerDryRunArgs(release({ set: [{ name: "x", value: "1" }] }), files);
    expect(args).toContain("--dry-run=server");
    expect(flagValue(args, "--output")).toBe("json");
    expect(args.join(" ")).toContain(`--values ${files[0]} --values ${files[1]} --set x=1`);
  });
});
