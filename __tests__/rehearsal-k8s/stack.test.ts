import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  deploymentPlan,
  followAttributePath,
  helmReleases,
  interpolateRemoteState,
  kubernetesObjects,
  kubernetesReads,
  nodeGroups,
  nodeZones,
  readStack,
  resolveReference,
  type Stack,
  type StackJson,
} from "../../scripts/k8s-rehearsal/lib/stack";

const NS = "${kubernetes_namespace_v1.Ns.metadata[0].name}";

function sharedStack(): Stack {
  const json: StackJson = {
    provider: { aws: [{ region: "eu-west-1" }] },
    resource: {
      aws_subnet: {
        P0: { availability_zone: "${element(data.aws_availability_zones.Z.names, 0)}" },
        P1: { availability_zone: "${data.aws_availability_zones.Z.names[1]}" },
        P2: { availability_zone: "eu-west-1c" },
      },
      aws_eks_node_group: {
        Dev: {
          node_group_name: "dev",
          labels: { "workload-env": "dev" },
          scaling_config: { desired_size: 2, min_size: 1, max_size: 3 },
          instance_types: ["t3.large"],
          capacity_type: "SPOT",
          subnet_ids: ["${aws_subnet.P0.id}", "${aws_subnet.P1.id}", "${aws_subnet.P2.id}"],
          taint: [{ key: "dedicated", value: "dev", effect: "NO_SCHEDULE" }],
        },
        System: {
          node_group_name: "system",
          scaling_config: [{ desired_size: 1, min_size: 1, max_size: 2 }],
          subnet_ids: ["${aws_subnet.P0.id}"],
        },
      },
      aws_ecr_repository: { Repo: { name: "platform/api" } },
    },
    output: {
      repo_url: { value: "${aws_ecr_repository.Repo.repository_url}" },
      repo_name: { value: "${aws_ecr_repository.Repo.name}" },
    },
  };
  return { name: "shared", dir: "/out/stacks/shared", json };
}

function appStack(
  extra: Partial<Record<string, Record<string, Record<string, unknown>>>> = {},
): Stack {
  const json: StackJson = {
    data: {
      terraform_remote_state: {
        "cross-stack-reference-input-shared": {
          backend: "s3",
          config: { key: "shared/terraform.tfstate" },
        },
      },
      kubernetes_service_v1: { Svc: { metadata: { name: "api", namespace: NS } } },
    },
    output: {
      host: {
        value:
          "http://${data.kubernetes_service_v1.Svc.status[0].load_balancer[0].ingress[0].hostname}",
      },
    },
    resource: {
      kubernetes_namespace_v1: {
        Ns: {
          metadata: {
            name: "api-dev",
            labels: { "pod-security.kubernetes.io/enforce": "restricted" },
          },
        },
      },
      kubernetes_resource_quota_v1: {
        Quota: {
          metadata: { name: "q", namespace: NS },
          spec: { hard: { pods: "10", "requests.cpu": "1" } },
        },
      },
      kubernetes_limit_range_v1: {
        Limits: {
          metadata: { name: "l", namespace: "${kubernetes_namespace_v1.Ns.id}" },
          spec: {
            limit: [
              { type: "Container", default: { cpu: "500m" }, default_request: { cpu: "100m" } },
            ],
          },
        },
      },
      helm_release: {
        Release: {
          name: "api",
          namespace: NS,
          chart: "assets/Chart/HASH",
          values: [
            '{"image":{"repository":"${data.terraform_remote_state.cross-stack-reference-input-shared.outputs.repo_url}"}}',
          ],
          atomic: true,
        },
      },
      ...extra,
    },
  };
  return { name: "dev", dir: "/out/stacks/dev", json };
}

describe("node groups from the shared stack", () => {
  it("reads labels, taints, sizes and instance types of every aws_eks_node_group", () => {
    const groups = nodeGroups(sharedStack());
    expect(groups.map((g) => [g.name, g.desiredSize])).toEqual([
      ["dev", 2],
      ["system", 1],
    ]);
    expect(groups[0]).toMatchObject({
      labels: { "workload-env": "dev" },
      taints: [{ key: "dedicated", value: "dev", effect: "NoSchedule" }],
      instanceTypes: ["t3.large"],
      capacityType: "SPOT",
    });
  });

  it("finds the zones from the node groups' subnets, literal or indexed", () => {
    expect(nodeZones(sharedStack())).toEqual(["eu-west-1a", "eu-west-1b", "eu-west-1c"]);
  });

  it("fails when a node group has no whole desired size", () => {
    const shared = sharedStack();
    (
      shared.json.resource!.aws_eks_node_group!.Dev!.scaling_config as Record<string, unknown>
    ).desired_size = "${var.size}";
    expect(() => nodeGroups(shared)).toThrow(/Dev.scaling_config.desired_size/);
  });
});

describe("Kubernetes objects of an application stack", () => {
  it("translates namespace, quota and limit range, resolving namespace references", () => {
    const objects = kubernetesObjects(appStack()).map((o) => o.manifest);
    expect(objects).toEqual([
      {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: {
          name: "api-dev",
          labels: { "pod-security.kubernetes.io/enforce": "restricted" },
        },
      },
      {
        apiVersion: "v1",
        kind: "ResourceQuota",
        metadata: { name: "q", namespace: "api-dev" },
        spec: { hard: { pods: "10", "requests.cpu": "1" } },
      },
      {
        apiVersion: "v1",
        kind: "LimitRange",
        metadata: { name: "l", namespace: "api-dev" },
        spec: {
          limits: [
            { type: "Container", default: { cpu: "500m" }, defaultRequest: { cpu: "100m" } },
          ],
        },
      },
    ]);
  });

  it("translates RBAC objects, interpolating references inside names", () => {
    const stack = appStack({
      kubernetes_role_v1: {
        Role: {
          metadata: { name: "deployer", namespace: NS },
          rule: [
            {
              api_groups: [""],
              resources: ["limitranges"],
              resource_names: [`${NS}-x`],
              verbs: ["get"],
            },
          ],
        },
      },
      kubernetes_role_binding_v1: {
        Binding: {
          metadata: { name: `${NS}-deployer`, namespace: NS },
          role_ref: {
            api_group: "rbac.authorization.k8s.io",
            kind: "Role",
            name: "${kubernetes_role_v1.Role.metadata[0].name}",
          },
          subject: [{ api_group: "rbac.authorization.k8s.io", kind: "Group", name: "deployers" }],
        },
      },
    });
    const byKind = Object.fromEntries(
      kubernetesObjects(stack).map((o) => [o.manifest.kind, o.manifest]),
    );
    expect(byKind.Role).toEqual({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "deployer", namespace: "api-dev" },
      rules: [
        {
          apiGroups: [""],
          resources: ["limitranges"],
          resourceNames: ["api-dev-x"],
          verbs: ["get"],
        },
      ],
    });
    expect(byKind.RoleBinding).toEqual({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "api-dev-deployer", namespace: "api-dev" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "deployer" },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "deployers" }],
    });
  });

  it("translates a NetworkPolicy, turning numeric ports into numbers", () => {
    const stack = appStack({
      kubernetes_network_policy_v1: {
        Deny: {
          metadata: { name: "default-deny", namespace: NS },
          spec: {
            pod_selector: {},
            policy_types: ["Ingress"],
            ingress: [
              {
                from: [
                  { namespace_selector: { match_labels: { "kubernetes.io/metadata.name": "lb" } } },
                ],
                ports: [
                  { port: "8080", protocol: "TCP" },
                  { port: "http", protocol: "TCP" },
                ],
              },
            ],
          },
        },
      },
    });
    const policy = kubernetesObjects(stack).find((o) => o.manifest.kind === "NetworkPolicy");
    expect(policy?.manifest).toEqual({
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "default-deny", namespace: "api-dev" },
      spec: {
        podSelector: {},
        policyTypes: ["Ingress"],
        ingress: [
          {
            from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "lb" } } }],
            ports: [
              { port: 8080, protocol: "TCP" },
              { port: "http", protocol: "TCP" },
            ],
          },
        ],
      },
    });
  });

  it("refuses an attribute of a known type it does not translate", () => {
    const stack = appStack();
    stack.json.resource!.kubernetes_namespace_v1!.Ns!.spec = { finalizers: ["x"] };
    expect(() => kubernetesObjects(stack)).toThrow(
      /kubernetes_namespace_v1.Ns.spec has no translation/,
    );
  });

  it("refuses a kubernetes_* resource it does not translate", () => {
    const stack = appStack({ kubernetes_config_map_v1: { Cm: { metadata: { name: "x" } } } });
    expect(() => kubernetesObjects(stack)).toThrow(/kubernetes_config_map_v1/);
  });

  it("refuses a reference it cannot resolve, naming it", () => {
    expect(() => resolveReference(appStack().json, "${aws_vpc.Missing.id}", "here")).toThrow(
      /here: cannot resolve \$\{aws_vpc.Missing.id\}/,
    );
  });
});

describe("Helm releases", () => {
  const stacks = new Map([
    ["shared", sharedStack()],
    ["dev", appStack()],
  ]);

  it("reads every helm_release with its chart folder relative to the stack", () => {
    const [release, ...rest] = helmReleases(appStack(), stacks);
    expect(rest).toEqual([]);
    expect(release).toMatchObject({
      address: "helm_release.Release",
      name: "api",
      namespace: "api-dev",
      chart: "/out/stacks/dev/assets/Chart/HASH",
    });
    expect(release!.attrs.atomic).toBe(true);
  });

  it("fills another stack's outputs into the values, a computed one with a stand-in", () => {
    const [release] = helmReleases(appStack(), stacks);
    expect(JSON.parse(release!.values[0]!)).toEqual({
      image: { repository: "000000000000.dkr.ecr.eu-west-1.amazonaws.com/platform/api" },
    });
    const text =
      "${data.terraform_remote_state.cross-stack-reference-input-shared.outputs.repo_name}";
    expect(interpolateRemoteState(appStack(), text, stacks, "v")).toBe("platform/api");
  });

  it("fails on an output of a stack that was not synthesized, or an unknown interpolation", () => {
    const onlyDev = new Map([["dev", appStack()]]);
    expect(() => helmReleases(appStack(), onlyDev)).toThrow(
      /state key "shared\/terraform.tfstate"/,
    );
    expect(() => interpolateRemoteState(appStack(), "${var.x}", stacks, "v")).toThrow(
      /cannot resolve \$\{var.x\}/,
    );
  });
});

describe("deployment order", () => {
  const live = {
    metadata: { name: "api-live", namespace: NS },
    spec: {
      type: "LoadBalancer",
      port: [{ name: "http", port: 80, target_port: "http", protocol: "TCP" }],
      selector: { "app.kubernetes.io/name": "api", colour: "blue" },
    },
    wait_for_load_balancer: true,
    depends_on: ["helm_release.Release"],
  };

  it("puts a Service that depends on a release after it, and a release that depends on it after that", () => {
    const stack = appStack({ kubernetes_service_v1: { Live: live } });
    const release = stack.json.resource!.helm_release!.Release!;
    stack.json.resource!.helm_release!.Green = {
      ...release,
      name: "api-green",
      depends_on: ["kubernetes_service_v1.Live"],
    };
    const stacks = new Map([["shared", sharedStack()]]);
    expect(deploymentPlan(stack, stacks).map((i) => i.address)).toEqual([
      "kubernetes_namespace_v1.Ns",
      "kubernetes_resource_quota_v1.Quota",
      "kubernetes_limit_range_v1.Limits",
      "helm_release.Release",
      "kubernetes_service_v1.Live",
      "helm_release.Green",
    ]);
    const service = kubernetesObjects(stack).find((o) => o.manifest.kind === "Service")!.manifest;
    expect(service.spec).toEqual({
      type: "LoadBalancer",
      ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }],
      selector: { "app.kubernetes.io/name": "api", colour: "blue" },
    });
  });

  it("refuses a dependency cycle", () => {
    const stack = appStack({ kubernetes_service_v1: { Live: live } });
    stack.json.resource!.kubernetes_namespace_v1!.Ns!.depends_on = ["kubernetes_service_v1.Live"];
    expect(() => deploymentPlan(stack, new Map([["shared", sharedStack()]]))).toThrow(
      /dependency cycle/,
    );
  });

  it("reads back a managed resource whose attributes an output uses", () => {
    const stack = appStack({ kubernetes_service_v1: { Live: live } });
    (stack.json as { output: Record<string, { value: unknown }> }).output.live = {
      value: "${kubernetes_service_v1.Live.status[0].load_balancer[0].ingress[0].hostname}",
    };
    expect(kubernetesReads(stack).find((r) => r.address === "kubernetes_service_v1.Live")).toEqual({
      address: "kubernetes_service_v1.Live",
      kind: "service",
      name: "api-live",
      namespace: "api-dev",
      outputPaths: ["status[0].load_balancer[0].ingress[0].hostname"],
    });
  });
});

describe("data sources the stack reads back", () => {
  it("lists each data.kubernetes_* with the attribute paths its outputs use", () => {
    expect(kubernetesReads(appStack())).toEqual([
      {
        address: "data.kubernetes_service_v1.Svc",
        kind: "service",
        name: "api",
        namespace: "api-dev",
        outputPaths: ["status[0].load_balancer[0].ingress[0].hostname"],
      },
    ]);
  });

  it("follows a provider attribute path into the Kubernetes object", () => {
    const service = { status: { loadBalancer: { ingress: [{ hostname: "lb.example" }] } } };
    expect(followAttributePath(service, "status[0].load_balancer[0].ingress[0].hostname")).toBe(
      "lb.example",
    );
    expect(
      followAttributePath(service, "status[0].load_balancer[0].ingress[1].hostname"),
    ).toBeUndefined();
  });
});

describe("readStack", () => {
  it("says how to produce a missing stack", () => {
    const dir = mkdtempSync(join(tmpdir(), "rehearsal-k8s-"));
    try {
      expect(() => readStack(dir, "dev")).toThrow(/run `npm run synth` first/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
