/**
 * The chart as each environment renders it. Renders are cached per test file (module scope), so
 * the suites share one `helm template` per set of values.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import {
  apiChartDir,
  DEFAULT_KUBE_VERSION,
  helmTemplate,
  type HelmOptions,
  type Manifest,
} from "../helpers/helm";

/** The application environments the stacks deploy. */
export const ENVIRONMENTS = ["dev", "prod"] as const;
/** An application environment. */
export type Environment = (typeof ENVIRONMENTS)[number];

/** Fewest replicas each environment must run (INVARIANTS.md 27 asks >= 2 in prod). */
export const MIN_REPLICAS: Readonly<Record<Environment, number>> = { dev: 1, prod: 2 };

const fixtures = path.join(__dirname, "fixtures");

/** Text of a values file under `__tests__/chart/fixtures/`. */
export function fixture(name: string): string {
  return readFileSync(path.join(fixtures, `${name}.yaml`), "utf8");
}

/** Release settings as the environment's stack passes them (values mimic config/settings.ts). */
export function environmentRelease(env: Environment): {
  readonly chartDir: string;
  readonly values: string;
  readonly options: HelmOptions;
} {
  return {
    chartDir: apiChartDir,
    values: fixture(env),
    options: { namespace: `api-${env}`, releaseName: "api", kubeVersion: clusterVersion() },
  };
}

/** Kubernetes version of the cluster the stacks install into. */
export function clusterVersion(): string {
  return DEFAULT_KUBE_VERSION;
}

const cache = new Map<string, Promise<Manifest[]>>();

/** The manifests the environment's release renders (cached). */
export function renderEnvironment(env: Environment): Promise<Manifest[]> {
  let render = cache.get(env);
  if (!render) {
    const release = environmentRelease(env);
    render = helmTemplate(release.chartDir, release.values, release.options);
    cache.set(env, render);
  }
  return render;
}
