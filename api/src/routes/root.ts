import type { FastifyInstance } from "fastify";

/** Options of {@link rootRoute}. */
export interface RootRouteOptions {
  /** The message `GET /` returns. */
  readonly message: string;
}

/** `GET /`: the configured message and the current time in whole Unix seconds. */
export async function rootRoute(app: FastifyInstance, opts: RootRouteOptions): Promise<void> {
  const { message } = opts;
  app.get("/", async () => ({ message, timestamp: Math.floor(Date.now() / 1000) }));
}
