import type { FastifyInstance } from "fastify";
import type { Lifecycle } from "../lifecycle";

/** Options of {@link healthRoutes}. */
export interface HealthRoutesOptions {
  /** The process state that readiness reports. */
  readonly lifecycle: Lifecycle;
}

/**
 * `GET /healthz` (liveness) answers 200 as long as the event loop runs: it checks nothing else,
 * so a slow dependency never gets a healthy pod restarted. `GET /readyz` (readiness) answers 200
 * only while serving, and 503 while starting or draining.
 */
export async function healthRoutes(app: FastifyInstance, opts: HealthRoutesOptions): Promise<void> {
  const { lifecycle } = opts;
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_request, reply) => {
    if (lifecycle.ready) return { status: "ready" };
    return reply.code(503).send({ status: lifecycle.state });
  });
}
