/**
 * The chart as each environment's stack installs it: the chart folder, namespace, release name
 * and values of the `helm_release` in the run's shared synth (see `synthesized()`), rendered at
 * the cluster's Kubernetes version. Renders are cached per test file.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { ENVIRONMENTS, type EnvironmentName } from "../../config/types";
import { helmTemplate, type HelmOptions, type Manifest } from "../helpers/helm";
import { only, resources, type StackJson, stackDir, synthesized } from "../helpers/synth";
import { colourRelease, environmentNamespace, type Colour } from "../../config";

export { ENVIRONMENTS };
/** An application environment. */
export type Environment = EnvironmentName;

/** Fewest replicas each environment must run (docs/invariants.md 27: >= 2 in prod). */
export const MIN_REPLICAS: Readonly<Record<Environment, number>> = { dev: 1, prod: 2 };

/**
 * Account shown in the ECR URL the values resolve to. The real one is known only at apply time
 * (a cross-stack reference); the chart sees a URL of the same shape.
 */
const EXAMPLE_ACCOUNT = "111122223333";

/** Text of a values file under `__tests__/chart/fixtures/`. */
export function fixture(name: string): string {
  return readFileSync(path.join(__dirname, "fixtures", `${name}.yaml`), "utf8");
}

/** A helm_release as synthesized: the chart path is relative to the stack folder. */
interface HelmRelease {
  readonly address: string;
  readonly chart: string;
  readonly name: string;
  readonly namespace: string;
  readonly values: readonly string[];
}

/** What the stack passes to Helm, with Terraform references resolved. */
export interface StackRelease {
  readonly address: string;
  readonly chartDir: string;
  /** The values document exactly as synthesized (may hold Terraform references). */
  readonly rawValues: string;
  /** The same document with each reference replaced by the value it stands for. */
  readonly values: Record<string, unknown>;
  readonly options: Required<HelmOptions>;
}

/** `${aws_ecr_repository.X.repository_url}` -> `<account>.dkr.ecr.<region>.amazonaws.com/<name>` */
function ecrRepositoryUrl(shared: StackJson, expression: string): string {
  const match = /^\$\{aws_ecr_repository\.([\w-]+)\.repository_url\}$/.exec(expression);
  const repository = match ? shared.resource?.aws_ecr_repository?.[match[1]] : undefined;
  const region = shared.provider?.aws?.[0]?.region;
  if (!repository || typeof repository.name !== "string" || typeof region !== "string") {
    throw new Error(`cannot resolve ${expression} in the shared stack`);
  }
  return `${EXAMPLE_ACCOUNT}.dkr.ecr.${region}.amazonaws.com/${repository.name}`;
}

/**
 * Replaces the Terraform references a values string may hold. Only the shared stack's registry
 * URL is expected; anything else fails, so a new reference is noticed rather than rendered as text.
 */
function resolveReferences(shared: StackJson, raw: string): string {
  return raw.replace(/\$\{([^}]*)\}/g, (reference: string, inner: string) => {
    const remote =
      /^data\.terraform_remote_state\.[\w-]+\.outputs\.([\w-]+)$/.exec(inner)?.[1] ?? "";
    const output = shared.output?.[remote]?.value;
    if (typeof output === "string" && output.startsWith("${aws_ecr_repository.")) {
      return ecrRepositoryUrl(shared, output);
    }
    throw new Error(`unexpected Terraform reference in the chart values: ${reference}`);
  });
}

/** `${kubernetes_namespace_v1.X.metadata[0].name}` -> that namespace's name in the same stack. */
export function resolveNamespace(stack: StackJson, namespace: string): string {
  const match = /^\$\{kubernetes_namespace_v1\.([\w-]+)\.metadata\[0\]\.name\}$/.exec(namespace);
  if (!match) return namespace;
  const resource = stack.resource?.kubernetes_namespace_v1?.[match[1]] as
    { metadata?: { name?: string } } | undefined;
  if (!resource?.metadata?.name) throw new Error(`cannot resolve namespace ${namespace}`);
  return resource.metadata.name;
}

/** Kubernetes version of the cluster the shared stack creates (`1.33` -> `1.33.0`). */
export function clusterVersion(shared: StackJson = synthesized("shared")): string {
  const cluster = only(shared, "aws_eks_cluster") as { version?: unknown };
  if (typeof cluster.version !== "string" || !/^\d+\.\d+$/.test(cluster.version)) {
    throw new Error(`aws_eks_cluster.version is ${String(cluster.version)}, not <major>.<minor>`);
  }
  return `${cluster.version}.0`;
}

/**
 * Every helm_release of a synthesized environment stack, with references resolved.
 * @param chartRoot the folder the releases' relative chart paths start from (the stack folder)
 */
export function helmReleases(
  stack: StackJson,
  shared: StackJson,
  chartRoot: string,
): StackRelease[] {
  const kubeVersion = clusterVersion(shared);
  return resources(stack, "helm_release").map((block) => {
    const release = block as unknown as HelmRelease;
    if (release.values.length !== 1) {
      throw new Error(
        `${release.address}: expected one values document, got ${release.values.length}`,
      );
    }
    const rawValues = release.values[0];
    return {
      address: release.address,
      chartDir: path.join(chartRoot, release.chart),
      rawValues,
      values: JSON.parse(resolveReferences(shared, rawValues)) as Record<string, unknown>,
      options: {
        namespace: resolveNamespace(stack, release.namespace),
        releaseName: release.name,
        kubeVersion,
      },
    };
  });
}

/**
 * The environment's own serving release (namespace `api-<env>`), read from the run's shared synth:
 * the one release of a rolling environment, the active colour's of a blue/green one (its idle
 * colour is covered by `__tests__/blue-green/`).
 */
export function stackRelease(env: Environment): StackRelease {
  const stack = synthesized(env);
  const releases = helmReleases(stack, synthesized("shared"), stackDir(env));
  const active = stack.output?.active_colour?.value;
  const own = releases.filter(
    (r) =>
      r.options.namespace === environmentNamespace(env) &&
      (active === undefined || r.options.releaseName === colourRelease(String(active) as Colour)),
  );
  if (own.length !== 1) {
    throw new Error(
      `the ${env} stack has ${own.length} helm_release(s) in namespace ${environmentNamespace(env)}`,
    );
  }
  return own[0];
}

const cache = new Map<Environment, Promise<Manifest[]>>();

/** The manifests the environment's release renders (cached). */
export function renderEnvironment(env: Environment): Promise<Manifest[]> {
  let render = cache.get(env);
  if (!render) {
    const release = stackRelease(env);
    render = helmTemplate(release.chartDir, release.values, release.options);
    cache.set(env, render);
  }
  return render;
}
