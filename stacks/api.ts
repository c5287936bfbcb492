import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { AssetType, Fn, TerraformAsset, TerraformOutput } from "cdktf";
import type { Construct } from "constructs";
import { join } from "node:path";
import type { ClusterTarget, CustomerConfig, EnvironmentConfig } from "../config";
import { customerApiSettings, enabledCustomers } from "../config/customers";
import {
  customerNamespace,
  deployerGroup,
  environmentNamespace,
  ROLLING_RELEASE,
  WORKLOAD_ENV_LABEL,
} from "../config/names";
import { ApiRelease } from "../constructs/api-release";
import { subnetLayout } from "../constructs/network";
import { PlatformStack, type PlatformStackProps } from "./base";

/** What an environment needs from the shared stack: typed references, not names. */
export interface ClusterReference {
  readonly clusterName: string;
  readonly clusterEndpoint: string;
  /** Base64 PEM, as EKS returns it. */
  readonly clusterCertificateAuthorityData: string;
  readonly repositoryUrl: string;
}

/** Properties for {@link ApiStack}. */
export interface ApiStackProps extends PlatformStackProps {
  readonly environment: EnvironmentConfig;
  readonly cluster: ClusterReference;
  /** How the Kubernetes and Helm providers connect: the EKS cluster, or a local API server. */
  readonly clusterTarget: ClusterTarget;
  readonly appVersion: string;
  readonly gitSha?: string;
  /**
   * Customers; each one enabled in this environment gets its own namespace and release.
   * @default []
   */
  readonly customers?: readonly CustomerConfig[];
}

/** The chart, shipped inside the synthesized stack so a plan works on any machine. */
const CHART_DIR = join(__dirname, "..", "helm", "api");

/**
 * `dev` and `prod`: one class, one instance per environment. The API's namespace and Helm release on the
 * shared cluster, with the image tag chosen for the environment.
 */
export class ApiStack extends PlatformStack {
  constructor(scope: Construct, id: string, props: ApiStackProps) {
    super(scope, id, { ...props, remoteState: true });
    const { cluster, environment } = props;

    if (props.clusterTarget.kind === "local") {
      // The rehearsal's local API server (config/: CLUSTER_TARGET=local); nothing else differs.
      const configPath = props.clusterTarget.kubeconfigPath;
      new KubernetesProvider(this, "kubernetes", { configPath });
      new HelmProvider(this, "helm", { kubernetes: { configPath } });
    } else {
      // Short-lived tokens from `aws eks get-token` on every call, never a token that expires
      // mid-apply.
      const exec = {
        apiVersion: "client.authentication.k8s.io/v1beta1",
        command: "aws",
        args: [
          "eks",
          "get-token",
          "--cluster-name",
          cluster.clusterName,
          "--region",
          props.shared.region,
          "--output",
          "json",
        ],
      };
      const connection = {
        host: cluster.clusterEndpoint,
        clusterCaCertificate: Fn.base64decode(cluster.clusterCertificateAuthorityData),
      };
      new KubernetesProvider(this, "kubernetes", { ...connection, exec: [exec] });
      new HelmProvider(this, "helm", { kubernetes: { ...connection, exec } });
    }

    const chart = new TerraformAsset(this, "Chart", { path: CHART_DIR, type: AssetType.DIRECTORY });
    // The load balancer (NLB, IP targets, public subnets) is the only way in, to the environment's
    // own release and to every customer's: the pods' policies admit the public subnets and
    // nothing else, behind a default-deny policy in each namespace. Never the private subnets,
    // where every pod of the cluster gets its address (VPC CNI), nor a namespace selector.
    const loadBalancerCidrs = subnetLayout(props.shared.vpcCidr, props.shared.azCount).public;
    // An in-cluster Prometheus, when configured, is the one namespace admitted besides.
    const monitoring = props.shared.monitoringNamespace;
    const ingress = {
      ingressCidrs: loadBalancerCidrs,
      ...(monitoring !== undefined && { ingressNamespaces: [monitoring] }),
    };
    const api = new ApiRelease(this, "Api", {
      environment: environment.name,
      namespace: environmentNamespace(environment.name),
      releaseName: ROLLING_RELEASE,
      chartPath: chart.path,
      imageRepository: cluster.repositoryUrl,
      settings: environment.api,
      appVersion: props.appVersion,
      gitSha: props.gitSha,
      nodeSelector: { [WORKLOAD_ENV_LABEL]: environment.name },
      deployerGroup: deployerGroup(environment.name),
      ...ingress,
      ...(environment.api.strategy === "blue-green" && { blueGreen: environment.api.blueGreen }),
    });

    new TerraformOutput(this, "namespace", { value: api.namespaceName });
    new TerraformOutput(this, "image_tag", { value: environment.api.imageTag });
    new TerraformOutput(this, "service_hostname", { value: api.serviceHostname });
    new TerraformOutput(this, "service_url", { value: `http://${api.serviceHostname}` });
    const blueGreen = environment.api.strategy === "blue-green" && environment.api.blueGreen;
    if (blueGreen) {
      // What the next deploy, switch or rollback starts from (`npm run delivery -- blue-green`).
      new TerraformOutput(this, "active_colour", { value: blueGreen.activeColour });
      new TerraformOutput(this, "colour_image_tags", { value: { ...blueGreen.tags } });
      // For `helm test` of a colour between the deploy and the switch.
      new TerraformOutput(this, "cluster_name", { value: cluster.clusterName });
    }

    // Customer workspaces keep the rolling strategy and the active colour's tag, so they move to a
    // new version in the run that switches the environment to it. Construct ids derive from the customer id alone, so adding or removing a
    // customer adds or removes exactly its own resources.
    const customerUrls: Record<string, string> = {};
    for (const { customer, overrides } of enabledCustomers(props.customers, environment.name)) {
      const release = new ApiRelease(this, `Customer-${customer.id}`, {
        environment: environment.name,
        namespace: customerNamespace(environment.name, customer.id),
        releaseName: ROLLING_RELEASE,
        chartPath: chart.path,
        imageRepository: cluster.repositoryUrl,
        settings: customerApiSettings(environment.api, overrides),
        appVersion: props.appVersion,
        gitSha: props.gitSha,
        nodeSelector: { [WORKLOAD_ENV_LABEL]: environment.name },
        deployerGroup: deployerGroup(environment.name),
        message: overrides.message,
        hostname: overrides.hostname,
        ...ingress,
      });
      customerUrls[customer.id] = `http://${overrides.hostname ?? release.serviceHostname}`;
    }
    new TerraformOutput(this, "customer_service_urls", { value: customerUrls });
  }
}
