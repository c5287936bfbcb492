import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { capacityOf, nodeManifests } from "../../scripts/k8s-rehearsal/lib/nodes";
import { breakManifests, postRender } from "../../scripts/k8s-rehearsal/post-render";
import type { NodeGroup } from "../../scripts/k8s-rehearsal/lib/stack";

const group: NodeGroup = {
  address: "aws_eks_node_group.Prod",
  name: "prod",
  labels: { "workload-env": "prod" },
  taints: [],
  desiredSize: 4,
  instanceTypes: ["m6i.large", "mystery.large"],
  capacityType: "ON_DEMAND",
};

describe("fake nodes", () => {
  const nodes = nodeManifests([group], ["eu-west-1a", "eu-west-1b", "eu-west-1c"], "eu-west-1") as {
    metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> };
    status: { capacity: Record<string, string> };
  }[];

  it("creates desiredSize nodes, round-robin over the zones, labelled like EKS nodes", () => {
    expect(nodes.map((n) => n.metadata.name)).toEqual([
      "prod-a-0",
      "prod-b-1",
      "prod-c-2",
      "prod-a-3",
    ]);
    expect(nodes.map((n) => n.metadata.labels["topology.kubernetes.io/zone"])).toEqual([
      "eu-west-1a",
      "eu-west-1b",
      "eu-west-1c",
      "eu-west-1a",
    ]);
    expect(nodes[0]!.metadata.labels).toMatchObject({
      "workload-env": "prod",
      "eks.amazonaws.com/nodegroup": "prod",
      "kubernetes.io/hostname": "prod-a-0",
      "node.kubernetes.io/instance-type": "m6i.large",
    });
    expect(nodes[0]!.metadata.annotations["kwok.x-k8s.io/node"]).toBe("fake");
  });

  it("sizes nodes by instance type, falling back for an unknown one", () => {
    expect(nodes[0]!.status.capacity).toEqual({ cpu: "2", memory: "8Gi", pods: "29" });
    expect(capacityOf("mystery.large")).toMatchObject({ known: false, cpu: "2" });
    expect(capacityOf("t3.large")).toMatchObject({ known: true, pods: 35 });
  });
});

const deployment = `
apiVersion: v1
kind: Service
metadata: {name: api}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  selector:
    matchLabels: {app.kubernetes.io/name: api, app.kubernetes.io/instance: r}
  template:
    metadata:
      labels: {app.kubernetes.io/name: api, app.kubernetes.io/instance: r}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 10001}
      containers:
        - name: api
          securityContext: {allowPrivilegeEscalation: false, runAsNonRoot: true}
`;

describe("post-renderer breakages", () => {
  it("privilege-escalation lets containers escalate and run as root", () => {
    const [, out] = parseAllDocuments(postRender(deployment, "privilege-escalation")).map(
      (d) => d.toJSON() as { spec: { template: { spec: Record<string, unknown> } } },
    );
    const spec = out!.spec.template.spec as {
      securityContext: Record<string, unknown>;
      containers: { securityContext: Record<string, unknown> }[];
    };
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: false, runAsUser: 0 });
    expect(spec.containers[0]!.securityContext).toMatchObject({
      allowPrivilegeEscalation: true,
      runAsUser: 0,
    });
  });

  it("selector-mismatch makes the pod labels differ from the selector", () => {
    const [, out] = parseAllDocuments(postRender(deployment, "selector-mismatch")).map(
      (d) =>
        d.toJSON() as {
          spec: {
            selector: { matchLabels: Record<string, string> };
            template: { metadata: { labels: Record<string, string> } };
          };
        },
    );
    const { selector, template } = out!.spec;
    expect(selector.matchLabels["app.kubernetes.io/name"]).toBe("api");
    expect(template.metadata.labels["app.kubernetes.io/name"]).toBe("api-broken");
  });

  it("fails when there is no Deployment to break", () => {
    expect(breakManifests([{ kind: "Service" }], "selector-mismatch")).toBe(0);
    expect(() =>
      postRender("kind: Service\nmetadata: {name: x}\n", "privilege-escalation"),
    ).toThrow(/no Deployment/);
  });
});
