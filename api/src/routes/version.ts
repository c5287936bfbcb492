import type { FastifyInstance } from "fastify";
import type { AppEnv } from "../config";

/** Options of {@link versionRoute}. */
export interface VersionRouteOptions {
  readonly version: string;
  readonly commit: string;
  readonly environment: AppEnv;
}

/** `GET /version`: what is running, and where. */
export async function versionRoute(app: FastifyInstance, opts: VersionRouteOptions): Promise<void> {
  const body = { version: opts.version, commit: opts.commit, environment: opts.environment };
  app.get("/version", async () => body);
}
