import { readFileSync } from "node:fs";
import { join } from "node:path";
import { otherColour } from "./names";
import { ConfigError, Issues } from "./rules";
import { settings as committedSettings } from "./settings";
import {
  COLOURS,
  ENVIRONMENTS,
  type AwsTarget,
  type ClusterTarget,
  type Colour,
  type EnvironmentConfig,
  type EnvironmentName,
  type PlatformConfig,
  type PlatformSettings,
} from "./types";
import { validateColour, validateImageTag, validateSettings } from "./validate";

/** Environment variables the configuration reads; nothing else in the app reads the environment. */
export const CONFIG_ENV_VARS = {
  /** `IMAGE_TAG_DEV`, `IMAGE_TAG_PROD`: the image tag an environment deploys. */
  imageTag: (env: EnvironmentName) => `IMAGE_TAG_${env.toUpperCase()}`,
  /** `ACTIVE_COLOUR_DEV`, `ACTIVE_COLOUR_PROD`: the colour a blue/green environment serves from. */
  activeColour: (env: EnvironmentName) => `ACTIVE_COLOUR_${env.toUpperCase()}`,
  /** `IMAGE_TAG_PROD_BLUE`, `IMAGE_TAG_PROD_GREEN`, ...: the image tag of one colour release. */
  colourImageTag: (env: EnvironmentName, colour: Colour) =>
    `IMAGE_TAG_${env.toUpperCase()}_${colour.toUpperCase()}`,
  /** The commit being deployed, reported by the API as `GIT_SHA`. */
  gitSha: "GIT_SHA",
  /** `aws` (default) or `emulator`. */
  target: "DEPLOY_TARGET",
  /** With `DEPLOY_TARGET=emulator`: the emulator's URL, e.g. http://127.0.0.1:5000. */
  emulatorEndpoint: "EMULATOR_ENDPOINT_URL",
  /** `eks` (default) or `local`: where the environments' Kubernetes and Helm providers connect. */
  clusterTarget: "CLUSTER_TARGET",
  /** With `CLUSTER_TARGET=local`: absolute path of the local API server's kubeconfig. */
  localKubeconfig: "LOCAL_KUBECONFIG",
} as const;

const API_PACKAGE = join(__dirname, "..", "api", "package.json");

/**
 * Resolves the configuration: committed settings, then environment overrides, then validation of the
 * whole. Throws a {@link ConfigError} listing every problem; nothing is created before this returns.
 */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
  settings: PlatformSettings = committedSettings,
): PlatformConfig {
  const issues = new Issues();
  validateSettings(settings, issues);
  // Read defensively below: with invalid settings the overrides are still checked, so that every
  // problem is reported at once.
  const mutableTags = Array.isArray(settings?.shared?.mutableTags)
    ? settings.shared.mutableTags
    : [];

  // Image tags: one variable per environment, and an override never leaks into another environment.
  const environments = {} as Record<EnvironmentName, EnvironmentConfig>;
  for (const name of ENVIRONMENTS) {
    const variable = CONFIG_ENV_VARS.imageTag(name);
    const override = env[variable];
    if (override !== undefined) {
      validateImageTag(override, variable, mutableTags, issues);
    }
    const base = settings?.environments?.[name];
    if (base?.api?.strategy === "blue-green" && base.api.blueGreen !== undefined) {
      environments[name] = resolveColours(base, env, override, mutableTags, issues);
      continue;
    }
    environments[name] =
      override === undefined || base === undefined
        ? base
        : { ...base, api: { ...base.api, imageTag: override } };
  }
  const known = [
    ...ENVIRONMENTS.map(CONFIG_ENV_VARS.imageTag),
    ...ENVIRONMENTS.flatMap((name) =>
      COLOURS.map((colour) => CONFIG_ENV_VARS.colourImageTag(name, colour)),
    ),
  ];
  for (const variable of Object.keys(env).filter((k) => k.startsWith("IMAGE_TAG_"))) {
    issues.check(
      known.includes(variable),
      variable,
      env[variable],
      `unknown environment or colour: allowed variables are ${known.join(", ")}`,
    );
  }
  const colourVariables = ENVIRONMENTS.map(CONFIG_ENV_VARS.activeColour);
  for (const variable of Object.keys(env).filter((k) => k.startsWith("ACTIVE_COLOUR_"))) {
    issues.check(
      colourVariables.includes(variable),
      variable,
      env[variable],
      `unknown environment: allowed variables are ${colourVariables.join(", ")}`,
    );
  }
  for (const name of ENVIRONMENTS) {
    if (environments[name]?.api?.strategy === "blue-green") continue;
    const variables = [
      CONFIG_ENV_VARS.activeColour(name),
      ...COLOURS.map((colour) => CONFIG_ENV_VARS.colourImageTag(name, colour)),
    ];
    for (const variable of variables.filter((v) => env[v] !== undefined)) {
      issues.check(
        false,
        variable,
        env[variable],
        `environments.${name}.api.strategy is "rolling": use ${CONFIG_ENV_VARS.imageTag(name)}, or set strategy: "blue-green"`,
      );
    }
  }

  const gitSha = env[CONFIG_ENV_VARS.gitSha] || undefined;
  if (gitSha !== undefined) {
    issues.check(
      /^[0-9a-f]{7,40}$/.test(gitSha),
      CONFIG_ENV_VARS.gitSha,
      gitSha,
      "allowed: a commit id, 7 to 40 lower-case hex digits",
    );
  }

  const target = resolveTarget(env, issues);
  const cluster = resolveClusterTarget(env, target, issues);
  const appVersion = readAppVersion(issues);

  if (issues.list.length > 0) throw new ConfigError(issues.list);
  const customers = settings.customers ?? [];
  return {
    shared: settings.shared,
    environments,
    customers,
    appVersion,
    gitSha,
    target,
    cluster,
  };
}

/**
 * A blue/green environment with its overrides applied: the active colour, each colour's tag (the
 * plain `IMAGE_TAG_<ENV>` goes into the idle colour), and `imageTag` set to the active colour's tag.
 */
function resolveColours(
  base: EnvironmentConfig,
  env: Readonly<Record<string, string | undefined>>,
  idleTag: string | undefined,
  mutableTags: readonly string[],
  issues: Issues,
): EnvironmentConfig {
  const name = base.name;
  const bg = base.api.blueGreen!;
  const activeVariable = CONFIG_ENV_VARS.activeColour(name);
  const activeOverride = env[activeVariable];
  let active: Colour = bg.activeColour;
  if (activeOverride !== undefined && validateColour(activeOverride, activeVariable, issues)) {
    active = activeOverride as Colour;
  }
  const idle = otherColour(active);
  const tags: Partial<Record<Colour, string>> = { ...bg.tags };
  for (const colour of COLOURS) {
    const variable = CONFIG_ENV_VARS.colourImageTag(name, colour);
    const value = env[variable];
    if (value === undefined) continue;
    validateImageTag(value, variable, mutableTags, issues);
    tags[colour] = value;
  }
  const plainVariable = CONFIG_ENV_VARS.imageTag(name);
  if (idleTag !== undefined) {
    const idleVariable = CONFIG_ENV_VARS.colourImageTag(name, idle);
    issues.check(
      env[idleVariable] === undefined || env[idleVariable] === idleTag,
      plainVariable,
      idleTag,
      `sets the idle colour (${idle}), which ${idleVariable}=${env[idleVariable]} also sets: give one of them`,
    );
    tags[idle] = idleTag;
  }
  const activeTag = tags[active];
  issues.check(
    activeTag !== undefined,
    activeOverride !== undefined
      ? activeVariable
      : `environments.${name}.api.blueGreen.activeColour`,
    active,
    `${active} has no release to switch to: give it a tag (environments.${name}.api.blueGreen.tags.${active} or ${CONFIG_ENV_VARS.colourImageTag(name, active)}) and deploy into it first`,
  );
  return {
    ...base,
    api: {
      ...base.api,
      imageTag: activeTag ?? base.api.imageTag,
      blueGreen: { ...bg, activeColour: active, tags },
    },
  };
}

function resolveTarget(
  env: Readonly<Record<string, string | undefined>>,
  issues: Issues,
): AwsTarget {
  const kind = env[CONFIG_ENV_VARS.target] || "aws";
  if (kind === "aws") return { kind: "aws" };
  if (
    !issues.check(
      kind === "emulator",
      CONFIG_ENV_VARS.target,
      kind,
      'allowed: "aws" (default) or "emulator"',
    )
  ) {
    return { kind: "aws" };
  }
  const endpointUrl = env[CONFIG_ENV_VARS.emulatorEndpoint];
  issues.check(
    typeof endpointUrl === "string" &&
      /^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d{1,5}$/.test(endpointUrl),
    CONFIG_ENV_VARS.emulatorEndpoint,
    endpointUrl,
    "allowed with DEPLOY_TARGET=emulator: a loopback URL such as http://127.0.0.1:5000",
  );
  return {
    kind: "endpoint",
    endpointUrl: endpointUrl ?? "",
    accessKeyId: "test",
    secretAccessKey: "test",
  };
}

/**
 * The cluster the environments connect to. `local` is the counterpart of the emulator target: it is
 * accepted only together with it, so a kubeconfig for a local API server can never be paired with
 * real AWS state.
 */
function resolveClusterTarget(
  env: Readonly<Record<string, string | undefined>>,
  target: AwsTarget,
  issues: Issues,
): ClusterTarget {
  const kind = env[CONFIG_ENV_VARS.clusterTarget] || "eks";
  if (kind === "eks") return { kind: "eks" };
  if (
    !issues.check(
      kind === "local",
      CONFIG_ENV_VARS.clusterTarget,
      kind,
      'allowed: "eks" (default) or "local"',
    )
  ) {
    return { kind: "eks" };
  }
  issues.check(
    target.kind === "endpoint",
    CONFIG_ENV_VARS.clusterTarget,
    kind,
    `allowed only with ${CONFIG_ENV_VARS.target}=emulator: a local cluster never pairs with real AWS state`,
  );
  const path = env[CONFIG_ENV_VARS.localKubeconfig];
  issues.check(
    typeof path === "string" && path.startsWith("/") && !/[\s"$]/.test(path),
    CONFIG_ENV_VARS.localKubeconfig,
    path,
    "allowed with CLUSTER_TARGET=local: an absolute path without spaces, quotes or $, such as /tmp/rehearse/kubeconfig",
  );
  return { kind: "local", kubeconfigPath: path ?? "" };
}

function readAppVersion(issues: Issues): string {
  let version: unknown;
  try {
    version = (JSON.parse(readFileSync(API_PACKAGE, "utf8")) as { version?: unknown }).version;
  } catch {
    version = undefined;
  }
  issues.check(
    typeof version === "string" && /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version),
    "api/package.json version",
    version,
    "allowed: a semantic version such as 1.2.3",
  );
  return typeof version === "string" ? version : "0.0.0";
}
