import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { S3Backend, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import type { AwsTarget, SharedConfig } from "../config";
import { stateKey } from "../config/names";

/** Properties every AWS-facing stack takes. */
export interface PlatformStackProps {
  /** Shared settings: region, account guard, project name and state bucket. */
  readonly shared: SharedConfig;
  /** Where the AWS provider and the S3 backend send their calls. */
  readonly target: AwsTarget;
}

/** AWS services this repository's stacks call; a custom endpoint is set for each of them. */
const AWS_SERVICES = [
  "autoscaling",
  "cloudwatchlogs",
  "ec2",
  "ecr",
  "eks",
  "iam",
  "kms",
  "s3",
  "sts",
] as const;

/**
 * A stack with the AWS provider and, unless it is the bootstrap stack, the S3 backend: encrypted,
 * S3-native locking, its own key. Stacks differ only in their resources.
 */
export abstract class PlatformStack extends TerraformStack {
  protected readonly shared: SharedConfig;

  constructor(
    scope: Construct,
    id: string,
    props: PlatformStackProps & { readonly remoteState: boolean },
  ) {
    super(scope, id);
    this.shared = props.shared;
    const { shared, target } = props;
    const custom = target.kind === "endpoint" ? target : undefined;

    new AwsProvider(this, "aws", {
      region: shared.region,
      allowedAccountIds: shared.accountId ? [shared.accountId] : undefined,
      defaultTags: [
        {
          tags: {
            Project: shared.project,
            Workspace: id,
            ManagedBy: "cdktf",
            Repository: shared.githubRepository,
          },
        },
      ],
      ...(custom && {
        accessKey: custom.accessKeyId,
        secretKey: custom.secretAccessKey,
        s3UsePathStyle: true,
        skipCredentialsValidation: true,
        skipMetadataApiCheck: "true",
        skipRequestingAccountId: false,
        endpoints: [Object.fromEntries(AWS_SERVICES.map((s) => [s, custom.endpointUrl]))],
      }),
    });

    if (props.remoteState) {
      const backend = new S3Backend(this, {
        bucket: shared.stateBucket,
        key: stateKey(id),
        region: shared.region,
        encrypt: true,
        // Without a key the backend asks for SSE-S3 (AES256) on every write, which overrides the
        // bucket's default: name the state bucket's customer key (bootstrap's alias) explicitly.
        kmsKeyId: `alias/${shared.stateBucket}`,
        ...(custom && {
          accessKey: custom.accessKeyId,
          secretKey: custom.secretAccessKey,
          usePathStyle: true,
          skipCredentialsValidation: true,
          skipRequestingAccountId: true,
          skipMetadataApiCheck: true,
          endpoints: { s3: custom.endpointUrl, sts: custom.endpointUrl, iam: custom.endpointUrl },
        }),
      });
      // S3-native locking (terraform >= 1.10): a lock object beside the state, no DynamoDB table.
      backend.addOverride("use_lockfile", true);
    }
  }
}
