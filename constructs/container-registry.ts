import { EcrLifecyclePolicy } from "@cdktf/provider-aws/lib/ecr-lifecycle-policy";
import { EcrRepository } from "@cdktf/provider-aws/lib/ecr-repository";
import { Construct } from "constructs";

/** Properties for {@link ContainerRegistry}. */
export interface ContainerRegistryProps {
  /** Repository name, lower case, as ECR requires. */
  readonly name: string;
  /** KMS key ARN that encrypts the images. */
  readonly kmsKeyArn: string;
  /**
   * How many `sha-*` images to keep; older ones expire.
   * @default 50
   */
  readonly keepShaImages?: number;
}

/** The ECR lifecycle policy: keep every release, the last N commit builds, and nothing untagged. */
export function lifecyclePolicy(keepShaImages: number): object {
  return {
    rules: [
      {
        rulePriority: 1,
        description: "Expire untagged images (layers of superseded pushes) after a day",
        selection: {
          tagStatus: "untagged",
          countType: "sinceImagePushed",
          countUnit: "days",
          countNumber: 1,
        },
        action: { type: "expire" },
      },
      {
        // A rule that matches an image protects it from every lower-priority rule, so a promoted
        // image (tagged both sha-* and release-*) is kept by this rule and never expired.
        rulePriority: 2,
        description: "Keep every release-* image",
        selection: {
          tagStatus: "tagged",
          tagPrefixList: ["release-"],
          countType: "imageCountMoreThan",
          countNumber: 9999,
        },
        action: { type: "expire" },
      },
      {
        rulePriority: 3,
        description: `Keep the last ${keepShaImages} sha-* images`,
        selection: {
          tagStatus: "tagged",
          tagPrefixList: ["sha-"],
          countType: "imageCountMoreThan",
          countNumber: keepShaImages,
        },
        action: { type: "expire" },
      },
    ],
  };
}

/** One ECR repository for the API: immutable tags, scan on push, KMS encryption, lifecycle policy. */
export class ContainerRegistry extends Construct {
  /** Registry URL, for image references in other stacks. */
  public readonly repositoryUrl: string;
  public readonly repositoryArn: string;
  public readonly repositoryName: string;

  constructor(scope: Construct, id: string, props: ContainerRegistryProps) {
    super(scope, id);
    if (
      !/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/.test(props.name) ||
      props.name.length > 256
    ) {
      throw new Error(
        `ContainerRegistry: name must be lower-case letters, digits, ".", "_", "-" and "/" (ECR naming), got "${props.name}"`,
      );
    }
    const keep = props.keepShaImages ?? 50;
    const repository = new EcrRepository(this, "Repository", {
      name: props.name,
      imageTagMutability: "IMMUTABLE",
      imageScanningConfiguration: { scanOnPush: true },
      encryptionConfiguration: [{ encryptionType: "KMS", kmsKey: props.kmsKeyArn }],
      forceDelete: false,
    });
    new EcrLifecyclePolicy(this, "Lifecycle", {
      repository: repository.name,
      policy: JSON.stringify(lifecyclePolicy(keep)),
    });
    this.repositoryUrl = repository.repositoryUrl;
    this.repositoryArn = repository.arn;
    this.repositoryName = repository.name;
  }
}
