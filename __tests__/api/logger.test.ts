import { describe, expect, it } from "vitest";
import { createLogger, isoTime } from "../../api/src/logger";

describe("createLogger", () => {
  it("writes one JSON object per line with an ISO time, the level name and the service", () => {
    const lines: string[] = [];
    const logger = createLogger("info", { write: (line: string) => void lines.push(line) });
    logger.debug("hidden");
    logger.info({ statusCode: 200 }, "request completed");
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({
      level: "info",
      service: "api",
      statusCode: 200,
      msg: "request completed",
    });
    expect(line.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(Math.abs(Date.parse(line.time as string) - Date.now())).toBeLessThan(5_000);
  });

  it("keeps the time current from one millisecond to the next", async () => {
    const first = isoTime();
    await new Promise((r) => setTimeout(r, 5));
    expect(isoTime()).not.toBe(first);
  });
});
