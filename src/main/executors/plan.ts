/**
 * Planning a study or a sweep as tasks of a job directory (./jobdir.ts).
 *
 * Study (`planStudy`): the same tasks as a local study (../service/study.ts) — tasks 0…K−1 train
 * the base seed (group `same`, branches `<id>-same-<i>`), tasks K…2K−1 the seeds base+1 … base+K
 * mod 2^32 (group `different`, branches `<id>-seed-<seed>`) — so a collected study equals a local
 * one bit for bit: same configs, same seeds, same checkpoint ids.
 * Sweep (`planSweep`): the cross product of the axes, in the order lr × batch size × optimizer ×
 * seed (the last varies fastest), branches `<id>-<k>-<optimizer>-lr<lr>-b<batch>-s<seed>`.
 * Both check their input (InputError) and never draw randomness except an `auto` seed, which
 * the caller resolves before planning. A config on a stored dataset needs `dataset` (what the
 * job directory carries: ./job-dataset.ts, read from the store with `storedJobDataset`).
 */
import { InputError, isBuiltinDataset, type TrainingConfig } from '../engine/types';
import { LIMITS } from '../../shared/contract';
import {
  JOB_FORMAT,
  checkSlurmOptions,
  defaultCliPath,
  newJobId,
  type ExecutorName,
  type JobSpec,
  type SlurmOptions,
  type SweepAxes,
  type TaskSpec,
} from './jobdir';
import type { JobDataset } from './job-dataset';

export interface Schedule {
  steps: number;
  checkpointEvery: number;
  evalEvery: number;
}

export interface PlanOptions {
  executor: ExecutorName;
  slurm?: SlurmOptions;
  /** job id (default: a new one) */
  id?: string;
  /** CLI entry for the task script (default: this checkout's bin/lockstep.mjs) */
  cli?: string;
  /** Node binary for the task script (default: this process's) */
  node?: string;
  /** the stored dataset `config.dataset` names, which the job directory carries (./job-dataset.ts) */
  dataset?: JobDataset;
}

/** Most tasks in one sweep. */
export const MAX_SWEEP_TASKS = 1000;

function base(
  kind: 'study' | 'sweep',
  config: TrainingConfig,
  sched: Schedule,
  o: PlanOptions,
): Omit<JobSpec, 'tasks'> {
  return {
    format: JOB_FORMAT,
    kind,
    id: o.id ?? newJobId(kind),
    createdAt: new Date().toISOString(),
    executor: o.executor,
    node: o.node ?? process.execPath,
    cli: o.cli ?? defaultCliPath(),
    config,
    steps: sched.steps,
    ...(o.slurm && Object.keys(o.slurm).length > 0 ? { slurm: checkSlurmOptions(o.slurm) } : {}),
    ...(o.dataset !== undefined ? { dataset: o.dataset } : {}),
  };
}

/** InputError unless a stored dataset in the config comes with its job copy, and only then. */
function checkPlanDataset(config: TrainingConfig, o: PlanOptions): void {
  if (
    isBuiltinDataset(config.dataset) ? o.dataset !== undefined : o.dataset?.name !== config.dataset
  ) {
    throw new InputError(
      `a job on dataset '${config.dataset}' needs the stored dataset itself (storedJobDataset)`,
    );
  }
}

/** A seed study of K + K runs of `config` (its seed is the base seed). */
export function planStudy(
  config: TrainingConfig,
  runs: number,
  sched: Schedule,
  o: PlanOptions,
): JobSpec {
  if (!Number.isInteger(runs) || runs < 1 || runs > LIMITS.maxStudyRuns) {
    throw new InputError(`--runs must be an integer from 1 to ${LIMITS.maxStudyRuns}, got ${runs}`);
  }
  checkPlanDataset(config, o);
  const head = base('study', config, sched, o);
  const tasks: TaskSpec[] = [];
  const task = (group: 'same' | 'different', seed: number, branch: string): TaskSpec => ({
    index: tasks.length,
    group,
    seed,
    branch,
    config: { ...config, seed },
    ...sched,
  });
  for (let i = 1; i <= runs; i++) {
    tasks.push(task('same', config.seed, `${head.id}-same-${i}`));
  }
  for (let i = 1; i <= runs; i++) {
    const seed = (config.seed + i) % (LIMITS.maxSeed + 1);
    tasks.push(task('different', seed, `${head.id}-seed-${seed}`));
  }
  return { ...head, runs, baseSeed: config.seed, tasks };
}

/** A grid sweep around `config` over the given axes. */
export function planSweep(
  config: TrainingConfig,
  axes: SweepAxes,
  sched: Schedule,
  o: PlanOptions,
): JobSpec {
  for (const [name, values] of Object.entries(axes) as [keyof SweepAxes, unknown[]][]) {
    if (values.length === 0) {
      throw new InputError(`sweep axis ${name} has no values`);
    }
    if (new Set(values).size !== values.length) {
      throw new InputError(`sweep axis ${name} repeats a value`);
    }
  }
  const n = axes.lr.length * axes.batchSize.length * axes.optimizer.length * axes.seed.length;
  if (n > MAX_SWEEP_TASKS) {
    throw new InputError(`the sweep has ${n} grid points; at most ${MAX_SWEEP_TASKS}`);
  }
  const first: TrainingConfig = {
    ...config,
    optimizer: { kind: axes.optimizer[0], lr: axes.lr[0] },
    batchSize: axes.batchSize[0],
    seed: axes.seed[0],
  };
  checkPlanDataset(config, o);
  const head = base('sweep', first, sched, o);
  const tasks: TaskSpec[] = [];
  for (const lr of axes.lr) {
    for (const batchSize of axes.batchSize) {
      for (const optimizer of axes.optimizer) {
        for (const seed of axes.seed) {
          const k = tasks.length;
          tasks.push({
            index: k,
            group: 'sweep',
            seed,
            branch: `${head.id}-${k}-${optimizer}-lr${lr}-b${batchSize}-s${seed}`,
            config: { ...config, optimizer: { kind: optimizer, lr }, batchSize, seed },
            ...sched,
          });
        }
      }
    }
  }
  return { ...head, axes, tasks };
}
