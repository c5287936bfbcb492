import { describe, expect, it } from "vitest";
import { DeliveryError } from "../../scripts/delivery/errors";
import { parseBaseUrl, smokeTest, type SmokeRuntime } from "../../scripts/delivery/smoke";

const COMMIT = "3f1c2a9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39";
type Route = (path: string) => { status: number; body: unknown } | Error;

/** A fake service and clock: each attempt may answer differently; sleeping advances the clock. */
function runtime(route: (attempt: number) => Route) {
  let now = 1_800_000_000_000;
  let attempt = 0;
  const lines: string[] = [];
  const rt: SmokeRuntime = {
    fetch: (async (input: string | URL) => {
      const path = new URL(String(input)).pathname;
      if (path === "/readyz") attempt += 1;
      const answer = route(attempt)(path);
      if (answer instanceof Error) throw answer;
      return new Response(JSON.stringify(answer.body), { status: answer.status });
    }) as typeof fetch,
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
    log: (line) => lines.push(line),
  };
  return { rt, lines, elapsed: () => now - 1_800_000_000_000 };
}

const healthy =
  (commit = COMMIT, version = "1.4.0"): Route =>
  (path) => {
    if (path === "/readyz") return { status: 200, body: { status: "ready" } };
    if (path === "/")
      return {
        status: 200,
        body: { message: "Automate all the things!", timestamp: 1_800_000_000 },
      };
    if (path === "/version") return { status: 200, body: { version, commit, environment: "dev" } };
    return { status: 404, body: {} };
  };
const timing = { deadlineMs: 60_000, intervalMs: 10_000, requestTimeoutMs: 1_000 };
const expectation = {
  baseUrl: "http://k8s-dev-api.elb.amazonaws.com",
  commit: COMMIT,
  version: "1.4.0",
};

describe("smoke test", () => {
  it("passes when ready, the root shape is right and the new commit serves", async () => {
    const { rt } = runtime(() => healthy());
    await expect(smokeTest(expectation, timing, rt)).resolves.toEqual({ attempts: 1 });
  });
  it("retries through a load balancer that does not resolve yet and a pod that is not ready", async () => {
    const { rt, lines } = runtime((attempt) =>
      attempt === 1
        ? () => new TypeError("fetch failed")
        : attempt === 2
          ? (path) =>
              path === "/readyz" ? { status: 503, body: { status: "starting" } } : healthy()(path)
          : healthy(),
    );
    await expect(smokeTest(expectation, timing, rt)).resolves.toEqual({ attempts: 3 });
    expect(lines[0]).toContain("request failed: fetch failed");
    expect(lines[1]).toContain("GET /readyz answered 503");
  });
  it("waits for the old pods to go, and fails at the deadline if they stay", async () => {
    const { rt, elapsed } = runtime(() => healthy("0".repeat(40)));
    await expect(smokeTest(expectation, timing, rt)).rejects.toThrow(
      /failed after 7 attempts in 60 s: GET \/version reports commit "0{40}", expected 3f1c/,
    );
    expect(elapsed()).toBeLessThanOrEqual(timing.deadlineMs);
  });
  it("checks the JSON shape of GET /", async () => {
    const { rt } = runtime(
      () => (path) =>
        path === "/" ? { status: 200, body: { message: "hi", timestamp: "now" } } : healthy()(path),
    );
    await expect(smokeTest(expectation, timing, rt)).rejects.toThrow(
      /GET \/ has no integer "timestamp"/,
    );
  });
  it("checks the version", async () => {
    const { rt } = runtime(() => healthy(COMMIT, "1.3.9"));
    await expect(smokeTest(expectation, timing, rt)).rejects.toThrow(
      /reports version "1.3.9", expected 1.4.0/,
    );
  });
  it.each([
    "k8s-dev-api.elb.amazonaws.com",
    "ftp://host",
    "http://host/path",
    "http://host/?q=1",
    "",
  ])("refuses %j as a service URL before trying", (url) => {
    expect(() => parseBaseUrl(url)).toThrow(DeliveryError);
  });
});
