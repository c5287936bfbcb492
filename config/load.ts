import { readFileSync } from "node:fs";
import { join } from "node:path";
import { validateCustomers } from "./customers";
import { ConfigError, Issues } from "./rules";
import { settings as committedSettings } from "./settings";
import {
  ENVIRONMENTS,
  type AwsTarget,
  type EnvironmentConfig,
  type EnvironmentName,
  type PlatformConfig,
  type PlatformSettings,
} from "./types";
import { validateImageTag, validateSettings } from "./validate";

/** Environment variables the configuration reads; nothing else in the app reads the environment. */
export const CONFIG_ENV_VARS = {
  /** `IMAGE_TAG_DEV`, `IMAGE_TAG_PROD`: the image tag an environment deploys. */
  imageTag: (env: EnvironmentName) => `IMAGE_TAG_${env.toUpperCase()}`,
  /** The commit being deployed, reported by the API as `GIT_SHA`. */
  gitSha: "GIT_SHA",
  /** `aws` (default) or `emulator`. */
  target: "DEPLOY_TARGET",
  /** With `DEPLOY_TARGET=emulator`: the emulator's URL, e.g. http://127.0.0.1:5000. */
  emulatorEndpoint: "EMULATOR_ENDPOINT_URL",
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
  validateCustomers(settings, issues);

  // Image tags: one variable per environment, and an override never leaks into another environment.
  const environments = {} as Record<EnvironmentName, EnvironmentConfig>;
  for (const name of ENVIRONMENTS) {
    const variable = CONFIG_ENV_VARS.imageTag(name);
    const override = env[variable];
    if (override !== undefined) {
      validateImageTag(override, variable, settings.shared.mutableTags ?? [], issues);
    }
    const base = settings.environments[name];
    environments[name] =
      override === undefined || base === undefined
        ? base
        : { ...base, api: { ...base.api, imageTag: override } };
  }
  for (const variable of Object.keys(env).filter((k) => k.startsWith("IMAGE_TAG_"))) {
    issues.check(
      ENVIRONMENTS.some((name) => CONFIG_ENV_VARS.imageTag(name) === variable),
      variable,
      env[variable],
      `unknown environment: allowed variables are ${ENVIRONMENTS.map(CONFIG_ENV_VARS.imageTag).join(", ")}`,
    );
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
  const appVersion = readAppVersion(issues);

  if (issues.list.length > 0) throw new ConfigError(issues.list);
  const customers = settings.customers ?? [];
  return { shared: settings.shared, environments, customers, appVersion, gitSha, target };
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
