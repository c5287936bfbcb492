import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { DataAwsAvailabilityZones } from "@cdktf/provider-aws/lib/data-aws-availability-zones";
import { DataAwsIamPolicyDocument } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { DefaultSecurityGroup } from "@cdktf/provider-aws/lib/default-security-group";
import { Eip } from "@cdktf/provider-aws/lib/eip";
import { FlowLog } from "@cdktf/provider-aws/lib/flow-log";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { InternetGateway } from "@cdktf/provider-aws/lib/internet-gateway";
import { NatGateway } from "@cdktf/provider-aws/lib/nat-gateway";
import { Route } from "@cdktf/provider-aws/lib/route";
import { RouteTable } from "@cdktf/provider-aws/lib/route-table";
import { RouteTableAssociation } from "@cdktf/provider-aws/lib/route-table-association";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import { Fn } from "cdktf";
import { Construct } from "constructs";
import { formatCidr, parseCidr } from "../config/rules";

/** Properties for {@link Network}. */
export interface NetworkProps {
  /** Name prefix for tags. */
  readonly name: string;
  /** VPC CIDR, /16 to /20. */
  readonly cidr: string;
  /** Availability zones to span, 2 to 6. */
  readonly azCount: number;
  /**
   * Zone names to use, `azCount` of them; pins the set so a zone AWS adds later never moves a subnet.
   * @default the first `azCount` zones without opt-in, in name order
   */
  readonly zoneNames?: readonly string[];
  /** One NAT gateway for all zones (`single`) or one per zone (`per-az`). */
  readonly natMode: "single" | "per-az";
  /** EKS cluster name, for the subnet tags its load balancers look for. */
  readonly clusterName: string;
  /** Flow log retention in days. */
  readonly flowLogRetentionDays: number;
  /** KMS key ARN that encrypts the flow log group. */
  readonly logKmsKeyArn: string;
}

/** Subnet CIDRs for a VPC: private subnets take the first eighths, public ones share the last eighth. */
export function subnetLayout(
  vpcCidr: string,
  azCount: number,
): { private: string[]; public: string[] } {
  const vpc = parseCidr(vpcCidr);
  if (!vpc || azCount < 2 || azCount > 6) {
    throw new Error(
      `Network: cidr must be an IPv4 network and azCount 2-6, got "${vpcCidr}" and ${azCount}`,
    );
  }
  const eighth = 2 ** (32 - vpc.prefix - 3);
  const sixtyFourth = eighth / 8;
  const range = Array.from({ length: azCount }, (_, i) => i);
  return {
    private: range.map((i) => formatCidr(vpc.network + i * eighth, vpc.prefix + 3)),
    public: range.map((i) =>
      formatCidr(vpc.network + 7 * eighth + i * sixtyFourth, vpc.prefix + 6),
    ),
  };
}

/**
 * A VPC across several zones: public subnets for load balancers, private subnets for nodes, NAT for
 * egress, VPC flow logs to CloudWatch, and a default security group with no rules.
 */
export class Network extends Construct {
  public readonly vpcId: string;
  public readonly privateSubnetIds: string[];
  public readonly publicSubnetIds: string[];

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const layout = subnetLayout(props.cidr, props.azCount);
    if (props.zoneNames && props.zoneNames.length !== props.azCount) {
      throw new Error(
        `Network: zoneNames must name azCount (${props.azCount}) zones, got ${props.zoneNames.join(", ")}`,
      );
    }
    const zones = new DataAwsAvailabilityZones(this, "Zones", {
      state: "available",
      filter: [
        { name: "opt-in-status", values: ["opt-in-not-required"] },
        ...(props.zoneNames ? [{ name: "zone-name", values: [...props.zoneNames] }] : []),
      ],
    });
    const zone = (i: number) => Fn.element(zones.names, i);

    const vpc = new Vpc(this, "Vpc", {
      cidrBlock: props.cidr,
      enableDnsHostnames: true,
      enableDnsSupport: true,
      tags: { Name: props.name },
    });
    // Nothing may use the default security group: it keeps no rules at all.
    new DefaultSecurityGroup(this, "DefaultSecurityGroup", { vpcId: vpc.id });

    const igw = new InternetGateway(this, "InternetGateway", {
      vpcId: vpc.id,
      tags: { Name: props.name },
    });
    const publicRoutes = new RouteTable(this, "PublicRoutes", {
      vpcId: vpc.id,
      tags: { Name: `${props.name}-public` },
    });
    new Route(this, "PublicDefaultRoute", {
      routeTableId: publicRoutes.id,
      destinationCidrBlock: "0.0.0.0/0",
      gatewayId: igw.id,
    });

    const clusterTag = `kubernetes.io/cluster/${props.clusterName}`;
    const publicSubnets = layout.public.map((cidr, i) => {
      const subnet = new Subnet(this, `Public${i}`, {
        vpcId: vpc.id,
        cidrBlock: cidr,
        availabilityZone: zone(i),
        mapPublicIpOnLaunch: false,
        tags: {
          Name: `${props.name}-public-${i}`,
          "kubernetes.io/role/elb": "1",
          [clusterTag]: "shared",
        },
      });
      new RouteTableAssociation(this, `Public${i}Routes`, {
        subnetId: subnet.id,
        routeTableId: publicRoutes.id,
      });
      return subnet;
    });

    const natCount = props.natMode === "per-az" ? props.azCount : 1;
    const nats = Array.from({ length: natCount }, (_, i) => {
      const eip = new Eip(this, `NatAddress${i}`, {
        domain: "vpc",
        tags: { Name: `${props.name}-nat-${i}` },
      });
      return new NatGateway(this, `Nat${i}`, {
        allocationId: eip.id,
        subnetId: publicSubnets[i].id,
        tags: { Name: `${props.name}-nat-${i}` },
        dependsOn: [igw],
      });
    });

    const privateSubnets = layout.private.map((cidr, i) => {
      const subnet = new Subnet(this, `Private${i}`, {
        vpcId: vpc.id,
        cidrBlock: cidr,
        availabilityZone: zone(i),
        tags: {
          Name: `${props.name}-private-${i}`,
          "kubernetes.io/role/internal-elb": "1",
          [clusterTag]: "shared",
        },
      });
      const routes = new RouteTable(this, `Private${i}RouteTable`, {
        vpcId: vpc.id,
        tags: { Name: `${props.name}-private-${i}` },
      });
      new Route(this, `Private${i}DefaultRoute`, {
        routeTableId: routes.id,
        destinationCidrBlock: "0.0.0.0/0",
        natGatewayId: nats[props.natMode === "per-az" ? i : 0].id,
      });
      new RouteTableAssociation(this, `Private${i}Routes`, {
        subnetId: subnet.id,
        routeTableId: routes.id,
      });
      return subnet;
    });

    // Flow logs: every accepted and rejected flow, to an encrypted log group with retention.
    const flowLogGroup = new CloudwatchLogGroup(this, "FlowLogGroup", {
      name: `/aws/vpc/${props.name}/flow-logs`,
      retentionInDays: props.flowLogRetentionDays,
      kmsKeyId: props.logKmsKeyArn,
    });
    const assume = new DataAwsIamPolicyDocument(this, "FlowLogAssume", {
      statement: [
        {
          actions: ["sts:AssumeRole"],
          principals: [{ type: "Service", identifiers: ["vpc-flow-logs.amazonaws.com"] }],
        },
      ],
    });
    const role = new IamRole(this, "FlowLogRole", {
      name: `${props.name}-flow-logs`,
      assumeRolePolicy: assume.json,
    });
    const write = new DataAwsIamPolicyDocument(this, "FlowLogWrite", {
      statement: [
        {
          actions: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
          resources: [`${flowLogGroup.arn}:*`],
        },
      ],
    });
    new IamRolePolicy(this, "FlowLogPolicy", { role: role.id, policy: write.json });
    new FlowLog(this, "FlowLog", {
      vpcId: vpc.id,
      trafficType: "ALL",
      logDestinationType: "cloud-watch-logs",
      logDestination: flowLogGroup.arn,
      iamRoleArn: role.arn,
      maxAggregationInterval: 60,
    });

    this.vpcId = vpc.id;
    this.privateSubnetIds = privateSubnets.map((s) => s.id);
    this.publicSubnetIds = publicSubnets.map((s) => s.id);
  }
}
