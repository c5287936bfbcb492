import pino, { type Logger } from "pino";
import type { LogLevel } from "./config";

/**
 * JSON logs on stdout, one object per line, with ISO timestamps and level names. Writes are
 * asynchronous (batched while a write is in flight) so logging does not block requests; pino
 * flushes what is pending when the process exits.
 */
export function createLogger(level: LogLevel): Logger {
  return pino(
    {
      level,
      base: { service: "api" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: 1, sync: false }),
  );
}
