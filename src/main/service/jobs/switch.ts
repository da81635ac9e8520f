/**
 * Pause / resume / stop of one running job as the two things train.ts understands: a gate
 * awaited before every step, and an abort signal.
 */
export class JobSwitch {
  private readonly abort = new AbortController();
  private paused = false;
  private wake: (() => void) | null = null;
  readonly signal: AbortSignal = this.abort.signal;

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.wake?.();
  }

  stop(): void {
    this.abort.abort();
    this.wake?.();
  }

  /** Yields a macrotask (so messages are handled), then waits while paused and not stopped. */
  async gate(): Promise<void> {
    await new Promise<void>((r) => setImmediate(r));
    while (this.paused && !this.signal.aborted) {
      await new Promise<void>((r) => {
        this.wake = r;
      });
      this.wake = null;
    }
  }
}
