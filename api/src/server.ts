import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { buildApp, type ServerTimeouts } from "./app";
import { ConfigError, loadConfig, type Config } from "./config";
import { Lifecycle } from "./lifecycle";
import { createLogging } from "./logger";

/** Server timeouts; the keep-alive timeout outlives the AWS load balancers' 60 s idle timeout. */
export const SERVER_TIMEOUTS: ServerTimeouts = {
  keepAliveTimeoutMs: 65_000,
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
};

/** Ends the process; pending log lines are written on exit (see `stdoutLines`). */
function exit(code: number): never {
  process.exit(code);
}

/**
 * Graceful shutdown. On the first SIGTERM or SIGINT readiness fails at once and requests keep
 * being served for `shutdownDelayMs` (the load balancer needs that long to stop sending); then
 * the server stops accepting connections, closes idle keep-alive sockets and answers in-flight
 * requests with `Connection: close`, and the process exits 0 once every connection is closed.
 * Past `shutdownTimeoutMs` from the signal it exits 1; a second signal exits 1 at once.
 */
export function installShutdown(
  app: FastifyInstance,
  lifecycle: Lifecycle,
  logger: Logger,
  config: Pick<Config, "shutdownDelayMs" | "shutdownTimeoutMs">,
): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      logger.warn({ signal }, "second signal during shutdown, exiting now");
      exit(1);
    }
    signalled = true;
    lifecycle.markDraining();
    logger.info(
      { signal, delayMs: config.shutdownDelayMs, timeoutMs: config.shutdownTimeoutMs },
      "shutdown started, readiness now fails",
    );
    setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, "shutdown timed out");
      exit(1);
    }, config.shutdownTimeoutMs).unref();
    setTimeout(() => {
      logger.info("no longer accepting connections, finishing in-flight requests");
      app.close().then(
        () => {
          logger.info("shutdown complete");
          exit(0);
        },
        (err: unknown) => {
          logger.error({ err }, "shutdown failed");
          exit(1);
        },
      );
    }, config.shutdownDelayMs);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return exit(1);
  }

  const { logger, accessLog } = createLogging(config.logLevel);
  process.on("uncaughtException", (err) => {
    logger.fatal({ err }, "uncaught exception");
    exit(1);
  });
  process.on("unhandledRejection", (err) => {
    logger.fatal({ err }, "unhandled rejection");
    exit(1);
  });

  const lifecycle = new Lifecycle();
  const app = buildApp({ config, lifecycle, logger, accessLog, timeouts: SERVER_TIMEOUTS });
  installShutdown(app, lifecycle, logger, config);

  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    logger.fatal({ err, port: config.port, host: config.host }, "cannot listen");
    return exit(1);
  }
  lifecycle.markServing();
  logger.info(
    {
      port: config.port,
      host: config.host,
      version: config.appVersion,
      commit: config.gitSha,
      environment: config.appEnv,
      startupMs: Math.round(process.uptime() * 1000),
    },
    "ready",
  );
}

if (require.main === module) void main();
