import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";

/** Deployment environments the service knows; `local` is a developer machine or compose. */
export const APP_ENVS = ["local", "dev", "prod"] as const;
export type AppEnv = (typeof APP_ENVS)[number];

/** Log levels pino accepts, from most to least verbose, plus `silent`. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The service configuration, resolved once at start from the environment. */
export interface Config {
  /**
   * TCP port to listen on.
   * @default 8080
   */
  readonly port: number;
  /**
   * Address to bind: an IPv4 or IPv6 literal, or a host name.
   * @default "0.0.0.0"
   */
  readonly host: string;
  /**
   * Minimum level of the JSON logs.
   * @default "info"
   */
  readonly logLevel: LogLevel;
  /**
   * The message `GET /` returns.
   * @default "Automate all the things!"
   */
  readonly message: string;
  /**
   * Which environment this instance runs in, reported by `GET /version`.
   * @default "local"
   */
  readonly appEnv: AppEnv;
  /**
   * Version reported by `GET /version`; the image sets it from its `VERSION` build argument.
   * @default the `version` of the api package.json
   */
  readonly appVersion: string;
  /**
   * Commit the running build came from; the image sets it from its `GIT_SHA` build argument.
   * @default "unknown"
   */
  readonly gitSha: string;
  /**
   * How long requests keep being served after SIGTERM while readiness fails, so that the load
   * balancer stops sending new requests before the server stops accepting them.
   * @default 5000
   */
  readonly shutdownDelayMs: number;
  /**
   * Total time from SIGTERM after which the process gives up draining and exits 1. Keep it below
   * the orchestrator's grace period (Kubernetes `terminationGracePeriodSeconds`, 30 s by default).
   * @default 25000
   */
  readonly shutdownTimeoutMs: number;
}

/** Configuration defaults, applied when a variable is unset or empty. */
export const DEFAULTS = {
  port: 8080,
  host: "0.0.0.0",
  logLevel: "info",
  message: "Automate all the things!",
  appEnv: "local",
  gitSha: "unknown",
  shutdownDelayMs: 5_000,
  shutdownTimeoutMs: 25_000,
} as const;

/** One rejected variable: its name and a sentence that states the allowed form. */
export interface ConfigIssue {
  readonly variable: string;
  readonly message: string;
}

/** Thrown by {@link loadConfig} with every rejected variable, not just the first. */
export class ConfigError extends Error {
  constructor(public readonly issues: readonly ConfigIssue[]) {
    super(
      `invalid configuration:\n${issues.map((i) => `  ${i.variable}: ${i.message}`).join("\n")}`,
    );
    this.name = "ConfigError";
  }
}

const MAX_MESSAGE_LENGTH = 256;
const MAX_SHUTDOWN_DELAY_MS = 60_000;
const MAX_SHUTDOWN_TIMEOUT_MS = 600_000;
// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const VERSION = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/;
const GIT_SHA = /^(?:[0-9a-f]{7,40}|unknown)$/;
const DECIMAL = /^[0-9]+$/;
// eslint-disable-next-line no-control-regex -- control characters are exactly what is rejected
const CONTROL = /[\u0000-\u001f\u007f]/;

/** The api package version, read from the package.json beside `src/` or `dist/`. */
export function packageVersion(): string {
  const raw = readFileSync(join(__dirname, "..", "package.json"), "utf8");
  const version: unknown = (JSON.parse(raw) as { version?: unknown }).version;
  if (typeof version !== "string") throw new Error("api package.json has no version");
  return version;
}

/**
 * Reads and validates the configuration. Unset and empty variables take their default; any
 * other bad value is collected, and all of them are thrown together in a {@link ConfigError}.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const issues: ConfigIssue[] = [];
  const read = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value === "" ? undefined : value;
  };
  const fail = (variable: string, rule: string, value: string): undefined => {
    issues.push({ variable, message: `${rule} (got ${JSON.stringify(value)})` });
    return undefined;
  };
  const integer = (name: string, min: number, max: number, fallback: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = DECIMAL.test(raw) ? Number(raw) : NaN;
    if (Number.isSafeInteger(value) && value >= min && value <= max) return value;
    fail(name, `must be a whole number from ${min} to ${max}`, raw);
    return fallback;
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    fail(name, `must be one of ${allowed.join(", ")}`, raw);
    return fallback;
  };
  const matching = (name: string, pattern: RegExp, rule: string, fallback: string): string => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if (pattern.test(raw)) return raw;
    fail(name, rule, raw);
    return fallback;
  };

  const port = integer("PORT", 1, 65_535, DEFAULTS.port);

  const rawHost = read("HOST");
  let host: string = DEFAULTS.host;
  if (rawHost !== undefined) {
    if (isIP(rawHost) !== 0 || HOST_NAME.test(rawHost)) host = rawHost;
    else fail("HOST", "must be an IPv4 or IPv6 address or a host name", rawHost);
  }

  const logLevel = oneOf("LOG_LEVEL", LOG_LEVELS, DEFAULTS.logLevel);

  const rawMessage = read("MESSAGE");
  let message: string = DEFAULTS.message;
  if (rawMessage !== undefined) {
    if (rawMessage.length <= MAX_MESSAGE_LENGTH && !CONTROL.test(rawMessage)) message = rawMessage;
    else
      fail(
        "MESSAGE",
        `must be at most ${MAX_MESSAGE_LENGTH} characters without control characters`,
        rawMessage,
      );
  }

  const appEnv = oneOf("APP_ENV", APP_ENVS, DEFAULTS.appEnv);
  const appVersion = matching(
    "APP_VERSION",
    VERSION,
    "must be 1 to 64 letters, digits, '.', '+', '_' or '-', starting with a letter or digit",
    "",
  );
  const gitSha = matching(
    "GIT_SHA",
    GIT_SHA,
    "must be 7 to 40 lower-case hex digits of a commit, or 'unknown'",
    DEFAULTS.gitSha,
  );
  const shutdownDelayMs = integer(
    "SHUTDOWN_DELAY_MS",
    0,
    MAX_SHUTDOWN_DELAY_MS,
    DEFAULTS.shutdownDelayMs,
  );
  const shutdownTimeoutMs = integer(
    "SHUTDOWN_TIMEOUT_MS",
    1,
    MAX_SHUTDOWN_TIMEOUT_MS,
    DEFAULTS.shutdownTimeoutMs,
  );
  if (
    !issues.some((i) => i.variable.startsWith("SHUTDOWN_")) &&
    shutdownTimeoutMs <= shutdownDelayMs
  ) {
    issues.push({
      variable: "SHUTDOWN_TIMEOUT_MS",
      message: `must be greater than SHUTDOWN_DELAY_MS (${shutdownDelayMs}), or draining can never finish (got ${shutdownTimeoutMs})`,
    });
  }

  if (issues.length > 0) throw new ConfigError(issues);
  return {
    port,
    host,
    logLevel,
    message,
    appEnv,
    appVersion: appVersion === "" ? packageVersion() : appVersion,
    gitSha,
    shutdownDelayMs,
    shutdownTimeoutMs,
  };
}
