import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { DataAwsIamPolicyDocument } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { DataAwsRegion } from "@cdktf/provider-aws/lib/data-aws-region";
import { KmsAlias } from "@cdktf/provider-aws/lib/kms-alias";
import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import { Construct } from "constructs";

/** Properties for {@link EncryptionKey}. */
export interface EncryptionKeyProps {
  /** Alias without the `alias/` prefix. */
  readonly alias: string;
  /** What the key protects, shown in the console. */
  readonly description: string;
  /**
   * Let CloudWatch Logs in this region use the key for log groups of this account.
   * @default false
   */
  readonly allowCloudWatchLogs?: boolean;
}

/**
 * A customer-managed KMS key with rotation on and an explicit key policy: the account administers it
 * through IAM, and optionally CloudWatch Logs may use it for this account's log groups.
 */
export class EncryptionKey extends Construct {
  /** Key ARN. */
  public readonly arn: string;
  /** Key id. */
  public readonly keyId: string;

  constructor(scope: Construct, id: string, props: EncryptionKeyProps) {
    super(scope, id);
    if (!/^[a-zA-Z0-9/_-]{1,250}$/.test(props.alias) || props.alias.startsWith("aws/")) {
      throw new Error(
        `EncryptionKey: alias must be 1-250 letters, digits, "/", "_" or "-" and not start with "aws/", got "${props.alias}"`,
      );
    }
    const account = new DataAwsCallerIdentity(this, "Account");
    const partition = new DataAwsPartition(this, "Partition");
    const region = new DataAwsRegion(this, "Region");

    const policy = new DataAwsIamPolicyDocument(this, "Policy", {
      statement: [
        {
          sid: "AccountAdministersKey",
          actions: ["kms:*"],
          resources: ["*"],
          principals: [
            {
              type: "AWS",
              identifiers: [`arn:${partition.partition}:iam::${account.accountId}:root`],
            },
          ],
        },
        ...(props.allowCloudWatchLogs
          ? [
              {
                sid: "CloudWatchLogsUsesKey",
                actions: [
                  "kms:Encrypt*",
                  "kms:Decrypt*",
                  "kms:ReEncrypt*",
                  "kms:GenerateDataKey*",
                  "kms:Describe*",
                ],
                resources: ["*"],
                principals: [
                  { type: "Service", identifiers: [`logs.${region.name}.amazonaws.com`] },
                ],
                condition: [
                  {
                    test: "ArnLike",
                    variable: "kms:EncryptionContext:aws:logs:arn",
                    values: [
                      `arn:${partition.partition}:logs:${region.name}:${account.accountId}:log-group:*`,
                    ],
                  },
                ],
              },
            ]
          : []),
      ],
    });
    const key = new KmsKey(this, "Key", {
      description: props.description,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      policy: policy.json,
    });
    new KmsAlias(this, "Alias", { name: `alias/${props.alias}`, targetKeyId: key.keyId });
    this.arn = key.arn;
    this.keyId = key.keyId;
  }
}
