import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULTS, loadConfig } from "../../api/src/config";

function issuesOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.variable}: ${i.message}`);
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be rejected`);
}

describe("loadConfig", () => {
  it("applies the documented defaults to an empty environment", () => {
    expect(loadConfig({})).toEqual({
      port: 8080,
      host: "0.0.0.0",
      logLevel: "info",
      message: "Automate all the things!",
      appEnv: "local",
      appVersion: "0.1.0",
      gitSha: "unknown",
      shutdownDelayMs: 5000,
      shutdownTimeoutMs: 25000,
    });
    expect(DEFAULTS.shutdownTimeoutMs).toBeGreaterThan(DEFAULTS.shutdownDelayMs);
  });

  it("treats empty variables as unset", () => {
    expect(loadConfig({ PORT: "", MESSAGE: "", GIT_SHA: "", APP_VERSION: "" })).toEqual(
      loadConfig({}),
    );
  });

  it("reads every variable", () => {
    expect(
      loadConfig({
        PORT: "3000",
        HOST: "::",
        LOG_LEVEL: "warn",
        MESSAGE: "Hello, platform",
        APP_ENV: "prod",
        APP_VERSION: "1.2.3-rc.1+build.7",
        GIT_SHA: "abcdef1",
        SHUTDOWN_DELAY_MS: "0",
        SHUTDOWN_TIMEOUT_MS: "1000",
      }),
    ).toEqual({
      port: 3000,
      host: "::",
      logLevel: "warn",
      message: "Hello, platform",
      appEnv: "prod",
      appVersion: "1.2.3-rc.1+build.7",
      gitSha: "abcdef1",
      shutdownDelayMs: 0,
      shutdownTimeoutMs: 1000,
    });
  });

  it.each(["local", "dev", "prod", "staging", "eu-2"])(
    "accepts APP_ENV=%s: any environment's name, so a new environment needs no change here",
    (name) => {
      expect(loadConfig({ APP_ENV: name }).appEnv).toBe(name);
    },
  );

  it("checks the drain timings against each other only when each is valid", () => {
    expect(issuesOf({ SHUTDOWN_DELAY_MS: "5s", SHUTDOWN_TIMEOUT_MS: "1" })).toEqual([
      'SHUTDOWN_DELAY_MS: must be a whole number from 0 to 60000 (got "5s")',
    ]);
  });

  it.each(["127.0.0.1", "::1", "localhost", "api.internal.example"])("accepts HOST=%s", (host) => {
    expect(loadConfig({ HOST: host }).host).toBe(host);
  });

  const bad: Array<[string, NodeJS.ProcessEnv, RegExp]> = [
    [
      "PORT not a number",
      { PORT: "http" },
      /^PORT: must be a whole number from 1 to 65535 \(got "http"\)$/,
    ],
    ["PORT zero", { PORT: "0" }, /^PORT: must be a whole number from 1 to 65535/],
    ["PORT too large", { PORT: "65536" }, /^PORT: .*1 to 65535/],
    ["PORT fractional", { PORT: "80.5" }, /^PORT: /],
    ["PORT negative", { PORT: "-1" }, /^PORT: /],
    ["PORT with spaces", { PORT: " 8080" }, /^PORT: /],
    ["PORT hex", { PORT: "0x1F90" }, /^PORT: /],
    [
      "HOST with a scheme",
      { HOST: "http://0.0.0.0" },
      /^HOST: must be an IPv4 or IPv6 address or a host name/,
    ],
    ["HOST with a port", { HOST: "localhost:8080" }, /^HOST: /],
    [
      "LOG_LEVEL unknown",
      { LOG_LEVEL: "verbose" },
      /^LOG_LEVEL: must be one of trace, debug, info, warn, error, fatal, silent/,
    ],
    ["LOG_LEVEL wrong case", { LOG_LEVEL: "INFO" }, /^LOG_LEVEL: /],
    ["MESSAGE too long", { MESSAGE: "x".repeat(257) }, /^MESSAGE: must be at most 256 characters/],
    ["MESSAGE with a newline", { MESSAGE: "two\nlines" }, /^MESSAGE: .*without control characters/],
    [
      "APP_ENV not an environment's name",
      { APP_ENV: "Prod" },
      /^APP_ENV: must be local or an environment's name: 1 to 32 lower-case letters, digits and inner hyphens, starting with a letter \(got "Prod"\)$/,
    ],
    ["APP_ENV with a space", { APP_ENV: "dev 2" }, /^APP_ENV: /],
    [
      "APP_VERSION with spaces",
      { APP_VERSION: "1.0 beta" },
      /^APP_VERSION: must be 1 to 64 letters/,
    ],
    ["APP_VERSION too long", { APP_VERSION: "1".repeat(65) }, /^APP_VERSION: /],
    ["GIT_SHA not hex", { GIT_SHA: "main" }, /^GIT_SHA: must be 7 to 40 lower-case hex digits/],
    ["GIT_SHA too short", { GIT_SHA: "abc12" }, /^GIT_SHA: /],
    ["GIT_SHA upper case", { GIT_SHA: "ABCDEF1" }, /^GIT_SHA: /],
    [
      "SHUTDOWN_DELAY_MS in seconds",
      { SHUTDOWN_DELAY_MS: "5s" },
      /^SHUTDOWN_DELAY_MS: must be a whole number from 0 to 60000/,
    ],
    ["SHUTDOWN_DELAY_MS too long", { SHUTDOWN_DELAY_MS: "60001" }, /^SHUTDOWN_DELAY_MS: /],
    [
      "SHUTDOWN_TIMEOUT_MS zero",
      { SHUTDOWN_TIMEOUT_MS: "0" },
      /^SHUTDOWN_TIMEOUT_MS: must be a whole number from 1 to 600000/,
    ],
    [
      "SHUTDOWN_TIMEOUT_MS not above the delay",
      { SHUTDOWN_DELAY_MS: "10000", SHUTDOWN_TIMEOUT_MS: "10000" },
      /^SHUTDOWN_TIMEOUT_MS: must be greater than SHUTDOWN_DELAY_MS \(10000\)/,
    ],
  ];

  it.each(bad)("rejects %s, naming the variable and the allowed form", (_name, env, expected) => {
    const issues = issuesOf(env);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(expected);
  });

  it("reports every bad variable at once, in one message", () => {
    let error: unknown;
    try {
      loadConfig({ PORT: "x", LOG_LEVEL: "loud", APP_ENV: "q_a" });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message.split("\n")).toEqual([
      "invalid configuration:",
      expect.stringMatching(/^ {2}PORT: /),
      expect.stringMatching(/^ {2}LOG_LEVEL: /),
      expect.stringMatching(/^ {2}APP_ENV: /),
    ]);
  });
});
