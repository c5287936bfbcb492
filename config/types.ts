/**
 * The typed shape of the platform's configuration. `config/settings.ts` holds the committed values;
 * `config/load.ts` applies environment overrides and validation. Only `config/` reads the environment.
 */

/** The application environments; every per-environment block is keyed by one of these. */
export const ENVIRONMENTS = ["dev", "prod"] as const;
/** An application environment. */
export type EnvironmentName = (typeof ENVIRONMENTS)[number];

/** Kubernetes minor versions EKS supports in standard support that this repository is tested with. */
export const SUPPORTED_KUBERNETES_VERSIONS = ["1.31", "1.32", "1.33", "1.34", "1.35"] as const;

/** A managed node group's size and machines. */
export interface NodeGroupConfig {
  /** EC2 instance types, for example `m7i.large`; several give Spot more pools to draw from. */
  readonly instanceTypes: readonly string[];
  /** `ON_DEMAND` or `SPOT`. */
  readonly capacityType: "ON_DEMAND" | "SPOT";
  /** Smallest number of nodes. */
  readonly minSize: number;
  /** Largest number of nodes. */
  readonly maxSize: number;
  /** Nodes at creation; later changes by the autoscaler or the off-hours schedule are kept. */
  readonly desiredSize: number;
  /** Root volume size in GiB (gp3, encrypted). */
  readonly diskSizeGiB: number;
}

/** Scale a node group to zero outside working hours. */
export interface OffHoursScheduleConfig {
  /** Turn the schedule off to keep the node group's size around the clock. */
  readonly enabled: boolean;
  /** Cron expression (five fields, UTC or `timeZone`) at which the group scales to zero. */
  readonly scaleDownCron: string;
  /** Cron expression at which the group returns to its configured sizes. */
  readonly scaleUpCron: string;
  /** IANA time zone the cron expressions are read in, for example `Europe/Berlin`. */
  readonly timeZone: string;
}

/** CPU and memory in Kubernetes quantity notation (`250m`, `1`, `256Mi`, `1Gi`). */
export interface ResourceQuantities {
  readonly cpu: string;
  readonly memory: string;
}

/** The API's settings in one environment. */
export interface ApiSettings {
  /** Pod replicas when autoscaling is off, and the starting count when it is on. */
  readonly replicas: number;
  /** Horizontal pod autoscaling on CPU. */
  readonly autoscaling: {
    readonly enabled: boolean;
    readonly minReplicas: number;
    readonly maxReplicas: number;
    /** Target average CPU utilisation in percent of requests. */
    readonly targetCpuUtilization: number;
  };
  /** Container requests and limits. */
  readonly resources: {
    readonly requests: ResourceQuantities;
    readonly limits: ResourceQuantities;
  };
  /** How the API is exposed. */
  readonly service: {
    /** `ClusterIP` (inside the cluster only) or `LoadBalancer` (an AWS NLB). */
    readonly type: "ClusterIP" | "LoadBalancer";
    /** NLB scheme when `type` is `LoadBalancer`. */
    readonly scheme: "internal" | "internet-facing";
    /** CIDRs allowed to reach an internet-facing load balancer; empty means anywhere. */
    readonly sourceRanges: readonly string[];
  };
  /** The API's log level. */
  readonly logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace";
  /**
   * Image tag deployed; `IMAGE_TAG_<ENV>` overrides it. With `strategy: "blue-green"` the resolved
   * configuration carries the active colour's tag here (customer releases follow it).
   */
  readonly imageTag: string;
  /** How long Helm waits for the release to become ready before rolling back, in seconds. */
  readonly helmTimeoutSeconds: number;
  /**
   * How a new version reaches traffic: `rolling` upgrades the one release in place; `blue-green`
   * runs two colour releases and moves a stable Service between them (docs/blue-green.md).
   * @default "rolling"
   */
  readonly strategy?: DeployStrategy;
  /** The colours' inputs; required when `strategy` is `blue-green`, refused otherwise. */
  readonly blueGreen?: BlueGreenSettings;
}

/** Deploy strategies an environment may use. */
export const DEPLOY_STRATEGIES = ["rolling", "blue-green"] as const;
/** A deploy strategy. */
export type DeployStrategy = (typeof DEPLOY_STRATEGIES)[number];

/** The two colour releases of a blue/green environment. */
export const COLOURS = ["blue", "green"] as const;
/** A colour release. */
export type Colour = (typeof COLOURS)[number];

/** Blue/green inputs; the state of the stack always says which colour serves. */
export interface BlueGreenSettings {
  /** The colour the stable Service sends traffic to; `ACTIVE_COLOUR_<ENV>` overrides it. */
  readonly activeColour: Colour;
  /**
   * Image tag of each colour release; `IMAGE_TAG_<ENV>_BLUE` and `IMAGE_TAG_<ENV>_GREEN` override
   * them, and `IMAGE_TAG_<ENV>` sets the idle colour's (a deploy is a new tag in the idle colour).
   * The active colour needs a tag; an idle colour without one has no release (and no failover).
   */
  readonly tags: Readonly<Partial<Record<Colour, string>>>;
  /**
   * Pods the idle colour keeps for failover (its autoscaling floor too); at least 2, so its
   * PodDisruptionBudget still lets a node drain, and at most the active colour's floor.
   */
  readonly idleReplicas: number;
}

/** One application environment. */
export interface EnvironmentConfig {
  readonly name: EnvironmentName;
  /** The node group that runs only this environment's workloads (`workload-env=<name>`). */
  readonly nodeGroup: NodeGroupConfig;
  /** Off-hours schedule for this environment's node group, if any. */
  readonly offHours?: OffHoursScheduleConfig;
  readonly api: ApiSettings;
}

/** Settings shared by every workspace. */
export interface SharedConfig {
  /** Short lower-case name used as a prefix for every resource. */
  readonly project: string;
  /** AWS region, for example `eu-west-1`. */
  readonly region: string;
  /** If set, every stack refuses to run against another AWS account. */
  readonly accountId?: string;
  /** GitHub repository (`owner/name`) whose workflows may assume the CI roles. */
  readonly githubRepository: string;
  /** Globally unique S3 bucket name for Terraform state. */
  readonly stateBucket: string;
  /** VPC CIDR block. */
  readonly vpcCidr: string;
  /** Availability zones to span (2 to 6). */
  readonly azCount: number;
  /**
   * Pin the zones by name (`eu-west-1a`, ...), exactly `azCount` of them in the configured region.
   * Unset: the first `azCount` zones the region offers without opt-in, in name order.
   * @default undefined
   */
  readonly availabilityZones?: readonly string[];
  /** `single` NAT gateway (cheaper) or `per-az` (survives the loss of a zone). */
  readonly natMode: "single" | "per-az";
  /** EKS Kubernetes minor version. */
  readonly kubernetesVersion: string;
  /** CIDRs allowed to reach the public cluster endpoint; empty keeps the endpoint private only. */
  readonly publicEndpointCidrs: readonly string[];
  /** IAM role ARNs given cluster-admin through access entries. */
  readonly clusterAdminRoleArns: readonly string[];
  /** The always-on node group for cluster add-ons. */
  readonly systemNodeGroup: NodeGroupConfig;
  /**
   * CloudWatch retention for VPC flow logs and control-plane logs, in days (one of CloudWatch's
   * periods). Below 365 trips checkov's CKV_AWS_338; storage is the smaller part of the log bill.
   * @default 365
   */
  readonly logRetentionDays: number;
  /** How many `sha-*` images the registry keeps. */
  readonly keepShaImages: number;
  /** Image tags that may be overwritten and so never deploy (`latest` always included). */
  readonly mutableTags: readonly string[];
  /**
   * Keep the bootstrap workspace's own state in the state bucket (key `bootstrap/terraform.tfstate`)
   * instead of a local file. Turn on only after the first apply, then run
   * `terraform init -migrate-state` in its folder.
   * @default false
   */
  readonly bootstrapStateInBucket?: boolean;
  /** Days a noncurrent state object version is kept. */
  readonly stateVersionRetentionDays: number;
  /**
   * Namespace of an in-cluster Prometheus that scrapes the API's `/metrics`. Every API release's
   * network policy (the environment's own and each customer's) then admits that namespace's pods
   * to the API port, beside the load balancer's subnets. Unset: nothing in the cluster is
   * admitted.
   * @default undefined
   */
  readonly monitoringNamespace?: string;
}

/**
 * What a customer changes about the API in one environment. Anything left out is the environment's
 * own setting (`environments.<env>.api`); the image tag is always the environment's.
 */
export interface CustomerEnvironmentSettings {
  /** Whether the customer has a workspace (namespace and release) in this environment. */
  readonly enabled: boolean;
  /** Pod replicas; within the environment's bounds (prod at least 2). */
  readonly replicas?: number;
  /** Autoscaling fields to change; the rest come from the environment. */
  readonly autoscaling?: Partial<ApiSettings["autoscaling"]>;
  /** Requests and limits to change; the rest come from the environment. */
  readonly resources?: {
    readonly requests?: Partial<ResourceQuantities>;
    readonly limits?: Partial<ResourceQuantities>;
  };
  /** Greeting the API serves at `/` for this customer (at most 256 printable characters). */
  readonly message?: string;
  /**
   * DNS name the customer reaches the API at; announced on the Service for external-dns and used in
   * the `customer_service_urls` output. Unset: the load balancer's own hostname.
   */
  readonly hostname?: string;
}

/** A customer with an exclusive, isolated workspace (`api-<env>-<id>`) in each enabled environment. */
export interface CustomerConfig {
  /** DNS label (lower-case letters, digits, hyphens); names the namespace and construct ids. */
  readonly id: string;
  /** Human-readable name, shown in plan comments and docs. */
  readonly displayName: string;
  /** Per-environment enablement and overrides; an environment left out is disabled. */
  readonly environments: Readonly<Partial<Record<EnvironmentName, CustomerEnvironmentSettings>>>;
}

/** Where the AWS provider and the S3 backend send their calls. */
export type AwsTarget =
  | { readonly kind: "aws" }
  | {
      /** An AWS-compatible endpoint (an emulator) with static test credentials. */
      readonly kind: "endpoint";
      readonly endpointUrl: string;
      readonly accessKeyId: string;
      readonly secretAccessKey: string;
    };

/** How the environments' `kubernetes` and `helm` providers reach the cluster. */
export type ClusterTarget =
  | {
      /** The shared stack's EKS cluster, with short-lived tokens from `aws eks get-token`. */
      readonly kind: "eks";
    }
  | {
      /** A local API server (the rehearsal's control plane), through a kubeconfig file. */
      readonly kind: "local";
      /** Absolute path of the kubeconfig. */
      readonly kubeconfigPath: string;
    };

/** The whole, validated configuration. */
export interface PlatformConfig {
  readonly shared: SharedConfig;
  readonly environments: Readonly<Record<EnvironmentName, EnvironmentConfig>>;
  /**
   * Customers, each with its own workspace per enabled environment (docs/customers.md).
   * @default []
   */
  readonly customers?: readonly CustomerConfig[];
  /** The API's version (from `api/package.json`), reported by the service. */
  readonly appVersion: string;
  /** The commit being deployed, when known (`GIT_SHA`). */
  readonly gitSha?: string;
  readonly target: AwsTarget;
  /** Where the environments' Kubernetes and Helm providers connect. */
  readonly cluster: ClusterTarget;
}

/** Settings as committed, before environment overrides. */
export type PlatformSettings = Omit<PlatformConfig, "target" | "cluster" | "gitSha" | "appVersion">;
