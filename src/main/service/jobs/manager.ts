/**
 * The job queue: every long task of the service (train, continue, verify, study, export,
 * import) is a job with a {@link JobInfo} and a state per the contract.
 *
 * Promises:
 * - At most `maxParallel` jobs run (or are paused) at once; the rest wait in submission order.
 * - Every state change emits `job`; the end emits exactly one `finished` (result or error).
 * - stop: a queued job is dropped (`stopped`, error CANCELLED); a running or paused one is asked
 *   to stop — training writes a checkpoint at its current step and ends `stopped`.
 * - pause / resume apply to running training jobs (`paused` holds its slot).
 * - history: every job keeps what it reported (losses, evaluations, checkpoints, work, the end;
 *   see ./history.ts) for clients that re-attach; only the newest finished jobs keep their curve.
 * - close: no new jobs; queued ones are dropped, running ones stopped and awaited (killed after
 *   `graceMs`).
 * - A job's events reach listeners as the job made them, with only its id added; its `started`
 *   event is merged into its JobInfo (a `job` event), before its progress and checkpoints.
 */
import { randomBytes } from 'node:crypto';
import {
  ServiceError,
  type JobEvent,
  type JobHistory,
  type JobInfo,
  type JobKind,
  type ServiceEvents,
} from '../../../shared/contract';
import { toWireError } from '../../../shared/errors';
import type { Emitter } from '../../../shared/emitter';
import { JobRecord } from './history';
import type { JobReturn, JobSpec } from './protocol';
import type { JobHandle, JobRunner } from './runner';

interface Job {
  info: JobInfo;
  spec: JobSpec;
  handle?: JobHandle;
  stopRequested: boolean;
  ended?: Promise<void>;
  /** everything the job reported so far */
  record: JobRecord;
}

const FINISHED_KEPT = 500;
/** finished jobs whose loss curves stay in memory (older ones keep evals and checkpoints) */
const CURVES_KEPT = 20;
const TERMINAL = new Set(['done', 'stopped', 'diverged', 'failed']);

export class JobManager {
  private readonly jobs = new Map<string, Job>();
  private readonly queue: Job[] = [];
  private active = 0;
  private closing = false;
  private counter = 0;
  private readonly prefix = randomBytes(3).toString('hex');

  constructor(
    private readonly runner: JobRunner,
    private readonly maxParallel: number,
    private readonly events: Emitter<ServiceEvents>,
  ) {}

  /** Queues a job and returns its info (state `queued`, or `running` when a slot is free). */
  submit(kind: JobKind, label: string, spec: JobSpec, extra: Partial<JobInfo> = {}): JobInfo {
    if (this.closing) {
      throw new ServiceError('INTERNAL', 'the service is shutting down');
    }
    const id = `job-${this.prefix}-${++this.counter}`;
    const info: JobInfo = {
      ...extra,
      id,
      kind,
      state: 'queued',
      label,
      createdAt: new Date().toISOString(),
    };
    const job: Job = { info, spec, stopRequested: false, record: new JobRecord() };
    this.jobs.set(id, job);
    this.queue.push(job);
    this.changed(job);
    this.pump();
    return { ...job.info };
  }

  list(): JobInfo[] {
    return [...this.jobs.values()].map((j) => ({ ...j.info }));
  }

  get(id: string): JobInfo {
    return { ...this.find(id).info };
  }

  /** The job's info and everything it reported so far. */
  history(id: string): JobHistory {
    const job = this.find(id);
    return job.record.view({ ...job.info });
  }

  stop(id: string): JobInfo {
    const job = this.find(id);
    if (TERMINAL.has(job.info.state)) {
      return { ...job.info };
    }
    job.stopRequested = true;
    if (job.info.state === 'queued') {
      this.queue.splice(this.queue.indexOf(job), 1);
      job.info.state = 'stopped';
      this.changed(job);
      this.emitFinished(job, {
        job: id,
        kind: job.info.kind,
        error: { name: 'ServiceError', code: 'CANCELLED', message: 'stopped before it started' },
      });
    } else {
      job.handle?.stop();
    }
    return { ...job.info };
  }

  /**
   * Pauses a running job. The state changes (and clients hear of it) only once the job has
   * stopped at its gate, so every step it took before the pause is reported before `paused`.
   */
  async pause(id: string): Promise<JobInfo> {
    const job = this.find(id);
    this.mustBeTraining(job, 'paused');
    if (job.info.state === 'running') {
      job.info.state = 'paused';
      await job.handle?.pause();
      if (job.info.state === 'paused') {
        this.changed(job);
      }
    } else if (job.info.state !== 'paused') {
      throw new ServiceError(
        'BAD_INPUT',
        `job ${id} is ${job.info.state}: only a running job can be paused`,
      );
    }
    return { ...job.info };
  }

  resume(id: string): JobInfo {
    const job = this.find(id);
    this.mustBeTraining(job, 'resumed');
    if (job.info.state === 'paused') {
      job.handle?.resume();
      job.info.state = 'running';
      this.changed(job);
    } else if (job.info.state !== 'running') {
      throw new ServiceError(
        'BAD_INPUT',
        `job ${id} is ${job.info.state}: only a paused job can be resumed`,
      );
    }
    return { ...job.info };
  }

  /** Stops everything and waits for running jobs to end (killing them after `graceMs`). */
  async close(graceMs = 60_000): Promise<void> {
    this.closing = true;
    for (const job of [...this.queue]) {
      this.stop(job.info.id);
    }
    const running = [...this.jobs.values()].filter((j) => j.ended !== undefined);
    for (const job of running) {
      if (!TERMINAL.has(job.info.state)) {
        job.stopRequested = true;
        job.handle?.stop();
      }
    }
    const all = Promise.all(running.map((j) => j.ended));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), graceMs);
    });
    if ((await Promise.race([all, timeout])) === 'timeout') {
      for (const job of running) {
        job.handle?.kill();
      }
      await all;
    }
    clearTimeout(timer);
  }

  private find(id: string): Job {
    const job = this.jobs.get(id);
    if (job === undefined) {
      throw new ServiceError('NOT_FOUND', `no job '${id.slice(0, 64)}'`);
    }
    return job;
  }

  private mustBeTraining(job: Job, what: string): void {
    if (job.info.kind !== 'train' && job.info.kind !== 'continue') {
      throw new ServiceError(
        'BAD_INPUT',
        `only training jobs can be ${what} (job ${job.info.id} is ${job.info.kind})`,
      );
    }
  }

  private changed(job: Job): void {
    this.events.emit('job', { ...job.info });
  }

  private pump(): void {
    while (this.active < this.maxParallel && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.launch(job);
    }
  }

  private launch(job: Job): void {
    this.active++;
    job.info.state = 'running';
    this.changed(job);
    const handle = this.runner.start(job.spec, (e) => this.onEvent(job, e));
    job.handle = handle;
    job.ended = handle.done.then(
      (outcome) => this.finish(job, outcome, null),
      (error: unknown) => this.finish(job, null, error),
    );
  }

  private onEvent(job: Job, e: JobEvent): void {
    if (e.type === 'started') {
      const { run, branch, seed, fromStep, toStep } = e;
      Object.assign(job.info, { run, branch, seed, fromStep, toStep, step: fromStep });
      this.changed(job);
      return;
    }
    if (e.type === 'progress') {
      job.info.step = e.step;
    }
    job.record.add(e);
    const { type, ...payload } = e;
    this.events.emit(type, { job: job.info.id, ...payload } as ServiceEvents[typeof type]);
  }

  private finish(job: Job, outcome: JobReturn | null, error: unknown): void {
    this.active--;
    const { info } = job;
    if (outcome !== null && outcome.kind !== 'probe') {
      if (outcome.kind === 'train' || outcome.kind === 'continue') {
        const r = outcome.result;
        info.state = r.status;
        info.step = r.step;
        info.run ??= r.run;
        info.branch ??= r.branch;
      } else {
        info.state = 'done';
      }
      this.changed(job);
      this.emitFinished(job, { job: info.id, ...outcome });
    } else {
      const wire = toWireError(
        outcome === null ? error : new Error(`a ${info.kind} job answered as a probe`),
      );
      info.state = job.stopRequested ? 'stopped' : 'failed';
      this.changed(job);
      this.emitFinished(job, {
        job: info.id,
        kind: info.kind,
        error:
          job.stopRequested && wire.code === 'INTERNAL' ? { ...wire, code: 'CANCELLED' } : wire,
      });
    }
    this.prune();
    this.pump();
  }

  private emitFinished(job: Job, f: ServiceEvents['finished']): void {
    job.record.finished = f;
    this.events.emit('finished', f);
  }

  private prune(): void {
    const finished = [...this.jobs.values()].filter((j) => TERMINAL.has(j.info.state));
    for (const j of finished.slice(0, Math.max(0, finished.length - FINISHED_KEPT))) {
      this.jobs.delete(j.info.id);
    }
    for (const j of finished.slice(0, Math.max(0, finished.length - CURVES_KEPT))) {
      j.record.dropLosses();
    }
  }
}
