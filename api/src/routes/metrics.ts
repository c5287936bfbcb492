import type { FastifyInstance } from "fastify";
import type { Metrics } from "../metrics";

/** Options of {@link metricsRoute}. */
export interface MetricsRouteOptions {
  readonly metrics: Metrics;
}

/** `GET /metrics`: the Prometheus text exposition of the app's registry. */
export async function metricsRoute(app: FastifyInstance, opts: MetricsRouteOptions): Promise<void> {
  const { registry } = opts.metrics;
  app.get("/metrics", async (_request, reply) => {
    const body = await registry.metrics();
    return reply.type(registry.contentType).send(body);
  });
}
