/**
 * What one job reported so far, kept by the job manager so that a client that did not follow the
 * job from its start (a reloaded page, a reopened window) can re-attach with the full picture:
 * the loss curve, every evaluation, every checkpoint, the last work progress and the end.
 *
 * Promises:
 * - Evaluations, checkpoints and the `finished` event are kept whole, in arrival order.
 * - The loss curve is bounded: at most {@link MAX_LOSS_POINTS} points whatever the job's length,
 *   thinned by the rule the UI's own curve follows (src/shared/loss-curve.ts): every step while
 *   there are fewer, then evenly, always with the latest reported step. A gan's point keeps its
 *   generator loss (`gLoss`; `loss` is the discriminator's) beside it, so both curves survive a
 *   re-attach; a point without one has no `gLoss` key.
 */
import type { JobEvent, JobHistory, JobInfo, ServiceEvents } from '../../../shared/contract';
import { LossCurve } from '../../../shared/loss-curve';

export { MAX_LOSS_POINTS } from '../../../shared/loss-curve';

type LossPoint = JobHistory['losses'][number];

export class JobRecord {
  private losses = new LossCurve<LossPoint>();
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
    this.losses.add(points);
  }

  /** Forgets the loss curve (an old finished job: the store has its trace). */
  dropLosses(): void {
    this.losses = new LossCurve<LossPoint>();
  }

  /** The history as the contract returns it. */
  view(info: JobInfo): JobHistory {
    return {
      info,
      losses: this.losses.view(),
      evals: [...this.evals],
      checkpoints: [...this.checkpoints],
      ...(this.work !== undefined ? { work: { ...this.work } } : {}),
      ...(this.finished !== undefined ? { finished: this.finished } : {}),
    };
  }
}
