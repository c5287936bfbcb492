import { afterEach, describe, expect, it } from "vitest";
import { Agent, request } from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { BODY_LIMIT_BYTES, SECURITY_HEADERS, buildApp } from "../../api/src/app";
import { Lifecycle } from "../../api/src/lifecycle";
import { testApp, testConfig } from "./support";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const opened: FastifyInstance[] = [];

function track<T extends { app: FastifyInstance }>(built: T): T {
  opened.push(built.app);
  return built;
}

/** GET / through `agent`, with the response's Connection header and whether the socket was reused. */
function get(agent: Agent, port: number) {
  return new Promise<{ status: number; connection: string | undefined; socketReused: boolean }>(
    (done, fail) => {
      const req = request({ host: "127.0.0.1", port, path: "/", agent }, (res) => {
        res.resume();
        res.on("end", () =>
          done({
            status: res.statusCode ?? 0,
            connection: res.headers.connection,
            socketReused: req.reusedSocket,
          }),
        );
      });
      req.on("error", fail);
      req.end();
    },
  );
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((app) => app.close()));
});

describe("GET /", () => {
  it("returns the default message and the current time in whole Unix seconds", async () => {
    const { app } = track(testApp());
    const before = Math.floor(Date.now() / 1000);
    const res = await app.inject({ method: "GET", url: "/" });
    const after = Math.floor(Date.now() / 1000);
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("application/json; charset=utf-8");
    const body = res.json<{ message: string; timestamp: number }>();
    expect(Object.keys(body).sort()).toEqual(["message", "timestamp"]);
    expect(body.message).toBe("Automate all the things!");
    expect(Number.isInteger(body.timestamp)).toBe(true);
    expect(body.timestamp).toBeGreaterThanOrEqual(before);
    expect(body.timestamp).toBeLessThanOrEqual(after);
  });

  it("returns the configured MESSAGE", async () => {
    const { app } = track(testApp({ MESSAGE: "Ship it, safely." }));
    const res = await app.inject({ method: "GET", url: "/" });
    expect(res.json()).toMatchObject({ message: "Ship it, safely." });
  });

  it("answers HEAD with the headers and no body", async () => {
    const { app } = track(testApp());
    const res = await app.inject({ method: "HEAD", url: "/" });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe("");
  });
});

describe("health and version", () => {
  it("GET /healthz answers 200 in every lifecycle state", async () => {
    const { app, lifecycle } = track(testApp());
    for (const step of [() => undefined, () => lifecycle.markDraining()]) {
      step();
      const res = await app.inject({ method: "GET", url: "/healthz" });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: "ok" });
    }
  });

  it("GET /readyz is 503 while starting, 200 while serving, 503 while draining and closing", async () => {
    const lifecycle = new Lifecycle();
    const app = buildApp({ config: testConfig(), lifecycle });
    opened.push(app);
    const ready = async () => {
      const res = await app.inject({ method: "GET", url: "/readyz" });
      return [res.statusCode, res.json<{ status: string }>().status];
    };
    expect(await ready()).toEqual([503, "starting"]);
    lifecycle.markServing();
    expect(await ready()).toEqual([200, "ready"]);
    lifecycle.markDraining();
    expect(await ready()).toEqual([503, "draining"]);
    lifecycle.markServing();
    expect(await ready()).toEqual([503, "draining"]);
    lifecycle.markClosing();
    expect(await ready()).toEqual([503, "closing"]);
  });

  it("GET /version reports the package version, the commit and the environment", async () => {
    const { app } = track(testApp());
    const res = await app.inject({ method: "GET", url: "/version" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      version: "0.1.0",
      commit: "0123456789abcdef0123456789abcdef01234567",
      environment: "dev",
    });
  });

  it("GET /version reports APP_VERSION when it is set", async () => {
    const { app } = track(testApp({ APP_VERSION: "1.4.2", APP_ENV: "prod" }));
    const res = await app.inject({ method: "GET", url: "/version" });
    expect(res.json()).toMatchObject({ version: "1.4.2", environment: "prod" });
  });
});

describe("headers", () => {
  const cases: Array<[string, string, number]> = [
    ["GET", "/", 200],
    ["GET", "/healthz", 200],
    ["GET", "/metrics", 200],
    ["GET", "/missing", 404],
    ["DELETE", "/", 405],
    ["GET", "/%zz", 400],
  ];
  it.each(cases)(
    "%s %s (%i) carries the security headers and no x-powered-by",
    async (method, url, status) => {
      const { app } = track(testApp());
      const res = await app.inject({ method: method as "GET", url });
      expect(res.statusCode).toBe(status);
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
        expect(res.headers[name], name).toBe(value);
      }
      expect(res.headers["x-powered-by"]).toBeUndefined();
      expect(res.headers["server"]).toBeUndefined();
      expect(res.headers["x-request-id"]).toMatch(UUID);
    },
  );

  it("echoes a well-formed x-request-id and uses it in the access log", async () => {
    const { app, logs } = track(testApp());
    const res = await app.inject({
      method: "GET",
      url: "/",
      headers: { "x-request-id": "trace-42.abc:def_9" },
    });
    expect(res.headers["x-request-id"]).toBe("trace-42.abc:def_9");
    expect(logs.filter((l) => l.msg === "request completed")).toEqual([
      expect.objectContaining({ reqId: "trace-42.abc:def_9" }),
    ]);
  });

  it.each([
    ["too long", "a".repeat(129)],
    ["spaces", "two words"],
    ["JSON", '{"inject":true}'],
    ["empty", ""],
  ])("replaces a malformed x-request-id (%s) with a fresh UUID", async (_name, id) => {
    const { app } = track(testApp());
    const res = await app.inject({ method: "GET", url: "/", headers: { "x-request-id": id } });
    expect(res.headers["x-request-id"]).toMatch(UUID);
  });

  it("gives each request its own id when none is sent", async () => {
    const { app } = track(testApp());
    const a = await app.inject({ method: "GET", url: "/" });
    const b = await app.inject({ method: "GET", url: "/" });
    expect(a.headers["x-request-id"]).not.toBe(b.headers["x-request-id"]);
  });

  it("ends keep-alive connections with Connection: close once the app is closing", async () => {
    const { app, lifecycle } = track(testApp());
    await app.listen({ host: "127.0.0.1", port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const open = await get(agent, port);
      expect(open.status).toBe(200);
      expect(open.connection).toBe("keep-alive");
      // A request in flight when close() begins: the server is still listening.
      lifecycle.markClosing();
      const closing = await get(agent, port);
      expect(closing.status).toBe(200);
      expect(closing.connection).toBe("close");
      expect(closing.socketReused).toBe(true);
    } finally {
      agent.destroy();
    }
  });
});

describe("access log", () => {
  it("writes exactly one JSON line per request with id, method, url, route, status and duration", async () => {
    const { app, logs } = track(testApp());
    await app.inject({ method: "GET", url: "/?a=1" });
    await app.inject({ method: "GET", url: "/nope" });
    await app.inject({
      method: "POST",
      url: "/",
      payload: "{",
      headers: { "content-type": "application/json" },
    });
    const lines = logs.filter((l) => "statusCode" in l);
    expect(logs).toHaveLength(3);
    expect(lines).toEqual([
      expect.objectContaining({
        method: "GET",
        url: "/?a=1",
        route: "/",
        statusCode: 200,
        level: "info",
        service: "api",
      }),
      expect.objectContaining({ method: "GET", url: "/nope", statusCode: 404 }),
      expect.objectContaining({ method: "POST", url: "/", statusCode: 400 }),
    ]);
    for (const line of lines) {
      expect(line.reqId).toMatch(UUID);
      expect(typeof line.durationMs).toBe("number");
      expect(line.msg).toBe("request completed");
    }
  });
});

describe("metrics", () => {
  it("counts requests and their durations by method, route template and status", async () => {
    const { app } = track(testApp());
    await app.inject({ method: "GET", url: "/" });
    await app.inject({ method: "GET", url: "/?x=1" });
    await app.inject({ method: "GET", url: "/does/not/exist" });
    await app.inject({ method: "GET", url: "/another-miss" });
    await app.inject({ method: "PUT", url: "/version" });
    const res = await app.inject({ method: "GET", url: "/metrics" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = res.body;
    // The histogram's _count series is the request count.
    const count = (labels: string) => `http_request_duration_seconds_count{${labels}}`;
    expect(text).toContain(`${count('method="GET",route="/",status_code="200"')} 2\n`);
    expect(text).toContain(`${count('method="GET",route="unmatched",status_code="404"')} 2\n`);
    expect(text).toContain(`${count('method="PUT",route="unmatched",status_code="405"')} 1\n`);
    expect(text).toMatch(
      /http_request_duration_seconds_bucket\{le="0\.0005",method="GET",route="\/",status_code="200"\} \d/,
    );
    expect(text).toMatch(
      /^http_request_duration_seconds_sum\{method="GET",route="\/",status_code="200"\} [\d.e-]+$/m,
    );
    expect(text).not.toContain("does/not/exist");
  });

  it("exposes process and event-loop metrics", async () => {
    const { app } = track(testApp());
    const text = (await app.inject({ method: "GET", url: "/metrics" })).body;
    for (const name of [
      "process_cpu_user_seconds_total",
      "process_resident_memory_bytes",
      "process_open_fds",
      "nodejs_eventloop_lag_seconds",
      "nodejs_eventloop_lag_p99_seconds",
      "nodejs_heap_size_used_bytes",
    ]) {
      expect(text).toMatch(new RegExp(`^# TYPE ${name} `, "m"));
    }
  });

  it("keeps each app's metrics apart", async () => {
    const first = track(testApp());
    const second = track(testApp());
    await first.app.inject({ method: "GET", url: "/" });
    const text = (await second.app.inject({ method: "GET", url: "/metrics" })).body;
    expect(text).not.toContain('route="/",status_code="200"');
  });
});

describe("errors", () => {
  type Case = {
    name: string;
    method: string;
    url: string;
    status: number;
    headers?: Record<string, string>;
    payload?: string;
  };
  const json = { "content-type": "application/json" };
  const cases: Case[] = [
    { name: "unknown path", method: "GET", url: "/admin", status: 404 },
    { name: "path traversal", method: "GET", url: "/../../etc/passwd", status: 404 },
    { name: "encoded traversal", method: "GET", url: "/%2e%2e/%2e%2e/etc/passwd", status: 404 },
    { name: "trailing slash", method: "GET", url: "/healthz/", status: 404 },
    { name: "bad percent-encoding", method: "GET", url: "/%E0%A4%A", status: 400 },
    { name: "wrong method", method: "POST", url: "/", status: 405 },
    { name: "wrong method on health", method: "DELETE", url: "/healthz", status: 405 },
    { name: "OPTIONS", method: "OPTIONS", url: "/version", status: 405 },
    {
      name: "invalid JSON body",
      method: "POST",
      url: "/",
      status: 400,
      headers: json,
      payload: "{oops",
    },
    { name: "empty JSON body", method: "POST", url: "/", status: 400, headers: json, payload: "" },
    {
      name: "prototype poisoning",
      method: "POST",
      url: "/",
      status: 400,
      headers: json,
      payload: '{"__proto__":{"admin":true}}',
    },
    {
      // No route takes a body, so the method is refused before the content type matters.
      name: "unsupported content type",
      method: "POST",
      url: "/",
      status: 405,
      headers: { "content-type": "application/xml" },
      payload: "<a/>",
    },
    {
      name: "oversized body",
      method: "POST",
      url: "/",
      status: 413,
      headers: json,
      payload: JSON.stringify({ pad: "x".repeat(BODY_LIMIT_BYTES) }),
    },
  ];

  it.each(cases)("$name: $method $url -> $status with a JSON error body", async (c) => {
    const { app } = track(testApp());
    const res = await app.inject({
      method: c.method as "GET",
      url: c.url,
      headers: c.headers,
      ...(c.payload !== undefined && { payload: c.payload }),
    });
    expect(res.statusCode).toBe(c.status);
    expect(res.headers["content-type"]).toBe("application/json; charset=utf-8");
    const body = res.json<Record<string, unknown>>();
    expect(Object.keys(body).sort()).toEqual(["error", "message", "statusCode"]);
    expect(body.statusCode).toBe(c.status);
    expect(typeof body.error).toBe("string");
    expect(res.body).not.toMatch(/at .+\.(js|ts):\d+|node_modules|FST_|stack/);
  });

  it("405 answers list the allowed methods", async () => {
    const { app } = track(testApp());
    const res = await app.inject({ method: "PATCH", url: "/readyz" });
    expect(res.statusCode).toBe(405);
    expect(res.headers["allow"]).toBe("GET, HEAD");
  });

  it("a failing handler answers a generic 500 and logs the error, never the stack", async () => {
    const { app, logs } = track(testApp());
    app.get("/explode", async () => {
      throw new Error("database password is hunter2");
    });
    const res = await app.inject({ method: "GET", url: "/explode" });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({
      error: "Internal Server Error",
      statusCode: 500,
      message: "Internal Server Error",
    });
    expect(res.body).not.toContain("hunter2");
    const failed = logs.filter((l) => l.msg === "request failed");
    expect(failed).toEqual([
      expect.objectContaining({
        level: "error",
        reqId: res.headers["x-request-id"],
        err: expect.objectContaining({ message: "database password is hunter2" }),
      }),
    ]);
  });

  it("request.log is bound to the request id, with the level and children of the app logger", async () => {
    const { app, logs } = track(testApp());
    app.get("/chatty", async (request) => {
      request.log.debug("hidden at info");
      request.log.info({ step: 1 }, "working");
      request.log.child({ part: "inner" }).warn("careful");
      return { level: request.log.level };
    });
    const res = await app.inject({ method: "GET", url: "/chatty" });
    const reqId = res.headers["x-request-id"];
    expect(res.json()).toEqual({ level: "info" });
    expect(logs.filter((l) => l.msg !== "request completed")).toEqual([
      expect.objectContaining({ level: "info", reqId, step: 1, msg: "working", service: "api" }),
      expect.objectContaining({ level: "warn", reqId, part: "inner", msg: "careful" }),
    ]);
  });
});
