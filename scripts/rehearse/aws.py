"""AWS API calls the rehearsal makes against the emulator, with boto3 from the toolchain's venv.

Usage: aws.py --endpoint URL --region REGION COMMAND [ARGS]
  inventory                 every resource the stacks can create, as JSON lists of ids per kind
  state-object BUCKET KEY   the state object's versioning and encryption, as JSON
  empty-bucket BUCKET       delete every object version and delete marker (before destroying it)
  node-groups CLUSTER       the cluster's node groups as EKS describes them, with their subnets' zones
"""

import argparse
import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def clients(endpoint, region):
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=region
    )
    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2})
    return lambda name: session.client(name, endpoint_url=endpoint, config=config)


def paginate(client, op, key, **kwargs):
    if client.can_paginate(op):
        for page in client.get_paginator(op).paginate(**kwargs):
            yield from page.get(key, [])
    else:
        yield from getattr(client, op)(**kwargs).get(key, [])


def inventory(c):
    s3, kms, iam, ec2 = c("s3"), c("kms"), c("iam"), c("ec2")
    eks, ecr, logs, asg = c("eks"), c("ecr"), c("logs"), c("autoscaling")
    keys = []
    for k in paginate(kms, "list_keys", "Keys"):
        meta = kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]
        # A deleted KMS key waits out its deletion window, as on AWS: it no longer counts.
        if meta["KeyState"] != "PendingDeletion":
            keys.append(k["KeyId"])
    clusters = list(paginate(eks, "list_clusters", "clusters"))
    nodegroups = [
        f"{cl}/{ng}" for cl in clusters for ng in paginate(eks, "list_nodegroups", "nodegroups", clusterName=cl)
    ]
    nat = [
        n["NatGatewayId"]
        for n in paginate(ec2, "describe_nat_gateways", "NatGateways")
        if n["State"] not in ("deleted", "deleting")
    ]
    found = {
        "s3 bucket": [b["Name"] for b in s3.list_buckets().get("Buckets", [])],
        "kms key": keys,
        "kms alias": [
            a["AliasName"]
            for a in paginate(kms, "list_aliases", "Aliases")
            if not a["AliasName"].startswith("alias/aws/")
        ],
        "iam role": [r["RoleName"] for r in paginate(iam, "list_roles", "Roles")],
        "iam policy": [p["Arn"] for p in paginate(iam, "list_policies", "Policies", Scope="Local")],
        "iam oidc provider": [
            p["Arn"] for p in iam.list_open_id_connect_providers().get("OpenIDConnectProviderList", [])
        ],
        "ec2 vpc": [v["VpcId"] for v in paginate(ec2, "describe_vpcs", "Vpcs")],
        "ec2 subnet": [s["SubnetId"] for s in paginate(ec2, "describe_subnets", "Subnets")],
        "ec2 internet gateway": [
            g["InternetGatewayId"] for g in paginate(ec2, "describe_internet_gateways", "InternetGateways")
        ],
        "ec2 nat gateway": nat,
        "ec2 elastic ip": [a["AllocationId"] for a in ec2.describe_addresses().get("Addresses", [])],
        "ec2 route table": [r["RouteTableId"] for r in paginate(ec2, "describe_route_tables", "RouteTables")],
        "ec2 security group": [g["GroupId"] for g in paginate(ec2, "describe_security_groups", "SecurityGroups")],
        "ec2 launch template": [
            t["LaunchTemplateName"] for t in paginate(ec2, "describe_launch_templates", "LaunchTemplates")
        ],
        "ec2 flow log": [f["FlowLogId"] for f in paginate(ec2, "describe_flow_logs", "FlowLogs")],
        "eks cluster": clusters,
        "eks node group": nodegroups,
        "ecr repository": [r["repositoryName"] for r in paginate(ecr, "describe_repositories", "repositories")],
        "logs log group": [g["logGroupName"] for g in paginate(logs, "describe_log_groups", "logGroups")],
        "autoscaling group": [
            g["AutoScalingGroupName"] for g in paginate(asg, "describe_auto_scaling_groups", "AutoScalingGroups")
        ],
        "autoscaling scheduled action": [
            f'{a["AutoScalingGroupName"]}/{a["ScheduledActionName"]}'
            for a in paginate(asg, "describe_scheduled_actions", "ScheduledUpdateGroupActions")
        ],
    }
    return {kind: sorted(ids) for kind, ids in found.items()}


def state_object(c, bucket, key):
    s3 = c("s3")
    versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        return {"exists": False, "versioning": versioning, "error": str(error)}
    versions = [
        v["VersionId"]
        for v in s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
        if v["Key"] == key
    ]
    lock = True
    try:
        s3.head_object(Bucket=bucket, Key=key + ".tflock")
    except ClientError:
        lock = False
    # The object names its key as it was asked for (id, ARN or alias); resolve it to the key's ARN.
    kms_key_arn = None
    if head.get("SSEKMSKeyId"):
        kms_key_arn = c("kms").describe_key(KeyId=head["SSEKMSKeyId"])["KeyMetadata"]["Arn"]
    return {
        "exists": True,
        "kmsKeyArn": kms_key_arn,
        "versioning": versioning,
        "versionId": head.get("VersionId"),
        "versions": len(versions),
        "etag": head.get("ETag"),
        "serverSideEncryption": head.get("ServerSideEncryption"),
        "kmsKeyId": head.get("SSEKMSKeyId"),
        "lockObject": lock,
    }


def empty_bucket(c, bucket):
    s3 = c("s3")
    deleted = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])
            deleted += 1
    return {"deleted": deleted}


def root_volume_gib(ec2, ng):
    """Size of a node's root volume: the launch template's first EBS mapping, else diskSize."""
    template = ng.get("launchTemplate")
    if template and template.get("id"):
        version = template.get("version") or "$Default"
        data = ec2.describe_launch_template_versions(
            LaunchTemplateId=template["id"], Versions=[version]
        )["LaunchTemplateVersions"][0]["LaunchTemplateData"]
        for mapping in data.get("BlockDeviceMappings", []):
            size = mapping.get("Ebs", {}).get("VolumeSize")
            if size:
                return int(size)
    return int(ng.get("diskSize") or 20)


def node_groups(c, cluster):
    eks, ec2 = c("eks"), c("ec2")
    groups = []
    for name in paginate(eks, "list_nodegroups", "nodegroups", clusterName=cluster):
        ng = eks.describe_nodegroup(clusterName=cluster, nodegroupName=name)["nodegroup"]
        subnets = ng.get("subnets", [])
        zones = sorted(
            {s["AvailabilityZone"] for s in ec2.describe_subnets(SubnetIds=subnets)["Subnets"]}
        ) if subnets else []
        groups.append(
            {
                "name": ng["nodegroupName"],
                "diskSizeGiB": root_volume_gib(ec2, ng),
                "labels": ng.get("labels", {}),
                "taints": ng.get("taints", []),
                "desiredSize": ng.get("scalingConfig", {}).get("desiredSize", 0),
                "instanceTypes": ng.get("instanceTypes", []),
                "capacityType": ng.get("capacityType", "ON_DEMAND"),
                "zones": zones,
            }
        )
    return sorted(groups, key=lambda g: g["name"])


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("command", choices=["inventory", "state-object", "empty-bucket", "node-groups"])
    parser.add_argument("args", nargs="*")
    ns = parser.parse_args(argv)
    c = clients(ns.endpoint, ns.region)
    if ns.command == "inventory":
        result = inventory(c)
    elif ns.command == "state-object":
        result = state_object(c, *ns.args)
    elif ns.command == "node-groups":
        result = node_groups(c, *ns.args)
    else:
        result = empty_bucket(c, *ns.args)
    json.dump(result, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
