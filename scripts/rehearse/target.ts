/**
 * How the rehearsal points the stacks at the emulator: through the configuration's `emulator` target
 * (environment variables that `config/` resolves), never through the stacks' code.
 */
import { CONFIG_ENV_VARS, loadConfig, type PlatformConfig } from "../../config";

/** The configuration variables that select the emulator at `endpointUrl`. */
export function emulatorTargetVars(endpointUrl: string): Record<string, string> {
  return {
    [CONFIG_ENV_VARS.target]: "emulator",
    [CONFIG_ENV_VARS.emulatorEndpoint]: endpointUrl,
  };
}

/**
 * Environment for cdktf and terraform against the emulator: the caller's environment without any AWS
 * credentials, profile or endpoint of its own (the provider and the backend get the emulator's test
 * credentials from the configuration), plus the target variables.
 */
export function emulatorProcessEnv(
  base: NodeJS.ProcessEnv,
  endpointUrl: string,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(base)) {
    if (
      key.startsWith("AWS_") ||
      key === DEPLOY_TARGET ||
      key === EMULATOR_ENDPOINT ||
      key === CONFIG_ENV_VARS.clusterTarget ||
      key === CONFIG_ENV_VARS.localKubeconfig ||
      key === "KUBECONFIG"
    ) {
      continue;
    }
    env[key] = value;
  }
  return { ...env, AWS_EC2_METADATA_DISABLED: "true", ...emulatorTargetVars(endpointUrl) };
}

/** The configuration variables that point the environments' providers at a local API server. */
export function localClusterVars(kubeconfig: string): Record<string, string> {
  return {
    [CONFIG_ENV_VARS.clusterTarget]: "local",
    [CONFIG_ENV_VARS.localKubeconfig]: kubeconfig,
  };
}

const DEPLOY_TARGET = CONFIG_ENV_VARS.target;
const EMULATOR_ENDPOINT = CONFIG_ENV_VARS.emulatorEndpoint;

/**
 * The configuration the stacks will see with the emulator target, checked to resolve to a custom
 * endpoint at `endpointUrl`: the rehearsal refuses to run anything that would reach AWS.
 */
export function resolveEmulatorConfig(
  base: NodeJS.ProcessEnv,
  endpointUrl: string,
): PlatformConfig {
  const config = loadConfig(emulatorProcessEnv(base, endpointUrl));
  if (config.target.kind !== "endpoint" || config.target.endpointUrl !== endpointUrl) {
    throw new Error(
      `the configuration did not resolve the emulator target (got ${JSON.stringify(config.target)})`,
    );
  }
  return config;
}
