/**
 * The typed shape of the platform's configuration. The settings' types are inferred from their
 * schema in `config/schema.ts` (fields, JSDoc and rules live there, once); this file re-exports
 * them with the enumerations they use and the resolved configuration that `config/load.ts` returns.
 * `config/settings.ts` holds the committed values. Only `config/` reads the environment.
 */

/** The application environments; every per-environment block is keyed by one of these. */
export const ENVIRONMENTS = ["dev", "prod"] as const;
/** An application environment. */
export type EnvironmentName = (typeof ENVIRONMENTS)[number];

/**
 * Kubernetes minor versions the configuration accepts: those the shared stack pins add-on versions
 * for (`config/eks-addons.ts`). The default is in EKS standard support; the older minors are the
 * steps an existing cluster takes on its way up, as EKS upgrades one minor at a time. Support dates
 * and their sources: `docs/support-dates.md`.
 */
export const SUPPORTED_KUBERNETES_VERSIONS = ["1.34", "1.35", "1.36"] as const;
/** A Kubernetes minor version the configuration accepts. */
export type KubernetesVersion = (typeof SUPPORTED_KUBERNETES_VERSIONS)[number];

/** Deploy strategies an environment may use. */
export const DEPLOY_STRATEGIES = ["rolling", "blue-green"] as const;
/** A deploy strategy. */
export type DeployStrategy = (typeof DEPLOY_STRATEGIES)[number];

/** The two colour releases of a blue/green environment. */
export const COLOURS = ["blue", "green"] as const;
/** A colour release. */
export type Colour = (typeof COLOURS)[number];

export type {
  ApiSettings,
  BlueGreenSettings,
  CustomerConfig,
  CustomerEnvironmentSettings,
  EnvironmentConfig,
  NodeGroupConfig,
  OffHoursScheduleConfig,
  PlatformSettings,
  ResourceQuantities,
  SharedConfig,
} from "./schema";

import type { PlatformSettings } from "./schema";

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

/** The whole, validated configuration: the settings with environment overrides applied. */
export type PlatformConfig = PlatformSettings & {
  /** The API's version (from `api/package.json`), reported by the service. */
  readonly appVersion: string;
  /** The commit being deployed, when known (`GIT_SHA`). */
  readonly gitSha?: string;
  readonly target: AwsTarget;
  /** Where the environments' Kubernetes and Helm providers connect. */
  readonly cluster: ClusterTarget;
};
