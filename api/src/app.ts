import { randomUUID } from "node:crypto";
import {
  ServerResponse,
  type IncomingMessage,
  type OutgoingHttpHeader,
  type OutgoingHttpHeaders,
} from "node:http";
import { createRequire } from "node:module";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyServerOptions,
  type FastifyInstance,
  type FastifyReply,
} from "fastify";
import { AccessLog, type AccessLogTarget } from "./access-log";
import type { Config } from "./config";
import { errorBody, handleError } from "./errors";
import { Lifecycle } from "./lifecycle";
import { Metrics } from "./metrics";
import { healthRoutes } from "./routes/health";
import { deferredChildLogger } from "./request-logger";
import { metricsRoute } from "./routes/metrics";
import { rootRoute } from "./routes/root";
import { versionRoute } from "./routes/version";

/** Timeouts of the HTTP server; the server file owns their values. */
export interface ServerTimeouts {
  /**
   * How long an idle keep-alive connection stays open. Keep it above the load balancer's idle
   * timeout (60 s on AWS load balancers) so the balancer, not the server, closes idle connections.
   */
  readonly keepAliveTimeoutMs: number;
  /** Most time allowed to receive a whole request. */
  readonly requestTimeoutMs: number;
  /** Most time allowed to receive the request headers (slow-loris protection). */
  readonly headersTimeoutMs: number;
}

/** Properties for {@link buildApp}. */
export interface BuildAppProps {
  /** The validated configuration. */
  readonly config: Config;
  /**
   * Process state that readiness reports.
   * @default a new Lifecycle, in state `starting` (readiness 503)
   */
  readonly lifecycle?: Lifecycle;
  /**
   * Logger for errors and `request.log`.
   * @default no logging
   */
  readonly logger?: FastifyBaseLogger;
  /**
   * Where access lines go, one per request (see `createLogging`).
   * @default no access lines
   */
  readonly accessLog?: AccessLogTarget;
  /**
   * Request metrics.
   * @default a new Metrics with its own registry
   */
  readonly metrics?: Metrics;
  /**
   * HTTP server timeouts.
   * @default Node.js and fastify defaults
   */
  readonly timeouts?: ServerTimeouts;
}

/** The API takes no request bodies; anything larger than this is refused with 413 unread. */
export const BODY_LIMIT_BYTES = 16 * 1024;

/** A client-supplied `x-request-id` is kept only in this shape; anything else is replaced. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Response headers for a JSON API that browsers should never render, frame, sniff or cache (the
 * OWASP REST set). HSTS is left to the TLS-terminating load balancer: this server speaks plain
 * HTTP inside the cluster. Each header costs every response some time, so the list stays short.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "cache-control": "no-store",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
};

type Compilers = NonNullable<
  NonNullable<FastifyServerOptions["schemaController"]>["compilersFactory"]
>;
type ValidatorFactory = NonNullable<Compilers["buildValidator"]>;
type SerializerFactory = NonNullable<Compilers["buildSerializer"]>;

/**
 * Fastify loads its schema compilers (ajv, fast-json-stringify), about a third of its start
 * time, whenever an instance is created. No route here declares a schema, so they load only if
 * one ever does, from fastify's own dependencies.
 */
function lazyCompilers(): Compilers {
  const fromFastify = createRequire(require.resolve("fastify"));
  let validator: ValidatorFactory | undefined;
  let serializer: SerializerFactory | undefined;
  return {
    buildValidator: (...args) => {
      validator ??= (fromFastify("@fastify/ajv-compiler") as () => ValidatorFactory)();
      return validator(...args);
    },
    buildSerializer: (...args) => {
      serializer ??= (
        fromFastify("@fastify/fast-json-stringify-compiler") as () => SerializerFactory
      )();
      return serializer(...args);
    },
  };
}

function requestId(req: IncomingMessage): string {
  const header = req.headers["x-request-id"];
  return typeof header === "string" && REQUEST_ID.test(header) ? header : randomUUID();
}

function decorate(reply: FastifyReply, id: string): void {
  reply.headers(SECURITY_HEADERS);
  reply.header("x-request-id", id);
}

/**
 * Responses that end their connection once the server is closing. Fastify itself answers
 * requests that arrive after `close()` with `Connection: close`; this covers requests already
 * in flight when it was called, which would otherwise leave their keep-alive connection open
 * until it idles out, and hold up the exit.
 */
function closingAwareResponse(lifecycle: Lifecycle): typeof ServerResponse {
  type Headers = OutgoingHttpHeaders | OutgoingHttpHeader[];
  class ClosingAwareResponse extends ServerResponse {
    override writeHead(statusCode: number, statusMessage?: string, headers?: Headers): this;
    override writeHead(statusCode: number, headers?: Headers): this;
    override writeHead(statusCode: number, ...rest: unknown[]): this {
      if (lifecycle.state === "closing") this.shouldKeepAlive = false;
      return (super.writeHead as (statusCode: number, ...rest: unknown[]) => this)(
        statusCode,
        ...rest,
      );
    }
  }
  return ClosingAwareResponse as typeof ServerResponse;
}

/** Malformed URLs (bad percent-encoding) are refused before routing, so before any hook. */
function answerFrameworkError(error: FastifyError, id: string, reply: FastifyReply): void {
  decorate(reply, id);
  const status = error.statusCode !== undefined && error.statusCode < 500 ? error.statusCode : 400;
  void reply.code(status).send(errorBody(status, error.message));
}

/**
 * Builds the API. It never listens: the server file listens and owns shutdown, and tests call
 * `inject()` on what this returns.
 */
export function buildApp(props: BuildAppProps): FastifyInstance {
  const { config, timeouts } = props;
  const lifecycle = props.lifecycle ?? new Lifecycle();
  const metrics = props.metrics ?? new Metrics();

  const app = Fastify({
    ...(props.logger ? { loggerInstance: props.logger } : { logger: false }),
    genReqId: requestId,
    requestIdHeader: false,
    childLoggerFactory: deferredChildLogger,
    logController: new AccessLog(props.accessLog),
    schemaController: { compilersFactory: lazyCompilers() },
    bodyLimit: BODY_LIMIT_BYTES,
    // During shutdown, requests that still arrive on open connections are served (with
    // `Connection: close`) rather than refused: dropping none is the point of draining.
    return503OnClosing: false,
    forceCloseConnections: "idle",
    // Node.js refuses an HTTP/1.1 request without Host with an empty 400; the onRequest hook
    // refuses it instead, with the JSON error body every other client error gets.
    http: {
      requireHostHeader: false,
      ServerResponse: closingAwareResponse(lifecycle),
      ...(timeouts && { headersTimeout: timeouts.headersTimeoutMs }),
    },
    ...(timeouts && {
      keepAliveTimeout: timeouts.keepAliveTimeoutMs,
      requestTimeout: timeouts.requestTimeoutMs,
    }),
    frameworkErrors: (error, request, reply) =>
      answerFrameworkError(error, request.id, reply as FastifyReply),
  });

  // Method lists per path, for 405 answers with an `Allow` header.
  const routeMethods = new Map<string, Set<string>>();
  app.addHook("onRoute", (route) => {
    const methods = routeMethods.get(route.url) ?? new Set<string>();
    for (const method of [route.method].flat()) methods.add(method);
    routeMethods.set(route.url, methods);
  });

  app.addHook("onRequest", (request, reply, done) => {
    decorate(reply, request.id);
    if (request.headers.host === undefined && request.raw.httpVersion === "1.1") {
      reply.code(400).send(errorBody(400, "Missing Host header"));
      return;
    }
    done();
  });

  // Once closing, responses to requests already in flight end their connection (see
  // closingAwareResponse), so the server can finish closing without waiting for idle
  // keep-alive sockets to time out.
  app.addHook("preClose", (done) => {
    lifecycle.markClosing();
    done();
  });

  app.addHook("onResponse", (request, reply, done) => {
    metrics.observe(request.method, request.routeOptions.url, reply.statusCode, reply.elapsedTime);
    done();
  });

  app.setErrorHandler(handleError);

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?", 1)[0] ?? "";
    const allowed = routeMethods.get(path);
    if (allowed) {
      reply.header("allow", [...allowed].sort().join(", "));
      return reply.code(405).send(errorBody(405, `${request.method} is not allowed here`));
    }
    return reply.code(404).send(errorBody(404, "No route matches this path"));
  });

  void app.register(rootRoute, { message: config.message });
  void app.register(healthRoutes, { lifecycle });
  void app.register(metricsRoute, { metrics });
  void app.register(versionRoute, {
    version: config.appVersion,
    commit: config.gitSha,
    environment: config.appEnv,
  });

  return app;
}
