/**
 * One job as the UI follows it: state, progress, the streaming loss series, evaluation points,
 * checkpoints written (and whether each already existed), work progress and the final result.
 * Series are `$state.raw` arrays replaced whole on each event (the chart takes them as they are).
 */
import type {
  FinishedEvent,
  JobHistory,
  JobInfo,
  ServiceEvents,
  TrainResult,
} from '../../../../shared/contract';
import { LossCurve } from '../../../../shared/loss-curve';
import type { EvalResult } from '../../../../shared/training';

export type { Point } from '../point';
import type { Point } from '../point';

export type Finished = FinishedEvent;

type LossPoint = JobHistory['losses'][number];

/** The result of a finished train/continue job, or null (failed, or another kind of job). */
export function trainResultOf(f: Finished | null | undefined): TrainResult | null {
  return (f?.kind === 'train' || f?.kind === 'continue') && f.result !== undefined
    ? f.result
    : null;
}

export class LiveJob {
  info: JobInfo;
  step = $state(0);
  fromStep = $state(0);
  toStep = $state(0);
  stepsPerSecond = $state(0);
  /** the loss curve (a gan's: the discriminator's), bounded as the job's history is */
  losses = $state.raw<Point[]>([]);
  /** a gan's generator losses (`losses` are then the discriminator's) at the same steps */
  gLosses = $state.raw<Point[]>([]);
  /** the curve behind `losses` and `gLosses` (../../../../shared/loss-curve.ts) */
  #curve = new LossCurve<LossPoint>();
  evals = $state.raw<{ step: number; eval: EvalResult }[]>([]);
  checkpoints = $state.raw<{ id: string; step: number; created: boolean }[]>([]);
  work = $state.raw<{ done: number; total: number; label: string } | null>(null);
  finished = $state.raw<Finished | null>(null);

  /** whether this window saw the job unfinished (jobs that ended before it opened are history) */
  readonly followed: boolean;

  constructor(info: JobInfo) {
    this.info = $state.raw(info);
    this.followed = info.state === 'queued' || info.state === 'running' || info.state === 'paused';
    this.fromStep = info.fromStep ?? info.step ?? 0;
    this.step = info.step ?? this.fromStep;
    this.toStep = info.toStep ?? 0;
  }

  /** true while the job may still make progress */
  get active(): boolean {
    const s = this.info.state;
    return s === 'queued' || s === 'running' || s === 'paused';
  }

  get isTraining(): boolean {
    return this.info.kind === 'train' || this.info.kind === 'continue';
  }

  /** fraction done in [0, 1] */
  get fraction(): number {
    if (this.work && this.work.total > 0) {
      return Math.min(1, this.work.done / this.work.total);
    }
    const span = this.toStep - this.fromStep;
    return span > 0 ? Math.min(1, Math.max(0, (this.step - this.fromStep) / span)) : 0;
  }

  /** seconds left at the current speed, or NaN */
  get etaSeconds(): number {
    return this.stepsPerSecond > 0 ? (this.toStep - this.step) / this.stepsPerSecond : NaN;
  }

  /** checkpoints this job wrote that already existed (identical states) */
  get reproduced(): number {
    return this.checkpoints.filter((c) => !c.created && c.step !== this.fromStep).length;
  }

  get trainResult(): TrainResult | null {
    return trainResultOf(this.finished);
  }

  setInfo(info: JobInfo): void {
    this.info = info;
    if (info.fromStep !== undefined && this.losses.length === 0) {
      this.fromStep = info.fromStep;
    }
    if (info.toStep !== undefined) {
      this.toStep = info.toStep;
    }
    if (info.step !== undefined && info.step > this.step) {
      this.step = info.step;
    }
  }

  /**
   * Re-attaches to a job this window did not follow from its start: takes everything the job
   * reported so far (its history), then keeps whatever events arrived meanwhile that are newer.
   */
  load(h: JobHistory): void {
    const lastLoss = h.losses.at(-1)?.step ?? -Infinity;
    const later = this.#curve.view().filter((p) => p.step > lastLoss);
    this.#curve = LossCurve.from(h.losses);
    this.#curve.add(later);
    this.#showCurve();
    // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a local lookup, never rendered
    const evalSteps = new Set(h.evals.map((e) => e.step));
    this.evals = [...h.evals, ...this.evals.filter((e) => !evalSteps.has(e.step))];
    // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a local lookup, never rendered
    const ids = new Set(h.checkpoints.map((c) => `${c.id}@${c.step}`));
    this.checkpoints = [
      ...h.checkpoints.map((c) => ({ id: c.id, step: c.step, created: c.created })),
      ...this.checkpoints.filter((c) => !ids.has(`${c.id}@${c.step}`)),
    ];
    if (h.work !== undefined && this.work === null) {
      this.work = h.work;
    }
    this.setInfo(h.info);
    if (h.info.fromStep !== undefined) {
      this.fromStep = h.info.fromStep;
    }
    const last = this.losses.at(-1)?.x;
    if (last !== undefined && last > this.step) {
      this.step = last;
    }
    if (h.finished !== undefined && this.finished === null) {
      this.onFinished(h.finished);
    }
  }

  onProgress(p: ServiceEvents['progress']): void {
    this.step = p.step;
    this.toStep = p.toStep;
    this.stepsPerSecond = p.stepsPerSecond;
    if (p.losses.length > 0) {
      this.#curve.add(p.losses);
      this.#showCurve();
    }
  }

  /** `losses` and `gLosses` from the curve (at most MAX_LOSS_POINTS + 1 points each) */
  #showCurve(): void {
    const points = this.#curve.view();
    this.losses = points.map((l) => ({ x: l.step, y: l.loss }));
    this.gLosses = points.flatMap((l) =>
      l.gLoss === undefined ? [] : [{ x: l.step, y: l.gLoss }],
    );
  }

  onMetrics(m: ServiceEvents['metrics']): void {
    this.evals = [...this.evals, { step: m.step, eval: m.eval }];
  }

  onCheckpoint(c: ServiceEvents['checkpoint']): void {
    this.checkpoints = [...this.checkpoints, { id: c.id, step: c.step, created: c.created }];
  }

  onWork(w: ServiceEvents['work']): void {
    this.work = { done: w.done, total: w.total, label: w.label };
  }

  onFinished(f: Finished): void {
    this.finished = f;
    const r = trainResultOf(f);
    if (r !== null) {
      this.step = r.step;
    }
  }
}
