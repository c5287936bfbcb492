/**
 * Smoke test of a deployed environment: `/readyz` answers 200, `GET /` returns the API's JSON
 * shape, and `GET /version` reports the commit (and version) that was just deployed. Retries until
 * every check passes or the deadline is reached: a new load balancer takes minutes to resolve.
 */
import { DeliveryError } from "./errors";

/** What the deployed service must report. */
export interface SmokeExpectations {
  /** Base URL, e.g. `http://k8s-api-1234.eu-west-1.elb.amazonaws.com`. */
  readonly baseUrl: string;
  /** Commit the service must report at `/version` (the API's `GIT_SHA`). */
  readonly commit?: string;
  /** Version the service must report at `/version`. */
  readonly version?: string;
}

/** Timing of {@link smokeTest}. */
export interface SmokeTiming {
  /** Give up after this long. */
  readonly deadlineMs: number;
  /** Wait between attempts. */
  readonly intervalMs: number;
  /** Timeout of one request. */
  readonly requestTimeoutMs: number;
}

/** Injected for tests: `fetch`, a clock and a sleep. */
export interface SmokeRuntime {
  readonly fetch: typeof fetch;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly log: (line: string) => void;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Validates a base URL: http(s), a host, no path beyond `/`. */
export function parseBaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new DeliveryError(
      `service URL ${JSON.stringify(text)} is not a URL: expected http://<load balancer hostname> (the stack's service_url output).`,
    );
  }
  if (!["http:", "https:"].includes(url.protocol) || !url.hostname) {
    throw new DeliveryError(
      `service URL ${JSON.stringify(text)} must be http:// or https:// with a host name.`,
    );
  }
  if (url.pathname !== "/" || url.search || url.hash) {
    throw new DeliveryError(
      `service URL ${JSON.stringify(text)} must not carry a path, query or fragment.`,
    );
  }
  return url.origin;
}

async function getJson(
  runtime: SmokeRuntime,
  url: string,
  timeoutMs: number,
): Promise<{ status: number; body: unknown }> {
  const response = await runtime.fetch(url, {
    signal: AbortSignal.timeout(timeoutMs),
    headers: { accept: "application/json" },
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, body };
}

/** One pass of every check; returns the reason it failed, or `undefined` when all passed. */
export async function smokeOnce(
  runtime: SmokeRuntime,
  expect: SmokeExpectations,
  requestTimeoutMs: number,
): Promise<string | undefined> {
  const base = parseBaseUrl(expect.baseUrl);
  const ready = await getJson(runtime, `${base}/readyz`, requestTimeoutMs);
  if (ready.status !== 200) return `GET /readyz answered ${ready.status}`;

  const root = await getJson(runtime, `${base}/`, requestTimeoutMs);
  if (root.status !== 200) return `GET / answered ${root.status}`;
  if (!isRecord(root.body)) return "GET / did not return a JSON object";
  if (typeof root.body.message !== "string") return 'GET / has no string "message"';
  if (typeof root.body.timestamp !== "number" || !Number.isInteger(root.body.timestamp)) {
    return 'GET / has no integer "timestamp"';
  }
  const skew = Math.abs(root.body.timestamp - Math.floor(runtime.now() / 1000));
  if (skew > 300) return `GET / timestamp is ${skew} s away from now`;

  const version = await getJson(runtime, `${base}/version`, requestTimeoutMs);
  if (version.status !== 200 || !isRecord(version.body))
    return `GET /version answered ${version.status}`;
  if (expect.commit !== undefined && version.body.commit !== expect.commit) {
    return `GET /version reports commit ${JSON.stringify(version.body.commit)}, expected ${expect.commit} (old pods still serving?)`;
  }
  if (expect.version !== undefined && version.body.version !== expect.version) {
    return `GET /version reports version ${JSON.stringify(version.body.version)}, expected ${expect.version}`;
  }
  return undefined;
}

/** Retries {@link smokeOnce} until it passes; throws a {@link DeliveryError} at the deadline. */
export async function smokeTest(
  expect: SmokeExpectations,
  timing: SmokeTiming,
  runtime: SmokeRuntime,
): Promise<{ attempts: number }> {
  parseBaseUrl(expect.baseUrl);
  const start = runtime.now();
  let attempts = 0;
  let last: string;
  for (;;) {
    attempts += 1;
    try {
      const failure = await smokeOnce(runtime, expect, timing.requestTimeoutMs);
      if (failure === undefined) {
        runtime.log(`smoke: ${expect.baseUrl} passed on attempt ${attempts}`);
        return { attempts };
      }
      last = failure;
    } catch (error) {
      if (error instanceof DeliveryError) throw error;
      last = `request failed: ${(error as Error).message}`;
    }
    runtime.log(`smoke: attempt ${attempts}: ${last}`);
    if (runtime.now() - start + timing.intervalMs > timing.deadlineMs) {
      throw new DeliveryError(
        `smoke test of ${expect.baseUrl} failed after ${attempts} attempts in ${Math.round((runtime.now() - start) / 1000)} s: ${last}.`,
      );
    }
    await runtime.sleep(timing.intervalMs);
  }
}
