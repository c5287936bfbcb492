import {
  DataAwsIamPolicyDocument,
  type DataAwsIamPolicyDocumentStatement,
} from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { EksAccessEntry } from "@cdktf/provider-aws/lib/eks-access-entry";
import { EksAccessPolicyAssociation } from "@cdktf/provider-aws/lib/eks-access-policy-association";
import { IamOpenidConnectProvider } from "@cdktf/provider-aws/lib/iam-openid-connect-provider";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { Construct } from "constructs";
import type { EnvironmentName } from "../config/types";
import { accessPolicyArn } from "./eks-cluster";

/** GitHub's OIDC issuer for Actions. */
export const GITHUB_OIDC_HOST = "token.actions.githubusercontent.com";

/** The job kinds that get a role; each trusts exactly one kind of workflow run. */
export type CiRoleKind = "plan" | "deploy-dev" | "deploy-prod" | "deploy-shared";

/** The OIDC subjects a role trusts: exact strings, never wildcards. */
export function trustedSubjects(repository: string, kind: CiRoleKind): string[] {
  const repo = `repo:${repository}`;
  switch (kind) {
    case "plan":
      // Pull requests, and read-only plans on main (nightly drift, the plan before a shared
      // deploy), which run in the `plan` environment restricted to the main branch.
      return [`${repo}:pull_request`, `${repo}:environment:plan`];
    case "deploy-dev":
      return [`${repo}:environment:dev`];
    case "deploy-prod":
      return [`${repo}:environment:prod`];
    case "deploy-shared":
      return [`${repo}:environment:shared`];
  }
}

/** Properties for {@link GithubCiRoles}. */
export interface GithubCiRolesProps {
  /** Name prefix of the roles. */
  readonly name: string;
  /** `owner/name` of the repository whose workflows may assume the roles. */
  readonly repository: string;
  readonly stateBucketArn: string;
  /** KMS key that encrypts the state objects. */
  readonly stateKmsKeyArn: string;
  /** State keys of the workspaces, by workspace name. */
  readonly stateKeys: Readonly<Record<"shared" | EnvironmentName, string>>;
  readonly clusterName: string;
  readonly clusterArn: string;
  readonly registryArn: string;
  /** Namespaces a deploy role may change, by environment (a trailing `*` matches a prefix). */
  readonly namespaces: Readonly<Record<EnvironmentName, string[]>>;
  /**
   * Kubernetes group of each deploy role's access entry, for the RBAC its environment binds (the
   * namespace object, ResourceQuota and LimitRange are beyond a namespace-scoped access policy).
   */
  readonly kubernetesGroups: Readonly<Record<EnvironmentName, string>>;
}

/**
 * The GitHub OIDC provider and one IAM role per CI job kind. Deploy roles reach only their own state
 * key and lock, and in the cluster only their own namespaces; only `deploy-shared` administers the
 * account, because it creates the network, the cluster and these roles.
 */
export class GithubCiRoles extends Construct {
  public readonly roleArns: Record<CiRoleKind, string>;

  constructor(scope: Construct, id: string, props: GithubCiRolesProps) {
    super(scope, id);
    if (!/^[A-Za-z0-9-]+\/[A-Za-z0-9._-]+$/.test(props.repository)) {
      throw new Error(
        `GithubCiRoles: repository must be owner/name without wildcards, got "${props.repository}"`,
      );
    }
    const provider = new IamOpenidConnectProvider(this, "Provider", {
      url: `https://${GITHUB_OIDC_HOST}`,
      clientIdList: ["sts.amazonaws.com"],
    });

    const role = (kind: CiRoleKind, statements: DataAwsIamPolicyDocumentStatement[]): IamRole => {
      const id = kind.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase());
      const trust = new DataAwsIamPolicyDocument(this, `${id}Trust`, {
        statement: [
          {
            actions: ["sts:AssumeRoleWithWebIdentity"],
            principals: [{ type: "Federated", identifiers: [provider.arn] }],
            condition: [
              {
                test: "StringEquals",
                variable: `${GITHUB_OIDC_HOST}:aud`,
                values: ["sts.amazonaws.com"],
              },
              {
                test: "StringEquals",
                variable: `${GITHUB_OIDC_HOST}:sub`,
                values: trustedSubjects(props.repository, kind),
              },
            ],
          },
        ],
      });
      const r = new IamRole(this, id, {
        name: `${props.name}-${kind}`,
        assumeRolePolicy: trust.json,
        // A shared deploy (cluster, node groups) can outlast an hour; every other job cannot.
        maxSessionDuration: kind === "deploy-shared" ? 7200 : 3600,
      });
      if (statements.length > 0) {
        const policy = new DataAwsIamPolicyDocument(this, `${id}Permissions`, {
          statement: statements,
        });
        new IamRolePolicy(this, `${id}Policy`, { role: r.id, name: kind, policy: policy.json });
      }
      return r;
    };

    const stateObjects = (keys: string[], write: boolean): DataAwsIamPolicyDocumentStatement[] => [
      {
        sid: "ListState",
        actions: ["s3:ListBucket"],
        resources: [props.stateBucketArn],
      },
      {
        sid: "ReadState",
        actions: ["s3:GetObject"],
        resources: keys.map((k) => `${props.stateBucketArn}/${k}`),
      },
      // Plans run with -lock=false and only read; a deploy takes the lock and writes the state.
      ...(write
        ? [
            {
              sid: "WriteStateAndLock",
              actions: ["s3:PutObject", "s3:DeleteObject"],
              resources: keys.map((k) => `${props.stateBucketArn}/${k}`),
            },
          ]
        : []),
      {
        sid: "StateKey",
        actions: write ? ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"] : ["kms:Decrypt"],
        resources: [props.stateKmsKeyArn],
      },
    ];
    const describeCluster: DataAwsIamPolicyDocumentStatement = {
      sid: "DescribeCluster",
      actions: ["eks:DescribeCluster"],
      resources: [props.clusterArn],
    };
    const registryLogin: DataAwsIamPolicyDocumentStatement = {
      sid: "RegistryLogin",
      actions: ["ecr:GetAuthorizationToken"],
      // GetAuthorizationToken has no resource-level permissions.
      resources: ["*"],
    };
    const envStatements = (env: EnvironmentName) => [
      ...stateObjects([props.stateKeys[env], `${props.stateKeys[env]}.tflock`], true),
      {
        sid: "ReadSharedOutputs",
        actions: ["s3:GetObject"],
        resources: [`${props.stateBucketArn}/${props.stateKeys.shared}`],
      },
      describeCluster,
      registryLogin,
    ];

    const plan = role("plan", stateObjects(Object.values(props.stateKeys), false));
    new IamRolePolicyAttachment(this, "PlanReadOnly", {
      role: plan.name,
      policyArn: "arn:aws:iam::aws:policy/ReadOnlyAccess",
    });

    const deployDev = role("deploy-dev", [
      ...envStatements("dev"),
      {
        sid: "PushImages",
        actions: [
          "ecr:BatchCheckLayerAvailability",
          "ecr:BatchGetImage",
          "ecr:CompleteLayerUpload",
          "ecr:DescribeImages",
          "ecr:GetDownloadUrlForLayer",
          "ecr:InitiateLayerUpload",
          "ecr:PutImage",
          "ecr:UploadLayerPart",
        ],
        resources: [props.registryArn],
      },
    ]);

    const deployProd = role("deploy-prod", [
      ...envStatements("prod"),
      {
        // PutImage of an existing manifest adds a tag; without the layer-upload actions this role
        // cannot push new content, only promote what deploy-dev built.
        sid: "PromoteImages",
        actions: ["ecr:BatchGetImage", "ecr:DescribeImages", "ecr:PutImage"],
        resources: [props.registryArn],
      },
    ]);

    const deployShared = role("deploy-shared", []);
    new IamRolePolicyAttachment(this, "DeploySharedAdministrator", {
      role: deployShared.name,
      // The documented exception: this role creates the VPC, the cluster and the IAM roles above.
      policyArn: "arn:aws:iam::aws:policy/AdministratorAccess",
    });

    // In the cluster: plan reads everything; each deploy role administers only its namespaces.
    const access = (
      entryId: string,
      principal: IamRole,
      policy: string,
      namespaces: string[] | undefined,
      kubernetesGroup?: string,
    ) => {
      const entry = new EksAccessEntry(this, `${entryId}Access`, {
        clusterName: props.clusterName,
        principalArn: principal.arn,
        type: "STANDARD",
        kubernetesGroups: kubernetesGroup ? [kubernetesGroup] : undefined,
      });
      new EksAccessPolicyAssociation(this, `${entryId}AccessPolicy`, {
        clusterName: props.clusterName,
        principalArn: entry.principalArn,
        policyArn: accessPolicyArn(policy),
        accessScope: namespaces ? { type: "namespace", namespaces } : { type: "cluster" },
      });
    };
    access("Plan", plan, "AmazonEKSAdminViewPolicy", undefined);
    access(
      "DeployDev",
      deployDev,
      "AmazonEKSAdminPolicy",
      props.namespaces.dev,
      props.kubernetesGroups.dev,
    );
    access(
      "DeployProd",
      deployProd,
      "AmazonEKSAdminPolicy",
      props.namespaces.prod,
      props.kubernetesGroups.prod,
    );

    this.roleArns = {
      plan: plan.arn,
      "deploy-dev": deployDev.arn,
      "deploy-prod": deployProd.arn,
      "deploy-shared": deployShared.arn,
    };
  }
}
