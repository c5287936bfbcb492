/**
 * The dev and prod stacks (one ApiStack class): providers, namespace with quota and limits, the RBAC
 * the deploy role needs for them, and the Helm release with values built from the typed config.
 */
import { Release } from "@cdktf/provider-helm/lib/release";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ENVIRONMENTS } from "../../config";
import { settings } from "../../config/settings";
import { namespaceQuota } from "../../constructs/api-release";
import { subnetLayout } from "../../constructs/network";
import { configFrom, settingsCopy, stackDir, synthStack } from "../helpers/synth";
import {
  dataSources,
  one,
  only,
  ref,
  resourceCount,
  resources,
  synthesized,
} from "./stack-helpers";
import {
  WORKLOAD_ENV_LABEL,
  colourRelease,
  deployerGroup,
  deployerRole,
  environmentNamespace,
} from "../../config/names";

const REMOTE = "data.terraform_remote_state.cross-stack-reference-input-shared.outputs.";

describe.each(ENVIRONMENTS)("%s stack", (env) => {
  const json = synthesized(env);
  const cfg = settings.environments[env];
  // With blue/green the serving release is the active colour's; __tests__/blue-green/ covers the rest.
  const blueGreen = cfg.api.strategy === "blue-green" ? cfg.api.blueGreen : undefined;
  const releaseName = blueGreen ? colourRelease(blueGreen.activeColour) : "api";
  const release = only(json, "helm_release", (r) => r.name === releaseName);
  const namespace = only(json, "kubernetes_namespace_v1");
  const values = JSON.parse((release.values as string[])[0]) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

  it("keeps state under its own key and has the release's resources", () => {
    expect(json.terraform.backend?.s3).toMatchObject({ key: `${env}/terraform.tfstate` });
    // Namespace, quota, limits, four RBAC objects and the release; blue/green: two colour
    // releases and the stable Service.
    expect(resourceCount(json)).toBe(blueGreen ? 10 : 8);
  });

  it("authenticates both providers with aws eks get-token, not a stored token", () => {
    const k8s = one(json.provider?.kubernetes);
    const helm = one(one(json.provider?.helm).kubernetes);
    for (const connection of [k8s, helm]) {
      const exec = one(connection.exec);
      expect(exec).toMatchObject({
        api_version: "client.authentication.k8s.io/v1beta1",
        command: "aws",
      });
      expect(exec.args).toEqual([
        "eks",
        "get-token",
        "--cluster-name",
        expect.stringContaining(REMOTE),
        "--region",
        settings.shared.region,
        "--output",
        "json",
      ]);
      expect(connection).not.toHaveProperty("token");
      expect(String(connection.cluster_ca_certificate)).toMatch(/^\$\{base64decode\(/);
    }
  });

  it("connects both providers through a kubeconfig, and nothing else changes, with the local cluster target", () => {
    const local = synthStack(
      env,
      configFrom(settingsCopy(), {
        DEPLOY_TARGET: "emulator",
        EMULATOR_ENDPOINT_URL: "http://127.0.0.1:5000",
        CLUSTER_TARGET: "local",
        LOCAL_KUBECONFIG: "/tmp/rehearse/kubeconfig",
      }),
    );
    const k8s = one(local.provider?.kubernetes);
    const helm = one(one(local.provider?.helm).kubernetes);
    for (const connection of [k8s, helm]) {
      expect(connection).toEqual({ config_path: "/tmp/rehearse/kubeconfig" });
    }
    // The resources are the committed target's, attribute for attribute.
    expect(local.resource).toEqual(json.resource);
  });

  it("creates namespace api-<env> labelled for Pod Security restricted", () => {
    expect(json).toHaveResourceWithProperties(NamespaceV1, {
      metadata: {
        name: environmentNamespace(env),
        labels: {
          "pod-security.kubernetes.io/enforce": "restricted",
          "pod-security.kubernetes.io/enforce-version": "latest",
          "pod-security.kubernetes.io/audit": "restricted",
          "pod-security.kubernetes.io/warn": "restricted",
          "app.kubernetes.io/part-of": "api",
          [WORKLOAD_ENV_LABEL]: env,
        },
      },
    });
  });

  it("sizes the ResourceQuota and LimitRange from the config", () => {
    const ns = ref(namespace, "metadata[0].name");
    expect(only(json, "kubernetes_resource_quota_v1")).toMatchObject({
      metadata: { namespace: ns },
      spec: { hard: namespaceQuota(cfg.api) },
    });
    expect(namespaceQuota(cfg.api).pods).toBe(String(cfg.api.autoscaling.maxReplicas * 2 + 2));
    expect(one(one(only(json, "kubernetes_limit_range_v1").spec).limit)).toEqual({
      type: "Container",
      default: cfg.api.resources.limits,
      default_request: cfg.api.resources.requests,
      max: cfg.api.resources.limits,
    });
  });

  it("installs the chart as a relative asset: atomic, waits, cleans up, bounded", () => {
    expect(json).toHaveResourceWithProperties(Release, {
      name: releaseName,
      namespace: ref(namespace, "metadata[0].name"),
      atomic: true,
      wait: true,
      cleanup_on_fail: true,
      timeout: cfg.api.helmTimeoutSeconds,
      max_history: 10,
      create_namespace: false,
    });
    expect(release).not.toHaveProperty("force_update");
    expect(String(release.chart)).toMatch(/^assets\/Chart\/[0-9A-F]+$/);
    expect(existsSync(join(stackDir(env), String(release.chart), "Chart.yaml"))).toBe(true);
  });

  it("builds the values from the typed config and the shared registry", () => {
    expect(values).toEqual({
      image: { repository: expect.stringContaining(REMOTE), tag: cfg.api.imageTag },
      replicaCount: cfg.api.replicas,
      autoscaling: {
        enabled: cfg.api.autoscaling.enabled,
        minReplicas: cfg.api.autoscaling.minReplicas,
        maxReplicas: cfg.api.autoscaling.maxReplicas,
        targetCPUUtilizationPercentage: cfg.api.autoscaling.targetCpuUtilization,
      },
      resources: cfg.api.resources,
      app: {
        env,
        version: expect.stringMatching(/^\d+\.\d+\.\d+/),
        // A colour reports the commit baked into its image.
        ...(!blueGreen && { gitSha: "" }),
        logLevel: cfg.api.logLevel,
      },
      // A colour serves through the stack's stable Service, its own stays in the cluster.
      service: blueGreen
        ? { type: "ClusterIP" }
        : {
            type: cfg.api.service.type,
            loadBalancer: {
              scheme: cfg.api.service.scheme,
              sourceRanges: cfg.api.service.sourceRanges,
            },
          },
      nodeSelector: { [WORKLOAD_ENV_LABEL]: env },
      // Only the load balancer's subnets reach the pods, behind a namespace-wide default deny.
      networkPolicy: {
        enabled: true,
        defaultDeny: true,
        ingressFrom: subnetLayout(settings.shared.vpcCidr, settings.shared.azCount).public.map(
          (cidr) => ({ ipBlock: { cidr } }),
        ),
      },
      ...(blueGreen && { colour: blueGreen.activeColour }),
    });
    expect(values.image.repository).toMatch(/repository_url\}$/);
  });

  it("binds the deploy role's group to its own namespace object, quota and limits only", () => {
    const group = deployerGroup(env);
    const clusterRole = only(json, "kubernetes_cluster_role_v1");
    expect(clusterRole.rule).toEqual([
      {
        api_groups: [""],
        resources: ["namespaces"],
        resource_names: [environmentNamespace(env)],
        verbs: ["get", "update", "patch"],
      },
      {
        api_groups: ["rbac.authorization.k8s.io"],
        resources: ["clusterroles", "clusterrolebindings"],
        resource_names: [deployerRole(environmentNamespace(env))],
        verbs: ["get"],
      },
    ]);
    const role = only(json, "kubernetes_role_v1");
    expect(role).toMatchObject({ metadata: { namespace: ref(namespace, "metadata[0].name") } });
    expect(one<{ resources: string[]; verbs: string[] }>(role.rule).resources).toEqual([
      "resourcequotas",
      "limitranges",
    ]);
    for (const binding of [
      only(json, "kubernetes_cluster_role_binding_v1"),
      only(json, "kubernetes_role_binding_v1"),
    ]) {
      expect(binding.subject).toEqual([
        { kind: "Group", name: group, api_group: "rbac.authorization.k8s.io" },
      ]);
    }
    expect(one(only(json, "kubernetes_cluster_role_binding_v1").role_ref)).toMatchObject({
      kind: "ClusterRole",
      name: ref(clusterRole, "metadata[0].name"),
    });
  });

  it("outputs the service URL from the load balancer of the release's Service", () => {
    const service = blueGreen
      ? only(json, "kubernetes_service_v1")
      : one(dataSources(json, "kubernetes_service_v1"));
    expect(service).toMatchObject({
      metadata: {
        name: blueGreen ? "api-live" : "api",
        namespace: ref(namespace, "metadata[0].name"),
      },
      depends_on: [release.address],
    });
    expect(json.output?.service_url.value).toBe(
      `http://\${${service.address}.status[0].load_balancer[0].ingress[0].hostname}`,
    );
    expect(json.output?.image_tag.value).toBe(cfg.api.imageTag);
  });
});

it("dev and prod differ only where their configuration does", () => {
  const [dev, prod] = ENVIRONMENTS.map((e) => resources(synthesized(e), "helm_release"));
  expect(dev.map((r) => r.timeout)).toEqual([settings.environments.dev.api.helmTimeoutSeconds]);
  expect(prod.map((r) => r.timeout)).toEqual(
    prod.map(() => settings.environments.prod.api.helmTimeoutSeconds),
  );
  // prod's blue/green adds the stable Service (dev's Service belongs to its chart release).
  const strategyTypes = (e: (typeof ENVIRONMENTS)[number]) =>
    settings.environments[e].api.strategy === "blue-green" ? ["kubernetes_service_v1"] : [];
  expect(Object.keys(synthesized("dev").resource!).sort()).toEqual(
    Object.keys(synthesized("prod").resource!)
      .filter((t) => !strategyTypes("prod").includes(t))
      .sort(),
  );
  expect(resources(synthesized("prod"), "kubernetes_namespace_v1")[0].metadata).toMatchObject({
    name: "api-prod",
  });
});
