import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import {
  globMatches,
  listBlocks,
  loadExceptions,
  parseExceptions,
  plannedChanges,
  pruneStack,
  type EmulatorException,
} from "../../scripts/rehearse/exceptions";

const meta = (stack: string, path: string) => ({
  "//": { metadata: { path: `${stack}/${path}` } },
});

/** A small synthesized stack: a cluster, an add-on, a node group ordered after the add-on, a reader. */
function stack() {
  return {
    resource: {
      aws_eks_cluster: { Cluster: { ...meta("s", "Cluster"), name: "c" } },
      aws_eks_addon: {
        "Addon-cni": {
          ...meta("s", "Addon-cni"),
          cluster_name: "${aws_eks_cluster.Cluster.name}",
        },
      },
      aws_eks_node_group: {
        Nodes: {
          ...meta("s", "Nodes/NodeGroup"),
          cluster_name: "${aws_eks_cluster.Cluster.name}",
          depends_on: ["aws_eks_addon.Addon-cni"],
        },
      },
      aws_ssm_parameter: {
        AddonVersion: {
          ...meta("s", "AddonVersion"),
          value: "${aws_eks_addon.Addon-cni.addon_version}",
        },
      },
    },
    data: {
      aws_iam_policy_document: {
        Doc: {
          ...meta("s", "Doc"),
          statement: [{ resources: ["${aws_eks_addon.Addon-cni.arn}"] }],
        },
      },
    },
    output: {
      addon: { value: "${aws_eks_addon.Addon-cni.arn}" },
      cluster: { value: "${aws_eks_cluster.Cluster.name}" },
    },
  };
}

const exclude = (type: string, path = "*"): EmulatorException => ({
  stack: "s",
  type,
  path,
  effect: "exclude",
  attributes: [],
  reason: `${type} is not implemented`,
});

const ignore = (type: string, attributes: string[]): EmulatorException => ({
  ...exclude(type),
  effect: "ignore-changes",
  attributes,
  reason: `${type} reads back differently`,
});

describe("pruneStack", () => {
  it("leaves out the listed resource and, transitively, every block that reads it", () => {
    const pruned = pruneStack("s", stack(), [exclude("aws_eks_addon")]);
    const excluded = Object.fromEntries(pruned.excluded.map((e) => [e.address, e.reason]));
    expect(excluded).toEqual({
      "aws_eks_addon.Addon-cni": "aws_eks_addon is not implemented",
      "aws_ssm_parameter.AddonVersion": "reads aws_eks_addon.Addon-cni",
      "data.aws_iam_policy_document.Doc": "reads aws_eks_addon.Addon-cni",
    });
    const resources = pruned.config.resource as Record<string, Record<string, unknown>>;
    expect(Object.keys(resources).sort()).toEqual(["aws_eks_cluster", "aws_eks_node_group"]);
    expect(pruned.config.data).toEqual({});
  });

  it("drops an ordering-only edge to an excluded resource and keeps the dependent", () => {
    const pruned = pruneStack("s", stack(), [exclude("aws_eks_addon")]);
    const group = (
      pruned.config.resource as Record<string, Record<string, Record<string, unknown>>>
    ).aws_eks_node_group.Nodes;
    expect(group.depends_on).toBeUndefined();
    expect(pruned.droppedDependsOn).toEqual([
      "aws_eks_node_group.Nodes -> aws_eks_addon.Addon-cni",
    ]);
  });

  it("removes outputs that read an excluded resource, keeps the others", () => {
    const pruned = pruneStack("s", stack(), [exclude("aws_eks_addon")]);
    expect(pruned.removedOutputs).toEqual(["addon"]);
    expect(Object.keys(pruned.config.output as object)).toEqual(["cluster"]);
  });

  it("matches by construct path and reports entries that match nothing", () => {
    const pruned = pruneStack("s", stack(), [
      exclude("aws_eks_node_group", "Nodes/*"),
      exclude("aws_eks_cluster", "NoSuchPath"),
    ]);
    expect(pruned.excluded.map((e) => e.address)).toEqual(["aws_eks_node_group.Nodes"]);
    expect(pruned.unmatched.map((u) => u.path)).toEqual(["NoSuchPath"]);
  });

  it("ignores other stacks' entries and does not modify its input", () => {
    const input = stack();
    const before = JSON.stringify(input);
    const pruned = pruneStack("s", input, [{ ...exclude("aws_eks_addon"), stack: "other" }]);
    expect(pruned.excluded).toEqual([]);
    expect(JSON.stringify(input)).toBe(before);
  });
});

describe("ignore-changes", () => {
  it("adds the attributes to the resource's lifecycle.ignore_changes, keeping what was there", () => {
    const input = stack();
    (input.resource.aws_eks_node_group.Nodes as Record<string, unknown>).lifecycle = {
      ignore_changes: ["scaling_config[0].desired_size"],
    };
    const pruned = pruneStack("s", input, [ignore("aws_eks_node_group", ["remote_access"])]);
    const group = (
      pruned.config.resource as Record<string, Record<string, Record<string, unknown>>>
    ).aws_eks_node_group.Nodes;
    expect(group.lifecycle).toEqual({
      ignore_changes: ["scaling_config[0].desired_size", "remote_access"],
    });
    expect(pruned.ignored).toEqual([
      {
        address: "aws_eks_node_group.Nodes",
        attributes: ["remote_access"],
        reason: "aws_eks_node_group reads back differently",
      },
    ]);
    expect(pruned.excluded).toEqual([]);
  });
});

describe("globMatches", () => {
  it("treats * as any run of characters and everything else literally", () => {
    expect(globMatches("Ci/*Access", "Ci/PlanAccess")).toBe(true);
    expect(globMatches("Ci/*Access", "Ci/PlanAccessPolicy")).toBe(false);
    expect(globMatches("State.Policy", "StateXPolicy")).toBe(false);
    expect(globMatches("*", "anything/at/all")).toBe(true);
  });
});

describe("parseExceptions", () => {
  it("reads a valid file and defaults the path to *", () => {
    const list = parseExceptions(
      "exceptions:\n  - {stack: s, type: aws_eks_addon, effect: exclude, reason: not implemented}\n",
    );
    expect(list).toEqual([
      {
        stack: "s",
        type: "aws_eks_addon",
        path: "*",
        effect: "exclude",
        attributes: [],
        reason: "not implemented",
      },
    ]);
  });

  it("requires attributes with ignore-changes, and only there", () => {
    expect(() =>
      parseExceptions("exceptions:\n  - {stack: s, type: t, effect: ignore-changes, reason: r}\n"),
    ).toThrow(/attributes: with ignore-changes/);
    expect(() =>
      parseExceptions(
        "exceptions:\n  - {stack: s, type: t, effect: exclude, attributes: [tags], reason: r}\n",
      ),
    ).toThrow(/attributes: with ignore-changes/);
  });

  it("rejects an entry without a reason or with an unknown effect, naming each problem", () => {
    expect(() =>
      parseExceptions("exceptions:\n  - {stack: s, type: t, effect: skip}\n", "f.yaml"),
    ).toThrow(/f\.yaml: exceptions\[0\]\.reason: required[\s\S]*exceptions\[0\]\.effect: allowed/);
  });

  it("rejects a file without an exceptions list", () => {
    expect(() => parseExceptions("exceptions: {}\n")).toThrow(/top-level "exceptions" list/);
  });
});

describe("the committed exceptions file", () => {
  const exceptions = loadExceptions();
  const synthesized = (name: string) =>
    JSON.parse(
      readFileSync(join(inject("synthDir"), "stacks", name, "cdk.tf.json"), "utf8"),
    ) as Record<string, unknown>;

  it("gives every entry a reason naming the emulator's behaviour", () => {
    for (const ex of exceptions) expect(ex.reason.length).toBeGreaterThan(40);
  });

  it.each(["bootstrap", "shared"])("matches resources that %s really has", (name) => {
    const pruned = pruneStack(name, synthesized(name), exceptions);
    expect(pruned.unmatched).toEqual([]);
  });

  it("keeps the state bucket, the cluster and the node groups in the rehearsal", () => {
    const kept = [
      ...listBlocks(
        "bootstrap",
        pruneStack("bootstrap", synthesized("bootstrap"), exceptions).config,
      ),
      ...listBlocks("shared", pruneStack("shared", synthesized("shared"), exceptions).config),
    ].map((b) => b.type);
    for (const type of ["aws_s3_bucket", "aws_kms_key", "aws_eks_cluster", "aws_eks_node_group"]) {
      expect(kept).toContain(type);
    }
  });
});

describe("plannedChanges", () => {
  const plan = JSON.stringify({
    resource_changes: [
      {
        address: "aws_eks_cluster.Cluster",
        type: "aws_eks_cluster",
        change: { actions: ["no-op"] },
      },
      { address: "data.aws_region.R", type: "aws_region", change: { actions: ["read"] } },
      {
        address: "aws_eks_node_group.Nodes",
        type: "aws_eks_node_group",
        change: { actions: ["update"] },
      },
      {
        address: "aws_ssm_parameter.AddonVersion",
        type: "aws_ssm_parameter",
        change: { actions: ["delete", "create"] },
      },
    ],
    output_changes: { cluster: { actions: ["no-op"] }, extra: { actions: ["create"] } },
  });

  it("lists resource and output changes, not no-ops or reads", () => {
    expect(plannedChanges(plan).map((c) => `${c.actions.join("/")} ${c.address}`)).toEqual([
      "update aws_eks_node_group.Nodes",
      "delete/create aws_ssm_parameter.AddonVersion",
      "create output.extra",
    ]);
  });

  it("reports nothing for a clean plan", () => {
    expect(plannedChanges(JSON.stringify({ resource_changes: [], output_changes: {} }))).toEqual(
      [],
    );
  });
});
