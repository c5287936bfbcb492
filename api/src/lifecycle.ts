/**
 * Where the process is in its life, as readiness reports it:
 * `starting` until the server listens, `serving`, then `draining` from the first SIGTERM or
 * SIGINT (readiness fails, requests are still served), then `closing` (no new connections).
 */
export type LifecycleState = "starting" | "serving" | "draining" | "closing";

/** The process state shared by the readiness route and the shutdown sequence. */
export class Lifecycle {
  private current: LifecycleState = "starting";

  /** The current state. */
  public get state(): LifecycleState {
    return this.current;
  }

  /** True only while the instance should receive traffic. */
  public get ready(): boolean {
    return this.current === "serving";
  }

  /** The server listens: readiness passes. */
  public markServing(): void {
    if (this.current === "starting") this.current = "serving";
  }

  /** A termination signal arrived: readiness fails, requests are still served. */
  public markDraining(): void {
    if (this.current === "starting" || this.current === "serving") this.current = "draining";
  }

  /** The server stops accepting connections. */
  public markClosing(): void {
    this.current = "closing";
  }
}
