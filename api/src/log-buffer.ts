import type { DestinationStream } from "pino";

/**
 * What {@link LineBuffer} hands its batches to: pino's sonic-boom destination in `buffer` content
 * mode has this shape.
 */
export interface BatchSink {
  write(chunk: Buffer): unknown;
  /** Starts writing what the sink holds; `done` is called once it is written. */
  flush(done?: (error?: Error) => void): unknown;
  /** Writes everything the sink holds before returning. */
  flushSync(): unknown;
}

/**
 * Gathers log lines in memory and hands them to `sink` in batches of at least `batchChars`
 * characters, so that the cost of a write is shared by many lines.
 *
 * Given lines one by one, sonic-boom measures the UTF-8 length of its whole pending buffer on
 * every line; at an access line per request under load, that cost microseconds per request.
 * Here a line costs a string concatenation, and each batch is encoded once, into the buffer that
 * is written.
 */
export class LineBuffer implements DestinationStream {
  private pending = "";

  constructor(
    private readonly sink: BatchSink,
    private readonly batchChars = 16 * 1024,
  ) {}

  public write(line: string): void {
    this.pending += line;
    if (this.pending.length >= this.batchChars) this.handOver();
  }

  /**
   * Hands pending lines to the sink and lets it start writing them; `done` (pino's
   * `logger.flush(callback)`) is called once they are written.
   */
  public flush(done?: (error?: Error) => void): void {
    this.handOver();
    this.sink.flush(done);
  }

  /** Writes every pending line before returning; for exit paths. */
  public flushSync(): void {
    this.handOver();
    this.sink.flushSync();
  }

  private handOver(): void {
    if (this.pending === "") return;
    const batch = this.pending;
    this.pending = "";
    this.sink.write(Buffer.from(batch));
  }
}
