import { AutoscalingSchedule } from "@cdktf/provider-aws/lib/autoscaling-schedule";
import { EksNodeGroup } from "@cdktf/provider-aws/lib/eks-node-group";
import { LaunchTemplate } from "@cdktf/provider-aws/lib/launch-template";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { isArmInstanceType } from "../config/rules";
import type { NodeGroupConfig, OffHoursScheduleConfig } from "../config/types";

/** Properties for {@link ManagedNodeGroup}. */
export interface ManagedNodeGroupProps {
  readonly clusterName: string;
  /** Group name, unique in the cluster. */
  readonly name: string;
  /** IAM role ARN the nodes run as. */
  readonly nodeRoleArn: string;
  /** Private subnets only: nodes never get public addresses. */
  readonly subnetIds: string[];
  readonly sizing: NodeGroupConfig;
  /** Kubernetes labels on every node of the group. */
  readonly labels: Record<string, string>;
  /** Scale to zero outside working hours. */
  readonly offHours?: OffHoursScheduleConfig;
  /** Resources the group waits for (add-ons it needs, the node role's policies). */
  readonly dependsOn?: ITerraformDependable[];
}

/**
 * An EKS managed node group on a launch template that requires IMDSv2 with a hop limit of 1 (pods
 * cannot reach the node's credentials) and an encrypted gp3 root volume, rolled one third at a time.
 */
export class ManagedNodeGroup extends Construct {
  public readonly nodeGroup: EksNodeGroup;

  constructor(scope: Construct, id: string, props: ManagedNodeGroupProps) {
    super(scope, id);
    const { sizing } = props;
    const arm = sizing.instanceTypes.map(isArmInstanceType);
    if (arm.some((a) => a !== arm[0])) {
      throw new Error(
        `ManagedNodeGroup ${props.name}: instanceTypes must share one CPU architecture, got ${sizing.instanceTypes.join(", ")}`,
      );
    }

    const template = new LaunchTemplate(this, "LaunchTemplate", {
      namePrefix: `${props.clusterName}-${props.name}-`,
      updateDefaultVersion: true,
      metadataOptions: {
        httpEndpoint: "enabled",
        httpTokens: "required",
        httpPutResponseHopLimit: 1,
        instanceMetadataTags: "disabled",
      },
      blockDeviceMappings: [
        {
          deviceName: "/dev/xvda",
          ebs: {
            volumeSize: sizing.diskSizeGiB,
            volumeType: "gp3",
            encrypted: "true",
            deleteOnTermination: "true",
          },
        },
      ],
      tagSpecifications: [
        {
          resourceType: "instance",
          tags: { Name: `${props.clusterName}-${props.name}` },
        },
      ],
    });

    this.nodeGroup = new EksNodeGroup(this, "NodeGroup", {
      clusterName: props.clusterName,
      nodeGroupName: props.name,
      nodeRoleArn: props.nodeRoleArn,
      subnetIds: props.subnetIds,
      amiType: arm[0] ? "AL2023_ARM_64_STANDARD" : "AL2023_x86_64_STANDARD",
      capacityType: sizing.capacityType,
      instanceTypes: [...sizing.instanceTypes],
      scalingConfig: {
        minSize: sizing.minSize,
        maxSize: sizing.maxSize,
        desiredSize: sizing.desiredSize,
      },
      updateConfig: { maxUnavailablePercentage: 33 },
      labels: props.labels,
      launchTemplate: { id: template.id, version: template.latestVersion.toString() },
      // The cluster autoscaler and the off-hours schedule change the desired size; keep their value.
      lifecycle: { ignoreChanges: ["scaling_config[0].desired_size"] },
      dependsOn: props.dependsOn,
    });

    if (props.offHours?.enabled) {
      const asg = this.nodeGroup.resources.get(0).autoscalingGroups.get(0).name;
      new AutoscalingSchedule(this, "ScaleDown", {
        scheduledActionName: `${props.name}-off-hours-down`,
        autoscalingGroupName: asg,
        recurrence: props.offHours.scaleDownCron,
        timeZone: props.offHours.timeZone,
        minSize: 0,
        maxSize: sizing.maxSize,
        desiredCapacity: 0,
      });
      new AutoscalingSchedule(this, "ScaleUp", {
        scheduledActionName: `${props.name}-off-hours-up`,
        autoscalingGroupName: asg,
        recurrence: props.offHours.scaleUpCron,
        timeZone: props.offHours.timeZone,
        minSize: sizing.minSize,
        maxSize: sizing.maxSize,
        desiredCapacity: sizing.desiredSize,
      });
    }
  }
}
