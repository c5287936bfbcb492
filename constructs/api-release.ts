import { Release } from "@cdktf/provider-helm/lib/release";
import { ClusterRoleBindingV1 } from "@cdktf/provider-kubernetes/lib/cluster-role-binding-v1";
import { ClusterRoleV1 } from "@cdktf/provider-kubernetes/lib/cluster-role-v1";
import { DataKubernetesServiceV1 } from "@cdktf/provider-kubernetes/lib/data-kubernetes-service-v1";
import { LimitRangeV1 } from "@cdktf/provider-kubernetes/lib/limit-range-v1";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { ResourceQuotaV1 } from "@cdktf/provider-kubernetes/lib/resource-quota-v1";
import { RoleBindingV1 } from "@cdktf/provider-kubernetes/lib/role-binding-v1";
import { RoleV1 } from "@cdktf/provider-kubernetes/lib/role-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import { Construct } from "constructs";
import { NAMESPACE_NAME, parseCidr, parseCpu, parseMemory } from "../config/rules";
import { deployerRole, liveService, otherColour, WORKLOAD_ENV_LABEL } from "../config/names";
import {
  COLOURS,
  type ApiSettings,
  type BlueGreenSettings,
  type Colour,
  type EnvironmentName,
} from "../config/types";

/** Properties for {@link ApiRelease}. */
export interface ApiReleaseProps {
  readonly environment: EnvironmentName;
  /** Namespace created for the release, labelled for Pod Security `restricted`. */
  readonly namespace: string;
  /** Helm release name; also the name of the API's Service. */
  readonly releaseName: string;
  /** Path of the chart, relative to the stack folder (a Terraform asset). */
  readonly chartPath: string;
  /** Image repository URL (from the shared registry). */
  readonly imageRepository: string;
  readonly settings: ApiSettings;
  /** The API's version and commit, reported by `/version`. */
  readonly appVersion: string;
  readonly gitSha?: string;
  /** Node label selector that keeps pods on the environment's node group. */
  readonly nodeSelector: Record<string, string>;
  /**
   * How many old release revisions Helm keeps for rollback.
   * @default 10
   */
  readonly maxHistory?: number;
  /**
   * Kubernetes group of the CI role that deploys this release. Its namespace-scoped access policy
   * (`admin`) cannot update the namespace object or write quotas, so this group is bound to exactly
   * that: get/update/patch of this one namespace, and the ResourceQuota and LimitRange inside it.
   * Creating these bindings needs a cluster administrator, so the first apply of an environment is
   * run by one (docs/configuration.md).
   * @default no bindings
   */
  readonly deployerGroup?: string;
  /**
   * Greeting the API serves at `/` (`app.message`).
   * @default the API's own greeting
   */
  readonly message?: string;
  /**
   * DNS name announced on the Service (`external-dns.alpha.kubernetes.io/hostname`), for external-dns
   * or a record created by hand that points at the load balancer.
   * @default none: the load balancer's own hostname
   */
  readonly hostname?: string;
  /**
   * Closes the namespace to everything but the API port from these CIDRs (and the release's own
   * `helm test` pod): the chart's policy admits only them, and a default-deny policy selects every
   * other pod. For a namespace the release owns.
   * @default the chart's policy: the API port from any source
   */
  readonly ingressCidrs?: readonly string[];
  /**
   * Namespaces whose pods may also reach the API port (an in-cluster Prometheus), beside
   * `ingressCidrs`; only with `ingressCidrs`.
   * @default none
   */
  readonly ingressNamespaces?: readonly string[];
  /**
   * Blue/green instead of one release upgraded in place: a release per colour with a tag
   * (`<releaseName>-blue`, `<releaseName>-green`, ClusterIP Services only) and one stable Service,
   * `<releaseName>-live`, that selects the active colour's pods. The idle colour keeps
   * `idleReplicas` pods. docs/blue-green.md
   * @default one release, `releaseName`, serving through its own Service
   */
  readonly blueGreen?: BlueGreenSettings;
}

/** Pod Security Standard labels: enforce, audit and warn at `restricted`. */
export const POD_SECURITY_LABELS = {
  "pod-security.kubernetes.io/enforce": "restricted",
  "pod-security.kubernetes.io/enforce-version": "latest",
  "pod-security.kubernetes.io/audit": "restricted",
  "pod-security.kubernetes.io/warn": "restricted",
};

/** The chart values for one release, built from typed settings (the chart's values.yaml documents each). */
export function chartValues(props: ApiReleaseProps): Record<string, unknown> {
  const s = props.settings;
  const service = {
    type: s.service.type,
    loadBalancer: { scheme: s.service.scheme, sourceRanges: [...s.service.sourceRanges] },
  };
  return {
    image: { repository: props.imageRepository, tag: s.imageTag },
    replicaCount: s.replicas,
    autoscaling: {
      enabled: s.autoscaling.enabled,
      minReplicas: s.autoscaling.minReplicas,
      maxReplicas: s.autoscaling.maxReplicas,
      targetCPUUtilizationPercentage: s.autoscaling.targetCpuUtilization,
    },
    resources: {
      requests: { ...s.resources.requests },
      limits: { ...s.resources.limits },
    },
    app: {
      env: props.environment,
      version: props.appVersion,
      gitSha: props.gitSha ?? "",
      logLevel: s.logLevel,
      ...(props.message !== undefined && { message: props.message }),
    },
    service,
    nodeSelector: props.nodeSelector,
    ...(props.hostname !== undefined && {
      service: {
        ...service,
        annotations: { "external-dns.alpha.kubernetes.io/hostname": props.hostname },
      },
    }),
    ...(props.ingressCidrs !== undefined && {
      networkPolicy: {
        enabled: true,
        defaultDeny: true,
        ingressFrom: [
          ...props.ingressCidrs.map((cidr) => ({ ipBlock: { cidr } })),
          ...(props.ingressNamespaces ?? []).map((name) => ({
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": name } },
          })),
        ],
      },
    }),
  };
}

/** Pod label the chart sets from its `colour` value; the stable Service selects on it. */
export const COLOUR_LABEL = "colour";

/**
 * The chart values of one colour release: the colour's tag and pod label, a ClusterIP Service (the
 * stable Service is the public one), and for the idle colour `idleReplicas` pods, autoscaling floor
 * and ceiling alike, so it costs a fixed, small amount until it is switched to.
 */
export function colourValues(
  props: ApiReleaseProps & { readonly blueGreen: BlueGreenSettings },
  colour: Colour,
): Record<string, unknown> {
  const { tags, activeColour, idleReplicas } = props.blueGreen;
  const tag = tags[colour];
  if (tag === undefined) throw new Error(`ApiRelease: colour ${colour} has no tag`);
  const s = props.settings;
  const active = colour === activeColour;
  const values = chartValues({
    ...props,
    hostname: undefined,
    settings: {
      ...s,
      imageTag: tag,
      replicas: active ? s.replicas : idleReplicas,
      autoscaling: active
        ? s.autoscaling
        : { ...s.autoscaling, minReplicas: idleReplicas, maxReplicas: idleReplicas },
    },
  });
  // A colour's values depend on its own tag only, so deploying into one colour never restarts the
  // other: the version comes from a release-<semver> tag, the commit from the image (its GIT_SHA).
  const version = /^release-(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$/.exec(tag)?.[1];
  const app: Record<string, unknown> = {
    ...(values.app as Record<string, unknown>),
    version: version ?? props.appVersion,
  };
  delete app.gitSha;
  return { ...values, app, colour, service: { type: "ClusterIP" } };
}

/**
 * Quota for a namespace: room for the largest replica count twice over (a rolling update surges) plus
 * the `helm test` pod, at the container's requests and limits. Blue/green fits the same room: the
 * active colour at its ceiling, the idle colour (at most the active floor), a surge pod and a test pod.
 */
export function namespaceQuota(settings: ApiSettings): Record<string, string> {
  const maxReplicas = settings.autoscaling.enabled
    ? settings.autoscaling.maxReplicas
    : settings.replicas;
  const pods = maxReplicas * 2 + 2;
  const cpu = (q: string) => `${parseCpu(q)! * pods}m`;
  const memory = (q: string) => `${Math.ceil((parseMemory(q)! * pods) / 2 ** 20)}Mi`;
  const r = settings.resources;
  return {
    pods: String(pods),
    "requests.cpu": cpu(r.requests.cpu),
    "requests.memory": memory(r.requests.memory),
    "limits.cpu": cpu(r.limits.cpu),
    "limits.memory": memory(r.limits.memory),
    "services.loadbalancers": "2",
  };
}

/**
 * One installation of the API: its namespace (Pod Security `restricted`, a ResourceQuota and a
 * LimitRange) and a Helm release of the chart that is atomic, waits for readiness, cleans up a failed
 * install and keeps a bounded history.
 */
export class ApiRelease extends Construct {
  /** The release that serves traffic (with blue/green, the active colour's). */
  public readonly release: Release;
  /** With blue/green: the release of each colour that has a tag. */
  public readonly colourReleases: Partial<Record<Colour, Release>> = {};
  /** With blue/green: the stable Service that selects the active colour. */
  public readonly liveService?: ServiceV1;
  public readonly namespaceName: string;
  /** Hostname of the Service's load balancer (empty for a ClusterIP Service). */
  public readonly serviceHostname: string;

  constructor(scope: Construct, id: string, props: ApiReleaseProps) {
    super(scope, id);
    if (!NAMESPACE_NAME.test(props.namespace)) {
      throw new Error(
        `ApiRelease: namespace must be a DNS label (RFC 1123, at most 63 characters), got "${props.namespace}"`,
      );
    }
    if (!/^[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?$/.test(props.releaseName)) {
      throw new Error(
        `ApiRelease: releaseName must be a DNS label of at most 53 characters (Helm's limit), got "${props.releaseName}"`,
      );
    }
    if (props.ingressCidrs !== undefined && props.ingressCidrs.length === 0) {
      throw new Error(
        "ApiRelease: ingressCidrs must list at least one CIDR; an empty list would admit any source",
      );
    }
    const badCidr = props.ingressCidrs?.find((c) => parseCidr(c) === undefined);
    if (badCidr !== undefined) {
      throw new Error(
        `ApiRelease: ingressCidrs must be IPv4 networks (a.b.c.d/n), got "${badCidr}"`,
      );
    }
    if (props.ingressNamespaces !== undefined && props.ingressCidrs === undefined) {
      throw new Error(
        "ApiRelease: ingressNamespaces needs ingressCidrs; without them the chart's policy admits any source",
      );
    }
    const badNamespace = props.ingressNamespaces?.find(
      (n) => !NAMESPACE_NAME.test(n) || n === props.namespace,
    );
    if (badNamespace !== undefined) {
      throw new Error(
        `ApiRelease: ingressNamespaces must be DNS labels other than the release's own namespace, got "${badNamespace}"`,
      );
    }
    if (props.blueGreen !== undefined) ApiRelease.checkColours(props.blueGreen);
    const maxHistory = props.maxHistory ?? 10;
    if (!Number.isInteger(maxHistory) || maxHistory < 1 || maxHistory > 100) {
      // Helm reads 0 as "keep every revision": history must stay bounded.
      throw new Error(
        `ApiRelease: maxHistory must be a whole number from 1 to 100, got ${maxHistory}`,
      );
    }
    const labels = {
      ...POD_SECURITY_LABELS,
      "app.kubernetes.io/part-of": "api",
      [WORKLOAD_ENV_LABEL]: props.environment,
    };
    const namespace = new NamespaceV1(this, "Namespace", {
      metadata: { name: props.namespace, labels },
    });
    const r = props.settings.resources;
    new ResourceQuotaV1(this, "Quota", {
      metadata: { name: "api-quota", namespace: namespace.metadata.name },
      spec: { hard: namespaceQuota(props.settings) },
    });
    new LimitRangeV1(this, "Limits", {
      metadata: { name: "api-limits", namespace: namespace.metadata.name },
      spec: {
        limit: [
          {
            type: "Container",
            default: { ...r.limits },
            defaultRequest: { ...r.requests },
            max: { ...r.limits },
          },
        ],
      },
    });

    if (props.deployerGroup) {
      this.bindDeployer(props.namespace, namespace.metadata.name, props.deployerGroup);
    }

    const releaseOptions = {
      namespace: namespace.metadata.name,
      chart: props.chartPath,
      atomic: true,
      wait: true,
      cleanupOnFail: true,
      timeout: props.settings.helmTimeoutSeconds,
      maxHistory,
      createNamespace: false,
      dependencyUpdate: false,
    };
    if (props.blueGreen !== undefined) {
      const bg = props.blueGreen;
      const withColours = { ...props, blueGreen: bg };
      const active = bg.activeColour;
      const idle = otherColour(active);
      const release = (colour: Colour, dependsOn: ServiceV1[]) =>
        new Release(this, `Release-${colour}`, {
          ...releaseOptions,
          name: `${props.releaseName}-${colour}`,
          values: [JSON.stringify(colourValues(withColours, colour))],
          ...(dependsOn.length > 0 && { dependsOn }),
        });
      // The order a flip needs: the new active colour is upgraded to full size and ready (atomic,
      // wait) before the Service selects it, and the old colour shrinks only after traffic left it.
      this.release = release(active, []);
      this.colourReleases[active] = this.release;
      this.liveService = new ServiceV1(this, "LiveService", {
        metadata: {
          name: liveService(props.releaseName),
          namespace: namespace.metadata.name,
          labels: {
            "app.kubernetes.io/name": "api",
            "app.kubernetes.io/part-of": "api",
            "app.kubernetes.io/managed-by": "terraform",
          },
          annotations: liveServiceAnnotations(props),
        },
        spec: {
          type: props.settings.service.type,
          ...(props.settings.service.type === "LoadBalancer" &&
            props.settings.service.sourceRanges.length > 0 && {
              loadBalancerSourceRanges: [...props.settings.service.sourceRanges],
            }),
          port: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }],
          selector: {
            "app.kubernetes.io/name": "api",
            "app.kubernetes.io/component": "api",
            [COLOUR_LABEL]: active,
          },
        },
        waitForLoadBalancer: props.settings.service.type === "LoadBalancer",
        dependsOn: [this.release],
      });
      if (bg.tags[idle] !== undefined) {
        this.colourReleases[idle] = release(idle, [this.liveService]);
      }
      this.namespaceName = namespace.metadata.name;
      this.serviceHostname =
        props.settings.service.type === "LoadBalancer"
          ? this.liveService.status.get(0).loadBalancer.get(0).ingress.get(0).hostname
          : "";
      return;
    }

    this.release = new Release(this, "Release", {
      ...releaseOptions,
      name: props.releaseName,
      values: [JSON.stringify(chartValues(props))],
    });

    const service = new DataKubernetesServiceV1(this, "Service", {
      metadata: { name: props.releaseName, namespace: namespace.metadata.name },
      dependsOn: [this.release],
    });
    this.namespaceName = namespace.metadata.name;
    this.serviceHostname = service.status.get(0).loadBalancer.get(0).ingress.get(0).hostname;
  }

  /** Validates the blue/green props: colours known, the active one has a tag. */
  private static checkColours(bg: BlueGreenSettings): void {
    if (!(COLOURS as readonly string[]).includes(bg.activeColour)) {
      throw new Error(
        `ApiRelease: blueGreen.activeColour must be "blue" or "green", got "${String(bg.activeColour)}"`,
      );
    }
    if (bg.tags[bg.activeColour] === undefined) {
      throw new Error(
        `ApiRelease: blueGreen.activeColour is ${bg.activeColour}, which has no tag: no release to switch to`,
      );
    }
  }

  /** RBAC for the deploy role's group: its own namespace object, quota and limits, nothing else. */
  private bindDeployer(namespace: string, namespaceRef: string, group: string): void {
    // Cluster-scoped names are literal; the namespaced objects reference the namespace so that
    // terraform creates it first.
    const name = deployerRole(namespace);
    const subject = [{ kind: "Group", name: group, apiGroup: "rbac.authorization.k8s.io" }];
    const clusterRole = new ClusterRoleV1(this, "DeployerClusterRole", {
      metadata: { name },
      rule: [
        {
          apiGroups: [""],
          resources: ["namespaces"],
          resourceNames: [namespace],
          verbs: ["get", "update", "patch"],
        },
        {
          // Terraform refreshes these two objects on every plan; changing them stays with an admin.
          apiGroups: ["rbac.authorization.k8s.io"],
          resources: ["clusterroles", "clusterrolebindings"],
          resourceNames: [name],
          verbs: ["get"],
        },
      ],
    });
    new ClusterRoleBindingV1(this, "DeployerClusterRoleBinding", {
      metadata: { name },
      roleRef: {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "ClusterRole",
        name: clusterRole.metadata.name,
      },
      subject,
    });
    const role = new RoleV1(this, "DeployerRole", {
      metadata: { name: "deployer", namespace: namespaceRef },
      rule: [
        {
          apiGroups: [""],
          resources: ["resourcequotas", "limitranges"],
          verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
        },
      ],
    });
    new RoleBindingV1(this, "DeployerRoleBinding", {
      metadata: { name: "deployer", namespace: namespaceRef },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
      subject,
    });
  }
}

/** The stable Service's annotations: the chart's NLB annotations for a LoadBalancer, and the hostname. */
function liveServiceAnnotations(props: ApiReleaseProps): Record<string, string> {
  const s = props.settings.service;
  return {
    ...(s.type === "LoadBalancer" && {
      "service.beta.kubernetes.io/aws-load-balancer-type": "external",
      "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
      "service.beta.kubernetes.io/aws-load-balancer-scheme": s.scheme,
    }),
    ...(props.hostname !== undefined && {
      "external-dns.alpha.kubernetes.io/hostname": props.hostname,
    }),
  };
}
