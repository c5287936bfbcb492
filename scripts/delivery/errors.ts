/**
 * An expected failure with a message meant for the person reading the workflow log: it names the
 * input that is wrong and the form that was expected. The command-line entry point prints the
 * message (no stack trace) and exits with `exitCode`.
 */
export class DeliveryError extends Error {
  /** Process exit code: 1 for a failed check, 2 for a usage error. */
  public readonly exitCode: number;

  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "DeliveryError";
    this.exitCode = exitCode;
  }
}

/** A usage error: a missing or malformed command-line argument. */
export class UsageError extends DeliveryError {
  constructor(message: string) {
    super(message, 2);
    this.name = "UsageError";
  }
}
