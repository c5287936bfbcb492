import { Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Label value for requests that matched no route, so unknown paths cannot explode cardinality. */
export const UNMATCHED_ROUTE = "unmatched";

const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** The request metrics of one app, in a registry of its own (no global state between apps). */
export class Metrics {
  /** Registry served by `GET /metrics`. */
  public readonly registry: Registry;
  private readonly duration: Histogram<"method" | "route" | "status_code">;

  constructor() {
    this.registry = new Registry();
    // Process metrics (CPU, memory, file descriptors) and Node.js metrics (event-loop lag and
    // utilisation, heap, GC, active handles).
    collectDefaultMetrics({ register: this.registry });
    // The histogram's `_count` series is the request count: one series less to update per request.
    this.duration = new Histogram({
      name: "http_request_duration_seconds",
      help: "HTTP requests answered and their duration from request received to response sent, by method, route template and status code.",
      labelNames: ["method", "route", "status_code"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
  }

  /** Records one answered request; `route` is the route template, or undefined when none matched. */
  public observe(method: string, route: string | undefined, statusCode: number, ms: number): void {
    const labels = {
      method: KNOWN_METHODS.has(method) ? method : "OTHER",
      route: route ?? UNMATCHED_ROUTE,
      status_code: statusCode,
    };
    this.duration.observe(labels, ms / 1000);
  }
}
