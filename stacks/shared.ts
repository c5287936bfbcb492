import { DataAwsIamPolicyDocument } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { DataAwsKmsAlias } from "@cdktf/provider-aws/lib/data-aws-kms-alias";
import { DataAwsS3Bucket } from "@cdktf/provider-aws/lib/data-aws-s3-bucket";
import { EksAddon } from "@cdktf/provider-aws/lib/eks-addon";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { TerraformOutput, type ITerraformDependable } from "cdktf";
import type { Construct } from "constructs";
import {
  ENVIRONMENTS,
  SERVICE_IPV4_CIDR,
  type EnvironmentConfig,
  type EnvironmentName,
} from "../config";
import { ContainerRegistry } from "../constructs/container-registry";
import { EksControlPlane } from "../constructs/eks-cluster";
import { addonVersion, type EksAddonName } from "../config/eks-addons";
import { EncryptionKey } from "../constructs/encryption-key";
import { GithubCiRoles } from "../constructs/github-ci-roles";
import { Network } from "../constructs/network";
import { ManagedNodeGroup } from "../constructs/node-group";
import {
  constructPrefix,
  deployerGroup,
  environmentNamespaces,
  stateKey,
  WORKLOAD_ENV_LABEL,
} from "../config/names";
import { PlatformStack, type PlatformStackProps } from "./base";

/** Properties for {@link SharedStack}. */
export interface SharedStackProps extends PlatformStackProps {
  /** The application environments, each with its own node group. */
  readonly environments: Readonly<Record<EnvironmentName, EnvironmentConfig>>;
}

/**
 * `shared`: the network, the EKS cluster with its node groups and add-ons, the image registry and the
 * CI identities. Everything `dev` and `prod` run on.
 */
export class SharedStack extends PlatformStack {
  public readonly clusterName: string;
  public readonly clusterEndpoint: string;
  public readonly clusterCertificateAuthorityData: string;
  public readonly repositoryUrl: string;

  constructor(scope: Construct, id: string, props: SharedStackProps) {
    super(scope, id, { ...props, remoteState: true });
    const { shared } = props;
    const name = shared.project;

    const logsKey = new EncryptionKey(this, "LogsKey", {
      alias: `${name}-logs`,
      description: `Encrypts ${name} flow logs and control-plane logs`,
      allowCloudWatchLogs: true,
    });
    const secretsKey = new EncryptionKey(this, "SecretsKey", {
      alias: `${name}-eks-secrets`,
      description: `Envelope-encrypts Kubernetes Secrets in ${name}`,
    });
    const registryKey = new EncryptionKey(this, "RegistryKey", {
      alias: `${name}-ecr`,
      description: `Encrypts ${name} container images`,
    });

    const network = new Network(this, "Network", {
      name,
      cidr: shared.vpcCidr,
      azCount: shared.azCount,
      zoneNames: shared.availabilityZones,
      natMode: shared.natMode,
      clusterName: name,
      flowLogRetentionDays: shared.logRetentionDays,
      logKmsKeyArn: logsKey.arn,
    });

    const cluster = new EksControlPlane(this, "Cluster", {
      name,
      kubernetesVersion: shared.kubernetesVersion,
      subnetIds: network.privateSubnetIds,
      publicEndpointCidrs: shared.publicEndpointCidrs,
      serviceIpv4Cidr: SERVICE_IPV4_CIDR,
      secretsKmsKeyArn: secretsKey.arn,
      logKmsKeyArn: logsKey.arn,
      logRetentionDays: shared.logRetentionDays,
      adminRoleArns: shared.clusterAdminRoleArns,
    });

    // Add-ons the nodes need to join and get pod networking come first; coredns needs nodes.
    // Each is pinned for the cluster's minor, so an add-on changes only with a commit.
    const addon = (addonName: EksAddonName, dependsOn?: ITerraformDependable[]) =>
      new EksAddon(this, `Addon-${addonName}`, {
        clusterName: cluster.name,
        addonName,
        addonVersion: addonVersion(shared.kubernetesVersion, addonName),
        resolveConflictsOnCreate: "OVERWRITE",
        resolveConflictsOnUpdate: "OVERWRITE",
        // NetworkPolicies (the API's, and each customer workspace's default deny) are only
        // enforced when the VPC CNI's network policy agent is on; it is off by default.
        ...(addonName === "vpc-cni" && {
          configurationValues: JSON.stringify({ enableNetworkPolicy: "true" }),
        }),
        dependsOn,
      });
    const nodeAddons = (["vpc-cni", "kube-proxy", "eks-pod-identity-agent"] as const).map((a) =>
      addon(a),
    );

    const nodeAssume = new DataAwsIamPolicyDocument(this, "NodeAssume", {
      statement: [
        {
          actions: ["sts:AssumeRole"],
          principals: [{ type: "Service", identifiers: ["ec2.amazonaws.com"] }],
        },
      ],
    });
    const nodeRole = new IamRole(this, "NodeRole", {
      name: `${name}-node`,
      assumeRolePolicy: nodeAssume.json,
    });
    const nodePolicies = [
      "AmazonEKSWorkerNodePolicy",
      "AmazonEKS_CNI_Policy",
      "AmazonEC2ContainerRegistryPullOnly",
      "AmazonSSMManagedInstanceCore",
    ].map(
      (policy) =>
        new IamRolePolicyAttachment(this, `NodeRole-${policy}`, {
          role: nodeRole.name,
          policyArn: `arn:aws:iam::aws:policy/${policy}`,
        }),
    );

    const system = new ManagedNodeGroup(this, "SystemNodes", {
      clusterName: cluster.name,
      name: "system",
      nodeRoleArn: nodeRole.arn,
      subnetIds: network.privateSubnetIds,
      sizing: shared.systemNodeGroup,
      labels: { "node-group": "system" },
      dependsOn: [...nodeAddons, ...nodePolicies],
    });
    addon("coredns", [system.nodeGroup]);

    for (const env of ENVIRONMENTS) {
      const config = props.environments[env];
      new ManagedNodeGroup(this, `${constructPrefix(env)}Nodes`, {
        clusterName: cluster.name,
        name: env,
        nodeRoleArn: nodeRole.arn,
        subnetIds: network.privateSubnetIds,
        sizing: config.nodeGroup,
        labels: { "node-group": env, [WORKLOAD_ENV_LABEL]: env },
        offHours: config.offHours,
        dependsOn: [...nodeAddons, ...nodePolicies],
      });
    }

    const registry = new ContainerRegistry(this, "Registry", {
      name: `${name}/api`,
      kmsKeyArn: registryKey.arn,
      keepShaImages: shared.keepShaImages,
    });

    // The state bucket and its key come from the bootstrap workspace (local state), found by name.
    const stateBucket = new DataAwsS3Bucket(this, "StateBucket", { bucket: shared.stateBucket });
    const stateKmsKey = new DataAwsKmsAlias(this, "StateKey", {
      name: `alias/${shared.stateBucket}`,
    });
    const ci = new GithubCiRoles(this, "Ci", {
      name,
      repository: shared.githubRepository,
      stateBucketArn: stateBucket.arn,
      stateKmsKeyArn: stateKmsKey.targetKeyArn,
      stateKeys: { shared: stateKey("shared"), dev: stateKey("dev"), prod: stateKey("prod") },
      clusterName: cluster.name,
      clusterArn: cluster.cluster.arn,
      registryArn: registry.repositoryArn,
      namespaces: { dev: environmentNamespaces("dev"), prod: environmentNamespaces("prod") },
      kubernetesGroups: { dev: deployerGroup("dev"), prod: deployerGroup("prod") },
    });

    this.clusterName = cluster.name;
    this.clusterEndpoint = cluster.endpoint;
    this.clusterCertificateAuthorityData = cluster.certificateAuthorityData;
    this.repositoryUrl = registry.repositoryUrl;

    const outputs: Record<string, string | string[]> = {
      cluster_name: cluster.name,
      cluster_endpoint: cluster.endpoint,
      cluster_certificate_authority_data: cluster.certificateAuthorityData,
      ecr_repository_url: registry.repositoryUrl,
      ecr_repository_name: registry.repositoryName,
      plan_role_arn: ci.roleArns.plan,
      deploy_dev_role_arn: ci.roleArns["deploy-dev"],
      deploy_prod_role_arn: ci.roleArns["deploy-prod"],
      deploy_shared_role_arn: ci.roleArns["deploy-shared"],
      vpc_id: network.vpcId,
      private_subnet_ids: network.privateSubnetIds,
      public_subnet_ids: network.publicSubnetIds,
    };
    for (const [key, value] of Object.entries(outputs)) {
      new TerraformOutput(this, key, { value });
    }
  }
}
