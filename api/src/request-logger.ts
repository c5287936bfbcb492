import type { FastifyBaseLogger } from "fastify";
import type { Bindings, ChildLoggerOptions } from "pino";

type LogMethod = (...args: unknown[]) => void;

/**
 * `request.log`, created on first use. Fastify makes a child logger (bound to the request id)
 * for every request, and pino's `child()` costs about as much as writing a whole access line;
 * most requests never log anything but their access line, which does not use this logger.
 */
class DeferredChildLogger {
  private real: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  private get logger(): FastifyBaseLogger {
    return (this.real ??= this.parent.child(this.bindings, this.options));
  }

  get level(): string {
    return this.logger.level;
  }

  set level(level: string) {
    this.logger.level = level;
  }

  fatal(...args: unknown[]): void {
    (this.logger.fatal as LogMethod)(...args);
  }

  error(...args: unknown[]): void {
    (this.logger.error as LogMethod)(...args);
  }

  warn(...args: unknown[]): void {
    (this.logger.warn as LogMethod)(...args);
  }

  info(...args: unknown[]): void {
    (this.logger.info as LogMethod)(...args);
  }

  debug(...args: unknown[]): void {
    (this.logger.debug as LogMethod)(...args);
  }

  trace(...args: unknown[]): void {
    (this.logger.trace as LogMethod)(...args);
  }

  silent(...args: unknown[]): void {
    (this.logger.silent as LogMethod)(...args);
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.logger.child(bindings, options);
  }
}

/** Fastify's `childLoggerFactory`: request loggers that cost nothing until they log. */
export function deferredChildLogger(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  return new DeferredChildLogger(logger, bindings, options) as unknown as FastifyBaseLogger;
}
