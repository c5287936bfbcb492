export * from "./types";
export * from "./names";
export { ConfigError, type ConfigIssue } from "./rules";
export { loadConfig, CONFIG_ENV_VARS } from "./load";
export { SERVICE_IPV4_CIDR } from "./schema";
