/** The rehearsal reads the committed configuration's synthesized stacks as intended. */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { helmUpgradeArgs } from "../../scripts/k8s-rehearsal/lib/helm-args";
import { nodeManifests } from "../../scripts/k8s-rehearsal/lib/nodes";
import {
  awsRegion,
  helmReleases,
  kubernetesObjects,
  kubernetesReads,
  nodeGroups,
  nodeZones,
  type Stack,
  type StackJson,
} from "../../scripts/k8s-rehearsal/lib/stack";
import { stackDir, synthesized } from "../helpers/synth";

function stack(name: "shared" | "dev" | "prod"): Stack {
  return { name, dir: stackDir(name), json: synthesized(name) as unknown as StackJson };
}

const stacks = new Map(["shared", "dev", "prod"].map((n) => [n, stack(n as "shared")]));

describe("the rehearsal's view of the synthesized stacks", () => {
  it("fakes one node per desired node of each node group, with the environment label, over three zones", () => {
    const shared = stack("shared");
    const zones = nodeZones(shared);
    expect(zones).toHaveLength(3);
    const nodes = nodeManifests(nodeGroups(shared), zones, awsRegion(shared)) as {
      metadata: { labels: Record<string, string> };
    }[];
    for (const env of ["dev", "prod"]) {
      const group = nodeGroups(shared).find((g) => g.labels["workload-env"] === env);
      expect(group, `node group labelled workload-env=${env}`).toBeDefined();
      const ofEnv = nodes.filter((n) => n.metadata.labels["workload-env"] === env);
      expect(ofEnv).toHaveLength(group!.desiredSize);
    }
    expect(nodes.some((n) => n.metadata.labels["workload-env"] === undefined)).toBe(true);
  });

  for (const env of ["dev", "prod"] as const) {
    it(`${env}: namespace enforcing restricted, its quota and limit range, and an atomic release`, () => {
      const app = stack(env);
      const objects = kubernetesObjects(app).map((o) => o.manifest);
      const kinds = objects.map((o) => o.kind);
      expect(kinds[0]).toBe("Namespace");
      expect(kinds).toEqual(expect.arrayContaining(["ResourceQuota", "LimitRange"]));
      const ns = objects[0]!.metadata as { labels: Record<string, string> };
      expect(ns.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
      for (const o of objects) {
        expect(JSON.stringify(o), `${String(o.kind)} still holds a reference`).not.toContain("${");
      }

      const releases = helmReleases(app, stacks);
      expect(releases.length).toBeGreaterThan(0);
      for (const release of releases) {
        expect(existsSync(join(release.chart, "Chart.yaml"))).toBe(true);
        const args = helmUpgradeArgs(
          release,
          release.values.map((_, i) => `/v${i}.yaml`),
        );
        expect(args).toEqual(expect.arrayContaining(["--atomic", "--wait", "--cleanup-on-fail"]));
        const values = JSON.parse(release.values[0]!) as {
          image: { repository: string };
          nodeSelector: Record<string, string>;
        };
        expect(values.image.repository).toMatch(
          /^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com\/.+/,
        );
        expect(values.nodeSelector["workload-env"]).toBe(env);
      }
      const namespaces = releases.map((r) => r.namespace);
      for (const read of kubernetesReads(app).filter((r) => r.namespace !== undefined)) {
        expect(namespaces).toContain(read.namespace);
      }
    });
  }
});
