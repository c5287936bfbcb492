/**
 * Named, timed steps. A failing step stops the rehearsal with its name and the tool's own message;
 * the summary lists every step that ran with its time.
 */

/** A step that failed, with what the tool said. */
export class StepFailure extends Error {
  override name = "StepFailure";
  constructor(
    readonly step: string,
    readonly detail: string,
  ) {
    super(`${step}: ${detail}`);
  }
}

/** One finished step. */
export interface StepRecord {
  readonly name: string;
  readonly ms: number;
  readonly ok: boolean;
  /** A one-line result, for example "no changes" or "skipped: ...". */
  readonly note?: string;
}

/** Formats milliseconds as `12.3 s` or `2 min 03.4 s`. */
export function formatDuration(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${(seconds - minutes * 60).toFixed(1).padStart(4, "0")} s`;
}

/** Runs steps in order, timing each and printing its start and result. */
export class Steps {
  readonly records: StepRecord[] = [];

  constructor(
    private readonly print: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Runs `fn` as step `name`. The value it returns may carry a note (`{ note }`) printed after the
   * time. A thrown {@link StepFailure} keeps its own step name; any other error is wrapped.
   */
  async run<T>(name: string, fn: () => Promise<T>, note?: (value: T) => string): Promise<T> {
    this.print(`\n▶ ${name}`);
    const start = this.now();
    try {
      const value = await fn();
      const ms = this.now() - start;
      const text = note?.(value);
      this.records.push({ name, ms, ok: true, note: text });
      this.print(`✔ ${name} (${formatDuration(ms)})${text ? `: ${text}` : ""}`);
      return value;
    } catch (error) {
      const ms = this.now() - start;
      this.records.push({ name, ms, ok: false });
      this.print(`✘ ${name} (${formatDuration(ms)})`);
      if (error instanceof StepFailure) throw error;
      throw new StepFailure(name, error instanceof Error ? error.message : String(error));
    }
  }

  /** Prints an indented line under the running step. */
  note(line: string): void {
    this.print(`  ${line}`);
  }

  /** The time table printed at the end. */
  summary(): string {
    const width = Math.max(...this.records.map((r) => r.name.length), 4);
    const total = this.records.reduce((sum, r) => sum + r.ms, 0);
    const rows = this.records.map(
      (r) =>
        `${r.ok ? "ok  " : "FAIL"}  ${r.name.padEnd(width)}  ${formatDuration(r.ms).padStart(12)}${r.note ? `  ${r.note}` : ""}`,
    );
    return [...rows, `      ${"total".padEnd(width)}  ${formatDuration(total).padStart(12)}`].join(
      "\n",
    );
  }
}
