import { App } from "cdktf";
import type { PlatformConfig } from "../config";
import { ENVIRONMENTS } from "../config";
import { ApiStack } from "./api";
import { BootstrapStack } from "./bootstrap";
import { SharedStack } from "./shared";

/** The workspaces, in the order they are applied. */
export const STACK_NAMES = ["bootstrap", "shared", ...ENVIRONMENTS] as const;
export type StackName = (typeof STACK_NAMES)[number];

/**
 * Creates the four stacks from a validated configuration. Pure: the same config gives the same
 * Terraform. `outdir` defaults to `cdktf.out`.
 */
export function buildApp(config: PlatformConfig, outdir?: string): App {
  const app = new App({ outdir, skipValidation: false });
  const base = { shared: config.shared, target: config.target };

  new BootstrapStack(app, "bootstrap", base);
  const shared = new SharedStack(app, "shared", { ...base, environments: config.environments });
  for (const env of ENVIRONMENTS) {
    new ApiStack(app, env, {
      ...base,
      environment: config.environments[env],
      cluster: shared,
      clusterTarget: config.cluster,
      appVersion: config.appVersion,
      gitSha: config.gitSha,
      customers: config.customers,
    });
  }
  return app;
}
