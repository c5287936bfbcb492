import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { DataAwsIamPolicyDocument } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { EksAccessEntry } from "@cdktf/provider-aws/lib/eks-access-entry";
import { EksAccessPolicyAssociation } from "@cdktf/provider-aws/lib/eks-access-policy-association";
import { EksCluster } from "@cdktf/provider-aws/lib/eks-cluster";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { Construct } from "constructs";

/** Control-plane log types; all of them are enabled (CIS 2.1.1). */
export const CONTROL_PLANE_LOG_TYPES = [
  "api",
  "audit",
  "authenticator",
  "controllerManager",
  "scheduler",
];

/** ARN of an EKS access policy. */
export function accessPolicyArn(name: string): string {
  return `arn:aws:eks::aws:cluster-access-policy/${name}`;
}

/** Properties for {@link EksControlPlane}. */
export interface EksControlPlaneProps {
  readonly name: string;
  /** Kubernetes minor version, e.g. `1.33`. */
  readonly kubernetesVersion: string;
  /** Subnets for the control plane's network interfaces; at least two zones. */
  readonly subnetIds: string[];
  /** CIDRs allowed to reach the public endpoint; empty turns the public endpoint off. */
  readonly publicEndpointCidrs: readonly string[];
  /** Kubernetes Service address range. */
  readonly serviceIpv4Cidr: string;
  /** KMS key ARN for envelope encryption of Secrets. */
  readonly secretsKmsKeyArn: string;
  /** KMS key ARN for the control-plane log group. */
  readonly logKmsKeyArn: string;
  readonly logRetentionDays: number;
  /** IAM role ARNs made cluster administrators through access entries. */
  readonly adminRoleArns: readonly string[];
}

/**
 * An EKS control plane: private endpoint, public endpoint only for the configured CIDRs, every log
 * type, Secrets encrypted with KMS, and access entries instead of the aws-auth ConfigMap with no
 * implicit admin for whoever created the cluster.
 */
export class EksControlPlane extends Construct {
  public readonly cluster: EksCluster;
  public readonly name: string;
  public readonly endpoint: string;
  public readonly certificateAuthorityData: string;

  constructor(scope: Construct, id: string, props: EksControlPlaneProps) {
    super(scope, id);
    if (props.subnetIds.length < 2) {
      throw new Error(
        `EksControlPlane: subnetIds must span at least two availability zones, got ${props.subnetIds.length} subnet(s)`,
      );
    }
    if (props.publicEndpointCidrs.some((c) => c.endsWith("/0"))) {
      throw new Error(
        `EksControlPlane: publicEndpointCidrs must not open the endpoint to the internet, got ${props.publicEndpointCidrs.join(", ")}`,
      );
    }

    const assume = new DataAwsIamPolicyDocument(this, "Assume", {
      statement: [
        {
          actions: ["sts:AssumeRole", "sts:TagSession"],
          principals: [{ type: "Service", identifiers: ["eks.amazonaws.com"] }],
        },
      ],
    });
    const role = new IamRole(this, "Role", {
      name: `${props.name}-cluster`,
      assumeRolePolicy: assume.json,
    });
    new IamRolePolicyAttachment(this, "ClusterPolicy", {
      role: role.name,
      policyArn: "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
    });

    // Created before the cluster so that retention and encryption apply from the first log line.
    const logGroup = new CloudwatchLogGroup(this, "LogGroup", {
      name: `/aws/eks/${props.name}/cluster`,
      retentionInDays: props.logRetentionDays,
      kmsKeyId: props.logKmsKeyArn,
    });

    const publicAccess = props.publicEndpointCidrs.length > 0;
    this.cluster = new EksCluster(this, "Cluster", {
      name: props.name,
      version: props.kubernetesVersion,
      roleArn: role.arn,
      enabledClusterLogTypes: CONTROL_PLANE_LOG_TYPES,
      vpcConfig: {
        subnetIds: props.subnetIds,
        endpointPrivateAccess: true,
        endpointPublicAccess: publicAccess,
        publicAccessCidrs: publicAccess ? [...props.publicEndpointCidrs] : undefined,
      },
      kubernetesNetworkConfig: { serviceIpv4Cidr: props.serviceIpv4Cidr, ipFamily: "ipv4" },
      encryptionConfig: { resources: ["secrets"], provider: { keyArn: props.secretsKmsKeyArn } },
      accessConfig: {
        authenticationMode: "API",
        bootstrapClusterCreatorAdminPermissions: false,
      },
      upgradePolicy: { supportType: "STANDARD" },
      dependsOn: [logGroup],
    });

    props.adminRoleArns.forEach((arn, i) => {
      const entry = new EksAccessEntry(this, `Admin${i}`, {
        clusterName: this.cluster.name,
        principalArn: arn,
        type: "STANDARD",
      });
      new EksAccessPolicyAssociation(this, `Admin${i}Policy`, {
        clusterName: this.cluster.name,
        principalArn: entry.principalArn,
        policyArn: accessPolicyArn("AmazonEKSClusterAdminPolicy"),
        accessScope: { type: "cluster" },
      });
    });

    this.name = this.cluster.name;
    this.endpoint = this.cluster.endpoint;
    this.certificateAuthorityData = this.cluster.certificateAuthority.get(0).data;
  }
}
