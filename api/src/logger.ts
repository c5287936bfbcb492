import pino, { type DestinationStream, type Logger } from "pino";
import type { LogLevel } from "./config";

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

/**
 * JSON logs on stdout, one object per line, with ISO timestamps and level names. Lines are
 * buffered and written asynchronously, at 4 KiB or after {@link LOG_FLUSH_INTERVAL_MS}, whichever
 * comes first, so that logging costs requests little; pino writes what is pending when the
 * process exits.
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  let stream = destination;
  if (!stream) {
    const stdout = pino.destination({ dest: 1, sync: false, minLength: 4096 });
    setInterval(() => stdout.flush(), LOG_FLUSH_INTERVAL_MS).unref();
    stream = stdout;
  }
  return pino(
    {
      level,
      base: { service: "api" },
      timestamp: isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}
