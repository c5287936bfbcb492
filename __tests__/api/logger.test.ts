import { describe, expect, it } from "vitest";
import type { FastifyReply, FastifyRequest } from "fastify";
import { AccessLog } from "../../api/src/access-log";
import { LineBuffer, type BatchSink } from "../../api/src/log-buffer";
import { createLogging, isoTime } from "../../api/src/logger";
import type { LogLevel } from "../../api/src/config";

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function logging(level: LogLevel = "info") {
  const lines: string[] = [];
  const { logger, accessLog } = createLogging(level, { write: (l: string) => void lines.push(l) });
  return { logger, accessLog, lines };
}

/** What AccessLog reads from fastify's request and reply. */
function exchange(url: string, extra: { id?: string; route?: string; statusCode?: number } = {}) {
  const request = {
    id: extra.id ?? "req-1",
    method: "GET",
    url,
    routeOptions: { url: extra.route },
  } as unknown as FastifyRequest;
  const reply = { statusCode: extra.statusCode ?? 200, elapsedTime: 1.23456 } as FastifyReply;
  return { request, reply };
}

describe("createLogging", () => {
  it("writes one JSON object per line with an ISO time, the level name and the service", () => {
    const { logger, lines } = logging();
    logger.debug("hidden");
    logger.info({ statusCode: 200 }, "request completed");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/\n$/);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({
      level: "info",
      service: "api",
      statusCode: 200,
      msg: "request completed",
    });
    expect(line.time).toMatch(ISO_TIME);
    expect(Math.abs(Date.parse(line.time as string) - Date.now())).toBeLessThan(5_000);
  });

  it("keeps the time current from one millisecond to the next", async () => {
    const first = isoTime();
    await new Promise((r) => setTimeout(r, 5));
    expect(isoTime()).not.toBe(first);
  });
});

describe("AccessLog", () => {
  it("writes the logger's own format: same fields, same order, same types", () => {
    const { logger, accessLog, lines } = logging();
    const { request, reply } = exchange("/?a=1", { route: "/", id: "abc-1" });
    new AccessLog(accessLog).requestCompleted(null, request, reply);
    logger.info(
      {
        reqId: "abc-1",
        method: "GET",
        url: "/?a=1",
        route: "/",
        statusCode: 200,
        durationMs: 1.235,
      },
      "request completed",
    );
    expect(lines).toHaveLength(2);
    const [direct, viaPino] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatch(/\n$/);
    expect(Object.keys(direct!)).toEqual(Object.keys(viaPino!));
    expect({ ...direct, time: "" }).toEqual({ ...viaPino, time: "" });
    expect(direct!.time).toMatch(ISO_TIME);
  });

  it("escapes what the client controls, so every line stays one JSON object", () => {
    const { accessLog, lines } = logging();
    const hostile = '/"},"level":"fatal","x":"\\\n\r\t\u2028é\u0000';
    const { request, reply } = exchange(hostile, { statusCode: 404 });
    new AccessLog(accessLog).requestCompleted(null, request, reply);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.split("\n")).toEqual([expect.any(String), ""]);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: "info", url: hostile, statusCode: 404 });
    expect(line).not.toHaveProperty("route");
  });

  it("writes nothing when the level is above info, and logs a failed response as an error", () => {
    const { logger, accessLog, lines } = logging("warn");
    const { request, reply } = exchange("/");
    const log = new AccessLog(accessLog);
    log.requestCompleted(null, request, reply);
    expect(lines).toEqual([]);
    (reply as unknown as { log: unknown }).log = logger;
    log.requestCompleted(new Error("socket hang up"), request, reply);
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ level: "error", msg: "request errored", url: "/" }),
    ]);
  });
});

describe("LineBuffer", () => {
  function sink() {
    const written: string[] = [];
    const calls: string[] = [];
    const target: BatchSink = {
      write: (chunk: Buffer) => void written.push(chunk.toString("utf8")),
      flush: (done?: (error?: Error) => void) => {
        calls.push("flush");
        done?.();
      },
      flushSync: () => void calls.push("flushSync"),
    };
    return { target, written, calls };
  }

  it("hands lines over in order, in batches of at least the batch size", () => {
    const { target, written } = sink();
    const buffer = new LineBuffer(target, 100);
    const lines = Array.from({ length: 25 }, (_, i) => `{"n":${i},"é":"ü"}\n`);
    for (const line of lines) buffer.write(line);
    expect(written.length).toBeGreaterThan(0);
    for (const batch of written) expect(batch.length).toBeGreaterThanOrEqual(100);
    buffer.flush();
    expect(written.join("")).toBe(lines.join(""));
  });

  it("flush and flushSync hand over what is pending and pass the call on", () => {
    const { target, written, calls } = sink();
    const buffer = new LineBuffer(target);
    buffer.write("a\n");
    expect(written).toEqual([]);
    buffer.flush();
    buffer.write("b\n");
    buffer.flushSync();
    buffer.flush();
    expect(written).toEqual(["a\n", "b\n"]);
    expect(calls).toEqual(["flush", "flushSync", "flush"]);
  });

  it("passes the callback of pino's logger.flush on to the sink", async () => {
    const { logger } = createLogging("info", new LineBuffer(sink().target));
    await new Promise<void>((done, fail) =>
      logger.flush((error) => (error ? fail(error) : done())),
    );
  }, 5_000);
});
