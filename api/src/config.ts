import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { z } from "zod";

/** Log levels pino accepts, from most to least verbose, plus `silent`. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The environment an instance runs in: `local` (a developer machine or compose), or the name of a
 * platform environment (`dev`, `prod`, one added later), which the chart sets.
 */
export type AppEnv = string;

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
// An environment's name is a DNS label: it is part of its namespace's name.
const ENV_NAME = /^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
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

/** A variable: unset and empty take `fallback`; any other value must pass `schema`. */
function variable<T>(schema: z.ZodType<T>, fallback: T) {
  return z
    .preprocess((raw) => (raw === "" ? undefined : raw), schema.optional())
    .transform((value) => value ?? fallback);
}

/** A string that `test` accepts, else the issue `rule`. */
const matching = (test: (raw: string) => boolean, rule: string) =>
  z.string().refine(test, { error: rule });

/** A whole decimal number from `min` to `max`. */
const whole = (min: number, max: number) =>
  matching(
    (raw) => DECIMAL.test(raw) && Number(raw) >= min && Number(raw) <= max,
    `must be a whole number from ${min} to ${max}`,
  ).transform(Number);

/** One of `allowed`. */
const oneOf = <T extends string>(allowed: readonly T[]) =>
  matching(
    (raw) => (allowed as readonly string[]).includes(raw),
    `must be one of ${allowed.join(", ")}`,
  ).transform((raw) => raw as T);

/** The variables the service reads. Others are ignored: a process environment holds many. */
const VARIABLES = z.object({
  PORT: variable(whole(1, 65_535), DEFAULTS.port),
  HOST: variable(
    matching(
      (raw) => isIP(raw) !== 0 || HOST_NAME.test(raw),
      "must be an IPv4 or IPv6 address or a host name",
    ),
    DEFAULTS.host,
  ),
  LOG_LEVEL: variable(oneOf(LOG_LEVELS), DEFAULTS.logLevel as LogLevel),
  MESSAGE: variable(
    matching(
      (raw) => raw.length <= MAX_MESSAGE_LENGTH && !CONTROL.test(raw),
      `must be at most ${MAX_MESSAGE_LENGTH} characters without control characters`,
    ),
    DEFAULTS.message as string,
  ),
  APP_ENV: variable(
    matching(
      (raw) => ENV_NAME.test(raw),
      "must be local or an environment's name: 1 to 32 lower-case letters, digits and inner hyphens, starting with a letter",
    ),
    DEFAULTS.appEnv as string,
  ),
  APP_VERSION: variable(
    matching(
      (raw) => VERSION.test(raw),
      "must be 1 to 64 letters, digits, '.', '+', '_' or '-', starting with a letter or digit",
    ),
    undefined,
  ),
  GIT_SHA: variable(
    matching(
      (raw) => GIT_SHA.test(raw),
      "must be 7 to 40 lower-case hex digits of a commit, or 'unknown'",
    ),
    DEFAULTS.gitSha as string,
  ),
});

/** The drain timings, checked against each other once each is valid on its own. */
const SHUTDOWN = z
  .object({
    SHUTDOWN_DELAY_MS: variable(
      whole(0, MAX_SHUTDOWN_DELAY_MS),
      DEFAULTS.shutdownDelayMs as number,
    ),
    SHUTDOWN_TIMEOUT_MS: variable(
      whole(1, MAX_SHUTDOWN_TIMEOUT_MS),
      DEFAULTS.shutdownTimeoutMs as number,
    ),
  })
  .refine((v) => v.SHUTDOWN_TIMEOUT_MS > v.SHUTDOWN_DELAY_MS, {
    path: ["SHUTDOWN_TIMEOUT_MS"],
    when: (payload) => payload.issues.length === 0,
    error: (issue) => {
      const v = issue.input as { SHUTDOWN_DELAY_MS: number; SHUTDOWN_TIMEOUT_MS: number };
      return `must be greater than SHUTDOWN_DELAY_MS (${v.SHUTDOWN_DELAY_MS}), or draining can never finish (got ${v.SHUTDOWN_TIMEOUT_MS})`;
    },
  });

/** The issues of one schema as {@link ConfigIssue}s, each with the value it rejected. */
function issuesOf(error: z.ZodError, env: NodeJS.ProcessEnv): ConfigIssue[] {
  return error.issues.map((issue) => {
    const name = String(issue.path[0]);
    // A rule across variables states the values it compared; a variable's own rule gets its value.
    const got = issue.message.includes("(got ") ? "" : ` (got ${JSON.stringify(env[name])})`;
    return { variable: name, message: `${issue.message}${got}` };
  });
}

/**
 * Reads and validates the configuration. Unset and empty variables take their default; any
 * other bad value is collected, and all of them are thrown together in a {@link ConfigError}.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const variables = VARIABLES.safeParse(env);
  const shutdown = SHUTDOWN.safeParse(env);
  const issues = [variables, shutdown].flatMap((r) => (r.success ? [] : issuesOf(r.error, env)));
  if (issues.length > 0 || !variables.success || !shutdown.success) throw new ConfigError(issues);
  const v = variables.data;
  return {
    port: v.PORT,
    host: v.HOST,
    logLevel: v.LOG_LEVEL,
    message: v.MESSAGE,
    appEnv: v.APP_ENV,
    appVersion: v.APP_VERSION ?? packageVersion(),
    gitSha: v.GIT_SHA,
    shutdownDelayMs: shutdown.data.SHUTDOWN_DELAY_MS,
    shutdownTimeoutMs: shutdown.data.SHUTDOWN_TIMEOUT_MS,
  };
}
