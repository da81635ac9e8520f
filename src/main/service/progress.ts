/**
 * Training progress as the contract's `progress` events: the losses of every step since the
 * last event, at most one event every `intervalMs` (0: one per step), and always flushed before
 * any other event of the job (a checkpoint, an evaluation, the end), so a consumer sees steps in
 * order and none is lost.
 */
import type { JobEvent } from '../../shared/contract';

/** Default spacing of progress events (about 10 per second). */
export const PROGRESS_INTERVAL_MS = 100;

export class ProgressBatcher {
  private losses: { step: number; loss: number; gLoss?: number }[] = [];
  private lastFlush = performance.now();
  private lastStep: number;
  private stepsAtFlush: number;

  constructor(
    private readonly emit: (event: JobEvent) => void,
    fromStep: number,
    private readonly toStep: number,
    private readonly intervalMs = PROGRESS_INTERVAL_MS,
  ) {
    this.lastStep = fromStep;
    this.stepsAtFlush = fromStep;
  }

  /** Records one step; emits when the interval has passed. */
  step(step: number, loss: number, gLoss?: number): void {
    this.losses.push(gLoss === undefined ? { step, loss } : { step, loss, gLoss });
    this.lastStep = step;
    if (performance.now() - this.lastFlush >= this.intervalMs) {
      this.flush();
    }
  }

  /** Emits the steps recorded since the last event, if any. */
  flush(): void {
    if (this.losses.length === 0) {
      return;
    }
    const now = performance.now();
    const dt = (now - this.lastFlush) / 1000;
    const rate = dt > 0 ? (this.lastStep - this.stepsAtFlush) / dt : 0;
    this.emit({
      type: 'progress',
      step: this.lastStep,
      toStep: this.toStep,
      stepsPerSecond: rate,
      losses: this.losses,
    });
    this.losses = [];
    this.lastFlush = now;
    this.stepsAtFlush = this.lastStep;
  }
}
