/**
 * docs/invariants.md 1-20 and 29 on the synthesized stacks. Each invariant's checker must pass on
 * the committed stacks and must report every breakage listed for it (applied to a copy of the
 * stacks), so a checker that stopped looking would fail here. Where the configuration or a
 * construct is the first line of defence, the test shows it refusing the broken input too.
 */
import { Testing, TerraformStack } from "cdktf";
import { describe, expect, it } from "vitest";
import { ConfigError, type PlatformSettings } from "../../config";
import { ApiRelease } from "../../constructs/api-release";
import { EksControlPlane, type EksControlPlaneProps } from "../../constructs/eks-cluster";
import { GithubCiRoles } from "../../constructs/github-ci-roles";
import { STACK_NAMES } from "../../stacks/app";
import { configFrom, settingsCopy, synthesized, type StackJson } from "../helpers/synth";
import { invariants, type Stacks } from "./invariant-checks";
import { WORKLOAD_ENV_LABEL } from "../../config/names";

type Obj = Record<string, unknown>;
/** Settings with `readonly` removed, to break one field in a test. */
type Mutable<T> = { -readonly [K in keyof T]: Mutable<T[K]> };
type Breaker = (stacks: Stacks) => void;

const committed = () =>
  Object.fromEntries(STACK_NAMES.map((s) => [s, synthesized(s)])) as unknown as Stacks;

/** The raw blocks of a type in a (copied) stack, to mutate in place. */
function blocks(json: StackJson, type: string, nameContains = ""): Obj[] {
  const found = Object.entries(json.resource?.[type] ?? {})
    .filter(([name]) => name.includes(nameContains))
    .map(([, body]) => body as Obj);
  if (found.length === 0) throw new Error(`no ${type} matching "${nameContains}" to break`);
  return found;
}
const first = (json: StackJson, type: string, nameContains = "") =>
  blocks(json, type, nameContains)[0];
const doc = (json: StackJson, nameContains: string) => {
  const [, body] = Object.entries(json.data?.aws_iam_policy_document ?? {}).find(([name]) =>
    name.includes(nameContains),
  )!;
  return body as { statement: Array<Obj & { condition?: Obj[] }> };
};
const remove = (json: StackJson, type: string, nameContains = "") => {
  for (const name of Object.keys(json.resource?.[type] ?? {})) {
    if (name.includes(nameContains)) delete json.resource![type][name];
  }
};
const prodRoleTrust = (s: Stacks) => doc(s.shared, "DeployProdTrust").statement[0].condition!;

const breakers: Record<string, Record<string, Breaker>> = {
  "1 state bucket versioning Enabled": {
    suspended: (s) => {
      (first(s.bootstrap, "aws_s3_bucket_versioning").versioning_configuration as Obj).status =
        "Suspended";
    },
    missing: (s) => remove(s.bootstrap, "aws_s3_bucket_versioning"),
  },
  "2 state bucket SSE-KMS with a rotating customer key": {
    "AES256 instead of KMS": (s) => {
      const rule = first(s.bootstrap, "aws_s3_bucket_server_side_encryption_configuration")
        .rule as Obj[];
      (rule[0].apply_server_side_encryption_by_default as Obj).sse_algorithm = "AES256";
    },
    "rotation off": (s) => {
      first(s.bootstrap, "aws_kms_key").enable_key_rotation = false;
    },
  },
  "3 state bucket public access blocked, ownership enforced": {
    "public policy allowed": (s) => {
      first(s.bootstrap, "aws_s3_bucket_public_access_block").block_public_policy = false;
    },
    "ACLs enabled": (s) => {
      (first(s.bootstrap, "aws_s3_bucket_ownership_controls").rule as Obj).object_ownership =
        "ObjectWriter";
    },
  },
  "4 state bucket policy denies insecure transport": {
    "condition inverted": (s) => {
      doc(s.bootstrap, "TlsOnly").statement[0].condition![0].values = ["true"];
    },
    "policy removed": (s) => remove(s.bootstrap, "aws_s3_bucket_policy"),
  },
  "5 every S3 backend encrypted, locked, its own key": {
    "no lock file": (s) => {
      s.dev.terraform.backend!.s3.use_lockfile = false;
    },
    "not encrypted": (s) => {
      s.shared.terraform.backend!.s3.encrypt = false;
    },
    "shared key": (s) => {
      s.prod.terraform.backend!.s3.key = "dev/terraform.tfstate";
    },
    "bootstrap moved into the bucket without a lock": (s) => {
      s.bootstrap.terraform.backend = {
        s3: {
          ...s.shared.terraform.backend!.s3,
          key: "bootstrap/terraform.tfstate",
          use_lockfile: false,
        },
      };
    },
  },
  "6 GitHub OIDC trust pins audience and exact subjects": {
    "wildcard subject": (s) => {
      prodRoleTrust(s)[1].values = ["repo:example-org/eks-api-platform:*"];
    },
    "StringLike subject": (s) => {
      prodRoleTrust(s)[1].test = "StringLike";
    },
    "other audience": (s) => {
      prodRoleTrust(s)[0].values = ["sts.amazonaws.com", "other"];
    },
    "another repository": (s) => {
      doc(s.shared, "PlanTrust").statement[0].condition![1].values = [
        "repo:someone/else:pull_request",
      ];
    },
  },
  "7 one role per job kind; prod not from pull requests or branches": {
    "prod from pull requests": (s) => {
      (prodRoleTrust(s)[1].values as string[]).push(
        "repo:example-org/eks-api-platform:pull_request",
      );
    },
    "prod from a branch": (s) => {
      prodRoleTrust(s)[1].values = ["repo:example-org/eks-api-platform:ref:refs/heads/main"];
    },
    "plan role missing": (s) => remove(s.shared, "aws_iam_role", "Ci_Plan_"),
  },
  "8 no * on *, no service:* grants, AdministratorAccess only on deploy-shared": {
    "ecr:*": (s) => {
      const statements = doc(s.shared, "DeployDevPermissions").statement;
      (statements[statements.length - 1].actions as string[]).push("ecr:*");
    },
    "* on *": (s) => {
      doc(s.shared, "DeployProdPermissions").statement.push({ actions: ["*"], resources: ["*"] });
    },
    "admin on plan": (s) => {
      first(s.shared, "aws_iam_role_policy_attachment", "Ci_PlanReadOnly").policy_arn =
        "arn:aws:iam::aws:policy/AdministratorAccess";
    },
  },
  "9 public endpoint off or limited to configured CIDRs": {
    "open to the internet": (s) => {
      (first(s.shared, "aws_eks_cluster").vpc_config as Obj).public_access_cidrs = ["0.0.0.0/0"];
    },
    "public without CIDRs": (s) => {
      delete (first(s.shared, "aws_eks_cluster").vpc_config as Obj).public_access_cidrs;
    },
    "private endpoint off": (s) => {
      (first(s.shared, "aws_eks_cluster").vpc_config as Obj).endpoint_private_access = false;
    },
  },
  "10 all control-plane log types": {
    "audit off": (s) => {
      first(s.shared, "aws_eks_cluster").enabled_cluster_log_types = ["api", "authenticator"];
    },
  },
  "11 secrets envelope-encrypted with a KMS key": {
    "no encryption": (s) => {
      delete first(s.shared, "aws_eks_cluster").encryption_config;
    },
    "key rotation off": (s) => {
      first(s.shared, "aws_kms_key", "SecretsKey").enable_key_rotation = false;
    },
  },
  "12 authentication mode API, creator admin off": {
    "aws-auth ConfigMap": (s) => {
      (first(s.shared, "aws_eks_cluster").access_config as Obj).authentication_mode = "CONFIG_MAP";
    },
    "creator admin": (s) => {
      (
        first(s.shared, "aws_eks_cluster").access_config as Obj
      ).bootstrap_cluster_creator_admin_permissions = true;
    },
  },
  "13 cluster subnets span at least two AZs": {
    "one subnet": (s) => {
      const vpc = first(s.shared, "aws_eks_cluster").vpc_config as Obj;
      vpc.subnet_ids = (vpc.subnet_ids as string[]).slice(0, 1);
    },
  },
  "14 node groups in private subnets only, no remote access": {
    "public subnet": (s) => {
      const group = first(s.shared, "aws_eks_node_group", "ProdNodes");
      const publicId = Object.keys(s.shared.resource!.aws_subnet).find((n) => n.includes("Public"));
      group.subnet_ids = [`\${aws_subnet.${publicId}.id}`];
    },
    "private subnet routed to the internet gateway": (s) => {
      const igw = Object.keys(s.shared.resource!.aws_internet_gateway)[0];
      for (const route of blocks(s.shared, "aws_route", "Private")) {
        delete route.nat_gateway_id;
        route.gateway_id = `\${aws_internet_gateway.${igw}.id}`;
      }
    },
    "remote access": (s) => {
      first(s.shared, "aws_eks_node_group").remote_access = { ec2_ssh_key: "ops" };
    },
  },
  "15 launch templates: IMDSv2 required, hop limit 1": {
    "IMDSv1 allowed": (s) => {
      (first(s.shared, "aws_launch_template", "Dev").metadata_options as Obj).http_tokens =
        "optional";
    },
    "hop limit 2": (s) => {
      (
        first(s.shared, "aws_launch_template", "System").metadata_options as Obj
      ).http_put_response_hop_limit = 2;
    },
  },
  "16 root volumes encrypted": {
    unencrypted: (s) => {
      const devices = first(s.shared, "aws_launch_template", "Prod").block_device_mappings as Obj[];
      (devices[0].ebs as Obj).encrypted = "false";
    },
  },
  "17 prod node group min >= 2, update_config on every group": {
    "prod min 1": (s) => {
      (first(s.shared, "aws_eks_node_group", "ProdNodes").scaling_config as Obj).min_size = 1;
    },
    "no update_config": (s) => {
      delete first(s.shared, "aws_eks_node_group", "SystemNodes").update_config;
    },
  },
  "18 flow logs on, default security group without rules": {
    "no flow log": (s) => remove(s.shared, "aws_flow_log"),
    "default group with a rule": (s) => {
      first(s.shared, "aws_default_security_group").ingress = [
        { protocol: "-1", from_port: 0, to_port: 0, self: true },
      ];
    },
  },
  "19 no open ingress to 22, 3389 or all ports; every rule described": {
    "ssh from anywhere": (s) => {
      s.shared.resource!.aws_security_group_rule = {
        ssh: {
          type: "ingress",
          protocol: "tcp",
          from_port: 22,
          to_port: 22,
          cidr_blocks: ["0.0.0.0/0"],
          description: "ssh",
        },
      };
    },
    "rule without description": (s) => {
      s.shared.resource!.aws_vpc_security_group_ingress_rule = {
        https: { ip_protocol: "tcp", from_port: 443, to_port: 443, cidr_ipv4: "10.0.0.0/8" },
      };
    },
  },
  "20 registry: immutable tags, scan on push, KMS, lifecycle policy": {
    mutable: (s) => {
      first(s.shared, "aws_ecr_repository").image_tag_mutability = "MUTABLE";
    },
    "no scan": (s) => {
      first(s.shared, "aws_ecr_repository").image_scanning_configuration = { scan_on_push: false };
    },
    AES256: (s) => {
      first(s.shared, "aws_ecr_repository").encryption_configuration = [
        { encryption_type: "AES256" },
      ];
    },
    "no lifecycle": (s) => remove(s.shared, "aws_ecr_lifecycle_policy"),
  },
  "29 helm_release: atomic, wait, cleanup, timeout, bounded history, no force_update": {
    "not atomic": (s) => {
      first(s.prod, "helm_release").atomic = false;
    },
    "no timeout": (s) => {
      delete first(s.dev, "helm_release").timeout;
    },
    "unbounded history": (s) => {
      first(s.prod, "helm_release").max_history = 0;
    },
    "force update": (s) => {
      first(s.dev, "helm_release").force_update = true;
    },
  },
};

describe("invariants on the synthesized stacks", () => {
  it("every invariant has a checker and breakages that it reports", () => {
    expect(Object.keys(breakers).sort()).toEqual(Object.keys(invariants).sort());
    const numbers = Object.keys(invariants).map((k) => Number(k.split(" ")[0]));
    expect(numbers).toEqual([...Array.from({ length: 20 }, (_, i) => i + 1), 29]);
  });

  describe.each(Object.entries(invariants))("%s", (name, check) => {
    it("holds for the committed configuration", () => {
      expect(check(committed())).toEqual([]);
    });

    it.each(Object.entries(breakers[name]))("is reported when broken: %s", (_, breakIt) => {
      const stacks = structuredClone(committed());
      breakIt(stacks);
      expect(check(stacks).length).toBeGreaterThan(0);
    });
  });
});

describe("the configuration and constructs refuse to break the invariants", () => {
  /** The fields a settings change is rejected for (empty when it is accepted). */
  const rejected = (mutate: (s: Mutable<PlatformSettings>) => void): string[] => {
    const s = settingsCopy() as Mutable<PlatformSettings>;
    mutate(s);
    try {
      configFrom(s);
      return [];
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return error.issues.map((i) => i.field);
    }
  };
  const scope = () => new TerraformStack(Testing.app(), "test");
  const cluster = (overrides: Partial<EksControlPlaneProps>) =>
    new EksControlPlane(scope(), "Cluster", {
      name: "c",
      kubernetesVersion: "1.33",
      subnetIds: ["subnet-a", "subnet-b"],
      publicEndpointCidrs: [],
      serviceIpv4Cidr: "172.20.0.0/16",
      secretsKmsKeyArn: "arn:aws:kms:eu-west-1:111122223333:key/x",
      logKmsKeyArn: "arn:aws:kms:eu-west-1:111122223333:key/y",
      logRetentionDays: 365,
      adminRoleArns: [],
      ...overrides,
    });

  it("6: a wildcard repository is rejected by config and by GithubCiRoles", () => {
    expect(rejected((s) => (s.shared.githubRepository = "example-org/*"))).toContain(
      "shared.githubRepository",
    );
    expect(
      () =>
        new GithubCiRoles(scope(), "Ci", {
          name: "p",
          repository: "example-org/*",
          stateBucketArn: "arn:aws:s3:::b",
          stateKmsKeyArn: "arn:aws:kms:eu-west-1:111122223333:key/x",
          stateKeys: { shared: "shared/t", dev: "dev/t", prod: "prod/t" },
          clusterName: "c",
          clusterArn: "arn:aws:eks:eu-west-1:111122223333:cluster/c",
          registryArn: "arn:aws:ecr:eu-west-1:111122223333:repository/r",
          namespaces: { dev: ["api-dev"], prod: ["api-prod"] },
          kubernetesGroups: { dev: "d", prod: "p" },
        }),
    ).toThrow(/repository must be owner\/name/);
  });

  it("9: an endpoint open to 0.0.0.0/0 is rejected by config and by EksControlPlane", () => {
    expect(rejected((s) => (s.shared.publicEndpointCidrs = ["0.0.0.0/0"]))).toContain(
      "shared.publicEndpointCidrs[0]",
    );
    expect(() => cluster({ publicEndpointCidrs: ["0.0.0.0/0"] })).toThrow(/publicEndpointCidrs/);
    expect(() => cluster({ publicEndpointCidrs: ["198.51.100.0/24"] })).not.toThrow();
  });

  it("13: one zone is rejected by config and by EksControlPlane", () => {
    expect(rejected((s) => (s.shared.azCount = 1))).toContain("shared.azCount");
    expect(() => cluster({ subnetIds: ["subnet-a"] })).toThrow(/at least two/);
  });

  it("17: a prod node group below two nodes is rejected by config", () => {
    expect(rejected((s) => (s.environments.prod.nodeGroup.minSize = 1))).toContain(
      "environments.prod.nodeGroup.minSize",
    );
    expect(rejected((s) => (s.environments.dev.nodeGroup.minSize = 0))).toEqual([]);
  });

  it("29: an unbounded or too short Helm history or timeout is rejected", () => {
    expect(rejected((s) => (s.environments.prod.api.helmTimeoutSeconds = 0))).toContain(
      "environments.prod.api.helmTimeoutSeconds",
    );
    const release = (maxHistory: number) =>
      new ApiRelease(scope(), "Api", {
        environment: "dev",
        namespace: "api-dev",
        releaseName: "api",
        chartPath: "chart",
        imageRepository: "r",
        settings: settingsCopy().environments.dev.api,
        appVersion: "0.1.0",
        nodeSelector: { [WORKLOAD_ENV_LABEL]: "dev" },
        maxHistory,
      });
    expect(() => release(0)).toThrow(/maxHistory/);
    expect(() => release(10)).not.toThrow();
  });
});
