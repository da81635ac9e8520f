/**
 * Pause / resume / stop of one running job as the two things train.ts understands: a gate
 * awaited before every step, and an abort signal.
 */
export class JobSwitch {
  private readonly abort = new AbortController();
  private paused = false;
  private wake: (() => void) | null = null;
  readonly signal: AbortSignal = this.abort.signal;

  /** `onPaused` runs each time the job stops at the gate after a pause (the acknowledgement) */
  constructor(private readonly onPaused?: () => void) {}

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

  /**
   * Yields a macrotask (so messages are handled), then waits while paused and not stopped —
   * running `beforeWait` and acknowledging the pause first.
   */
  async gate(beforeWait?: () => void): Promise<void> {
    await new Promise<void>((r) => setImmediate(r));
    if (this.paused && !this.signal.aborted) {
      beforeWait?.();
      this.onPaused?.();
    }
    while (this.paused && !this.signal.aborted) {
      await new Promise<void>((r) => {
        this.wake = r;
      });
      this.wake = null;
    }
  }
}
