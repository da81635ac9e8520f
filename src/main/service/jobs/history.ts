/**
 * What one job reported so far, kept by the job manager so that a client that did not follow the
 * job from its start (a reloaded page, a reopened window) can re-attach with the full picture:
 * the loss curve, every evaluation, every checkpoint, the last work progress and the end.
 *
 * Promises:
 * - Evaluations, checkpoints and the `finished` event are kept whole, in arrival order.
 * - The loss curve is bounded: at most {@link MAX_LOSS_POINTS} points whatever the job's length.
 *   A gan's point keeps its generator loss (`gLoss`; `loss` is the discriminator's) beside it, so
 *   both curves survive a re-attach; a point without one has no `gLoss` key.
 *   While a job has reported fewer steps than that, every step is kept; beyond, the curve is
 *   thinned evenly (every 2nd, 4th, … step, like a zoomed-out chart) and the latest reported step
 *   is always included, so the curve spans the whole job up to now.
 */
import type { JobEvent, JobHistory, JobInfo, ServiceEvents } from '../../../shared/contract';

/** Most loss points a history returns (a chart is a few thousand pixels wide at most). */
export const MAX_LOSS_POINTS = 20_000;

type LossPoint = JobHistory['losses'][number];

/** One curve point, with `gLoss` only when there is one (a gan's). */
function point(step: number, loss: number, gLoss: number | undefined): LossPoint {
  return gLoss === undefined ? { step, loss } : { step, loss, gLoss };
}

export class JobRecord {
  private steps: number[] = [];
  private losses: number[] = [];
  /** a gan's generator loss per kept point (undefined for other models) */
  private gLosses: (number | undefined)[] = [];
  private stride = 1;
  private seen = 0;
  private last: LossPoint | null = null;
  readonly evals: JobHistory['evals'] = [];
  readonly checkpoints: JobHistory['checkpoints'] = [];
  work: JobHistory['work'];
  finished: ServiceEvents['finished'] | undefined;

  /** Records one event of the job (as the job made it). */
  add(e: JobEvent): void {
    switch (e.type) {
      case 'progress':
        this.addLosses(e.losses);
        return;
      case 'metrics':
        this.evals.push({ step: e.step, eval: e.eval });
        return;
      case 'checkpoint':
        this.checkpoints.push({ id: e.id, step: e.step, branch: e.branch, created: e.created });
        return;
      case 'work':
        this.work = { done: e.done, total: e.total, label: e.label };
        return;
      default:
        return;
    }
  }

  /** Records reported losses (every step since the previous report). */
  addLosses(points: readonly LossPoint[]): void {
    for (const p of points) {
      if (this.seen % this.stride === 0) {
        this.steps.push(p.step);
        this.losses.push(p.loss);
        this.gLosses.push(p.gLoss);
        if (this.steps.length >= MAX_LOSS_POINTS) {
          this.thin();
        }
      }
      this.seen++;
      this.last = point(p.step, p.loss, p.gLoss);
    }
  }

  /** Forgets the loss curve (an old finished job: the store has its trace). */
  dropLosses(): void {
    this.steps = [];
    this.losses = [];
    this.gLosses = [];
    this.last = null;
  }

  /** Keeps every other point and doubles the stride. */
  private thin(): void {
    this.steps = this.steps.filter((_, i) => i % 2 === 0);
    this.losses = this.losses.filter((_, i) => i % 2 === 0);
    this.gLosses = this.gLosses.filter((_, i) => i % 2 === 0);
    this.stride *= 2;
  }

  /** The history as the contract returns it. */
  view(info: JobInfo): JobHistory {
    const losses = this.steps.map((step, i) => point(step, this.losses[i], this.gLosses[i]));
    if (this.last !== null && losses.at(-1)?.step !== this.last.step) {
      losses.push(this.last);
    }
    return {
      info,
      losses,
      evals: [...this.evals],
      checkpoints: [...this.checkpoints],
      ...(this.work !== undefined ? { work: { ...this.work } } : {}),
      ...(this.finished !== undefined ? { finished: this.finished } : {}),
    };
  }
}
