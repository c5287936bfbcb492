/**
 * The shared stack: network, cluster, node groups, registry and CI identity, from the committed
 * configuration, and the parts that change with the settings (NAT mode, endpoint, zones, schedule).
 */
import { AutoscalingSchedule } from "@cdktf/provider-aws/lib/autoscaling-schedule";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { EksAccessPolicyAssociation } from "@cdktf/provider-aws/lib/eks-access-policy-association";
import { EksCluster } from "@cdktf/provider-aws/lib/eks-cluster";
import { IamOpenidConnectProvider } from "@cdktf/provider-aws/lib/iam-openid-connect-provider";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import { beforeAll, describe, expect, it } from "vitest";
import { settings } from "../../config/settings";
import { subnetLayout } from "../../constructs/network";
import { configFrom, settingsCopy, synthStack, type Block, type StackJson } from "../helpers/synth";
import {
  dataSources,
  one,
  only,
  policyDocument,
  privateSubnets,
  ref,
  resourceCount,
  resources,
  synthesized,
} from "./stack-helpers";
import { WORKLOAD_ENV_LABEL, deployerGroup, environmentNamespaces } from "../../config/names";

const json = synthesized("shared");
const s = settings.shared;
const cluster = only(json, "aws_eks_cluster");
const roleNamed = (name: string) =>
  only(json, "aws_iam_role", (r) => r.name === `${s.project}-${name}`);
const permissions = (role: string) => {
  const r = roleNamed(role);
  const policy = only(json, "aws_iam_role_policy", (p) => p.role === ref(r, "id"));
  return policyDocument(json, policy.policy);
};
const nodeGroup = (name: string) =>
  only(json, "aws_eks_node_group", (g) => g.node_group_name === name);
const templateOf = (group: Block) =>
  only(json, "aws_launch_template", (t) => one(group.launch_template).id === ref(t, "id"));

describe("shared stack", () => {
  it("stores its state under its own key and creates the expected number of resources", () => {
    expect(json.terraform.backend?.s3).toMatchObject({
      bucket: s.stateBucket,
      key: "shared/terraform.tfstate",
    });
    expect(resourceCount(json)).toBe(76);
  });

  describe("network", () => {
    const layout = subnetLayout(s.vpcCidr, s.azCount);
    const subnets = resources(json, "aws_subnet");
    const priv = privateSubnets(json);
    const pub = subnets.filter((x) => !priv.some((p) => p.address === x.address));

    it("a VPC with DNS, private and public subnets per zone from the layout", () => {
      expect(json).toHaveResourceWithProperties(Vpc, {
        cidr_block: s.vpcCidr,
        enable_dns_hostnames: true,
        enable_dns_support: true,
      });
      expect(priv.map((x) => x.cidr_block).sort()).toEqual([...layout.private].sort());
      expect(pub.map((x) => x.cidr_block).sort()).toEqual([...layout.public].sort());
      expect(new Set(priv.map((x) => x.availability_zone)).size).toBe(s.azCount);
    });

    it("tags subnets for the load balancer controller and the cluster", () => {
      for (const x of pub) {
        expect(x.tags).toMatchObject({
          "kubernetes.io/role/elb": "1",
          [`kubernetes.io/cluster/${s.project}`]: "shared",
        });
        expect(x.map_public_ip_on_launch).toBe(false);
      }
      for (const x of priv) {
        expect(x.tags).toMatchObject({
          "kubernetes.io/role/internal-elb": "1",
          [`kubernetes.io/cluster/${s.project}`]: "shared",
        });
      }
    });

    it("one NAT gateway in single mode, in a public subnet, behind every private route", () => {
      const nats = resources(json, "aws_nat_gateway");
      expect(nats).toHaveLength(1);
      expect(pub.map((x) => ref(x, "id"))).toContain(nats[0].subnet_id);
      const natRoutes = resources(json, "aws_route").filter((r) => r.nat_gateway_id);
      expect(natRoutes).toHaveLength(s.azCount);
      for (const r of natRoutes) expect(r.nat_gateway_id).toBe(ref(nats[0], "id"));
      expect(resources(json, "aws_eip")).toHaveLength(1);
    });

    it("the public route table goes to the internet gateway", () => {
      const igw = only(json, "aws_internet_gateway");
      expect(resources(json, "aws_route").filter((r) => r.gateway_id === ref(igw, "id"))).toEqual([
        expect.objectContaining({ destination_cidr_block: "0.0.0.0/0" }),
      ]);
    });

    it("flow logs go to an encrypted log group with the configured retention", () => {
      const group = only(json, "aws_cloudwatch_log_group", (g) =>
        String(g.name).includes("flow-logs"),
      );
      expect(group.retention_in_days).toBe(s.logRetentionDays);
      expect(String(group.kms_key_id)).toMatch(/^\$\{aws_kms_key\..+\.arn\}$/);
      expect(only(json, "aws_flow_log")).toMatchObject({
        log_destination: ref(group, "arn"),
        traffic_type: "ALL",
        max_aggregation_interval: 60,
      });
    });

    it("picks the first zones without opt-in when no zones are pinned", () => {
      expect(dataSources(json, "aws_availability_zones")).toEqual([
        expect.objectContaining({
          state: "available",
          filter: [{ name: "opt-in-status", values: ["opt-in-not-required"] }],
        }),
      ]);
    });
  });

  describe("cluster", () => {
    it("runs the configured version in the private subnets with API access entries", () => {
      expect(json).toHaveResourceWithProperties(EksCluster, {
        name: s.project,
        version: s.kubernetesVersion,
        kubernetes_network_config: { ip_family: "ipv4", service_ipv4_cidr: "172.20.0.0/16" },
        vpc_config: {
          endpoint_private_access: true,
          endpoint_public_access: true,
          public_access_cidrs: [...s.publicEndpointCidrs],
          subnet_ids: privateSubnets(json).map((x) => ref(x, "id")),
        },
      });
    });

    it("writes control-plane logs to the log group EKS uses, created first, with retention", () => {
      const group = only(
        json,
        "aws_cloudwatch_log_group",
        (g) => g.name === `/aws/eks/${s.project}/cluster`,
      );
      expect(json).toHaveResourceWithProperties(CloudwatchLogGroup, {
        name: `/aws/eks/${s.project}/cluster`,
        retention_in_days: s.logRetentionDays,
      });
      expect(cluster.depends_on).toContain(group.address);
    });

    it("installs the four core add-ons; coredns waits for the system nodes", () => {
      const addons = resources(json, "aws_eks_addon");
      expect(addons.map((a) => a.addon_name).sort()).toEqual([
        "coredns",
        "eks-pod-identity-agent",
        "kube-proxy",
        "vpc-cni",
      ]);
      for (const a of addons) expect(a.cluster_name).toBe(ref(cluster, "name"));
      const coredns = addons.find((a) => a.addon_name === "coredns")!;
      expect(coredns.depends_on).toEqual([nodeGroup("system").address]);
    });

    it("makes each configured admin role a cluster admin through an access entry", () => {
      for (const arn of s.clusterAdminRoleArns) {
        const entry = only(json, "aws_eks_access_entry", (e) => e.principal_arn === arn);
        expect(json).toHaveResourceWithProperties(EksAccessPolicyAssociation, {
          principal_arn: ref(entry, "principal_arn"),
          policy_arn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
          access_scope: { type: "cluster" },
        });
      }
    });
  });

  describe("node groups", () => {
    it("a system group and one group per environment, sized from config", () => {
      const expected = {
        system: s.systemNodeGroup,
        dev: settings.environments.dev.nodeGroup,
        prod: settings.environments.prod.nodeGroup,
      };
      expect(
        resources(json, "aws_eks_node_group")
          .map((g) => g.node_group_name)
          .sort(),
      ).toEqual(["dev", "prod", "system"]);
      for (const [name, cfg] of Object.entries(expected)) {
        const g = nodeGroup(name);
        expect(g).toMatchObject({
          capacity_type: cfg.capacityType,
          instance_types: [...cfg.instanceTypes],
          scaling_config: {
            min_size: cfg.minSize,
            max_size: cfg.maxSize,
            desired_size: cfg.desiredSize,
          },
          update_config: { max_unavailable_percentage: 33 },
          lifecycle: { ignore_changes: ["scaling_config[0].desired_size"] },
        });
        expect(one(one(templateOf(g).block_device_mappings).ebs)).toMatchObject({
          volume_size: cfg.diskSizeGiB,
          volume_type: "gp3",
          encrypted: "true",
        });
      }
    });

    it(`labels environment groups ${WORKLOAD_ENV_LABEL}=<env> and leaves the system group unlabelled`, () => {
      expect(nodeGroup("dev").labels).toMatchObject({ [WORKLOAD_ENV_LABEL]: "dev" });
      expect(nodeGroup("prod").labels).toMatchObject({ [WORKLOAD_ENV_LABEL]: "prod" });
      expect(nodeGroup("system").labels).not.toHaveProperty(WORKLOAD_ENV_LABEL);
    });

    it("scales the dev group to zero off hours and back to its sizes, in the configured zone", () => {
      const schedule = settings.environments.dev.offHours!;
      const dev = settings.environments.dev.nodeGroup;
      const asg = `\${${nodeGroup("dev").address}.resources[0].autoscaling_groups[0].name}`;
      expect(json).toHaveResourceWithProperties(AutoscalingSchedule, {
        autoscaling_group_name: asg,
        recurrence: schedule.scaleDownCron,
        time_zone: schedule.timeZone,
        min_size: 0,
        desired_capacity: 0,
      });
      expect(json).toHaveResourceWithProperties(AutoscalingSchedule, {
        autoscaling_group_name: asg,
        recurrence: schedule.scaleUpCron,
        time_zone: schedule.timeZone,
        min_size: dev.minSize,
        max_size: dev.maxSize,
        desired_capacity: dev.desiredSize,
      });
      expect(resources(json, "aws_autoscaling_schedule")).toHaveLength(2);
    });
  });

  describe("registry", () => {
    it("expires untagged images, keeps every release-* and the last N sha-*", () => {
      const repo = only(json, "aws_ecr_repository");
      expect(repo.name).toBe(`${s.project}/api`);
      const lifecycle = only(json, "aws_ecr_lifecycle_policy");
      expect(lifecycle.repository).toBe(ref(repo, "name"));
      const rules = (
        JSON.parse(String(lifecycle.policy)) as {
          rules: Array<{ rulePriority: number; selection: Record<string, unknown> }>;
        }
      ).rules;
      expect(rules.map((r) => r.selection)).toEqual([
        expect.objectContaining({ tagStatus: "untagged", countType: "sinceImagePushed" }),
        expect.objectContaining({ tagPrefixList: ["release-"], countNumber: 9999 }),
        expect.objectContaining({ tagPrefixList: ["sha-"], countNumber: s.keepShaImages }),
      ]);
    });
  });

  describe("CI identity", () => {
    it("trusts GitHub's OIDC issuer for the STS audience", () => {
      expect(json).toHaveResourceWithProperties(IamOpenidConnectProvider, {
        url: "https://token.actions.githubusercontent.com",
        client_id_list: ["sts.amazonaws.com"],
      });
    });

    it("each deploy role reaches only its own state key and lock, and reads shared's outputs", () => {
      for (const env of ["dev", "prod"] as const) {
        const objects = permissions(`deploy-${env}`)
          .filter((st) => st.actions?.some((a) => a.startsWith("s3:") && a !== "s3:ListBucket"))
          .flatMap((st) => st.resources ?? []);
        expect(objects.length).toBeGreaterThan(0);
        for (const r of objects) {
          expect(r).toMatch(
            new RegExp(`/(${env}/terraform\\.tfstate(\\.tflock)?|shared/terraform\\.tfstate)$`),
          );
        }
        const writes = permissions(`deploy-${env}`).find((st) =>
          st.actions?.includes("s3:PutObject"),
        );
        expect(writes?.resources?.map((r) => r.split("/").slice(1).join("/"))).toEqual([
          `${env}/terraform.tfstate`,
          `${env}/terraform.tfstate.tflock`,
        ]);
      }
    });

    it("deploy-dev may push images; deploy-prod may only re-tag existing ones", () => {
      const ecr = (role: string) =>
        permissions(role)
          .filter((st) => !st.resources?.includes("*"))
          .flatMap((st) => st.actions ?? [])
          .filter((a) => a.startsWith("ecr:"));
      expect(ecr("deploy-dev")).toEqual(
        expect.arrayContaining(["ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:PutImage"]),
      );
      expect(ecr("deploy-prod").sort()).toEqual([
        "ecr:BatchGetImage",
        "ecr:DescribeImages",
        "ecr:PutImage",
      ]);
    });

    it("plan is read-only; deploy roles get namespace-scoped admin and their RBAC group", () => {
      const attached = (role: string) =>
        resources(json, "aws_iam_role_policy_attachment")
          .filter((a) => a.role === ref(roleNamed(role), "name"))
          .map((a) => a.policy_arn);
      expect(attached("plan")).toEqual(["arn:aws:iam::aws:policy/ReadOnlyAccess"]);
      expect(attached("deploy-dev")).toEqual([]);
      expect(attached("deploy-prod")).toEqual([]);
      for (const env of ["dev", "prod"] as const) {
        const entry = only(
          json,
          "aws_eks_access_entry",
          (e) => e.principal_arn === ref(roleNamed(`deploy-${env}`), "arn"),
        );
        expect(entry.kubernetes_groups).toEqual([deployerGroup(env)]);
        expect(
          only(
            json,
            "aws_eks_access_policy_association",
            (a) => a.principal_arn === ref(entry, "principal_arn"),
          ),
        ).toMatchObject({
          policy_arn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy",
          access_scope: { type: "namespace", namespaces: environmentNamespaces(env) },
        });
      }
    });
  });

  it("outputs the cluster, registry, role ARNs, VPC and subnets", () => {
    expect(Object.keys(json.output ?? {}).filter((k) => !k.startsWith("cross-stack-"))).toEqual(
      expect.arrayContaining([
        "cluster_name",
        "cluster_endpoint",
        "cluster_certificate_authority_data",
        "ecr_repository_url",
        "plan_role_arn",
        "deploy_dev_role_arn",
        "deploy_prod_role_arn",
        "deploy_shared_role_arn",
        "vpc_id",
        "private_subnet_ids",
        "public_subnet_ids",
      ]),
    );
  });
});

describe("shared stack with other settings", () => {
  let alt: StackJson;
  beforeAll(() => {
    const changed = settingsCopy() as unknown as {
      shared: Record<string, unknown>;
      environments: { dev: { offHours: { enabled: boolean } } };
    };
    changed.shared.natMode = "per-az";
    changed.shared.publicEndpointCidrs = [];
    changed.shared.availabilityZones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
    changed.environments.dev.offHours.enabled = false;
    alt = synthStack("shared", configFrom(changed as never));
  });

  it("per-az NAT: one gateway per zone, each private route to its own", () => {
    const nats = resources(alt, "aws_nat_gateway");
    expect(nats).toHaveLength(3);
    const used = resources(alt, "aws_route")
      .filter((r) => r.nat_gateway_id)
      .map((r) => r.nat_gateway_id);
    expect(new Set(used)).toEqual(new Set(nats.map((n) => ref(n, "id"))));
  });

  it("no endpoint CIDRs: the endpoint is private only", () => {
    const vpc = one(only(alt, "aws_eks_cluster").vpc_config);
    expect(vpc).toMatchObject({ endpoint_private_access: true, endpoint_public_access: false });
    expect(vpc).not.toHaveProperty("public_access_cidrs");
  });

  it("pinned zones filter the zone lookup by name", () => {
    expect(one(dataSources(alt, "aws_availability_zones")).filter).toContainEqual({
      name: "zone-name",
      values: ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
    });
  });

  it("a disabled off-hours schedule creates no scheduled actions", () => {
    expect(resources(alt, "aws_autoscaling_schedule")).toEqual([]);
  });
});
