import pino, { type DestinationStream, type Logger } from "pino";
import type { AccessLogTarget } from "./access-log";
import type { LogLevel } from "./config";
import { LineBuffer, type BatchSink } from "./log-buffer";

/** How long buffered log lines may wait before they are written. */
export const LOG_FLUSH_INTERVAL_MS = 1_000;

let lastMs = -1;
let lastTime = "";
/**
 * `,"time":"<ISO 8601>"`, formatted once per millisecond: `toISOString()` on every line costs
 * more than the rest of an access line together.
 */
export function isoTime(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

/** Fields every log line carries. */
export const LOG_BASE: Readonly<Record<string, string>> = { service: "api" };

/** The app logger and the access log, writing to one stream in one format. */
export interface Logging {
  readonly logger: Logger;
  readonly accessLog: AccessLogTarget;
}

/**
 * Standard output for log lines. Lines are gathered in memory and written asynchronously in
 * batches of 16 KiB, or after {@link LOG_FLUSH_INTERVAL_MS}, whichever comes first, so that
 * logging costs requests little; what is pending is written synchronously when the process exits.
 */
export function stdoutLines(): DestinationStream {
  // In `buffer` content mode sonic-boom's write takes Buffers; its type declares strings only.
  const sonic = pino.destination({ dest: 1, sync: false, contentMode: "buffer" });
  const stdout = new LineBuffer(sonic as unknown as BatchSink);
  setInterval(() => stdout.flush(), LOG_FLUSH_INTERVAL_MS).unref();
  process.once("exit", () => stdout.flushSync());
  return stdout;
}

/**
 * JSON logs, one object per line, with ISO timestamps, level names and {@link LOG_BASE}: the
 * pino logger for everything but access lines, and the access log (see `AccessLog`), which
 * writes the same format to the same stream.
 */
export function createLogging(
  level: LogLevel,
  destination: DestinationStream = stdoutLines(),
): Logging {
  const logger = pino(
    {
      level,
      base: LOG_BASE,
      timestamp: isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  return {
    logger,
    accessLog: { stream: destination, enabled: logger.isLevelEnabled("info") },
  };
}
