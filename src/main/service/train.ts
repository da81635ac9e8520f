/**
 * Training jobs: start a run, or continue / branch from any checkpoint, writing checkpoints,
 * traces and the run graph into a store.
 *
 * Contract:
 * - A new run stores its step-0 checkpoint, one every `checkpointEvery` steps and its final one;
 *   its first branch starts at step 0.
 * - `continue` without hyperparameter changes from a branch tip extends that branch. From a middle
 *   checkpoint it retraces the existing descendants (checkpointing at their steps, so the equal
 *   states land on the existing objects and nothing new is written) and extends the branch if
 *   it passes its tip; the result says how many checkpoints were reproduced. With changed
 *   hyperparameters (or `--branch`), it starts a new branch whose base is the checkpoint.
 * - A non-finite loss or weight stops the job at that step: the branch is marked `diverged`
 *   with the step in its note and no non-finite checkpoint is stored.
 * - An aborted signal stops after the current step and writes a checkpoint there (`stopped`);
 *   a stop while paused at the gate takes no further step.
 * - Events are the contract's {@link JobEvent}s, emitted in their final shape: `started` before
 *   any progress, metrics or checkpoint (a new run's step-0 checkpoint included), then
 *   `progress` batches (see ./progress.ts), `metrics` and `checkpoint` (with its branch) in step
 *   order; `notice`s (a backend fallback, a new branch) may come before `started`.
 * Process-agnostic: runs in the CLI process, a job process or in-line alike.
 */
import { randomBytes } from 'node:crypto';
import { encodeState } from '../engine/state';
import { createDigester, TraceRecorder } from '../engine/trace';
import { Trainer, type ConfigOverrides } from '../engine/trainer';
import { normalizeOptimizer } from '../engine/optimizers';
import {
  InputError,
  type EvalResult,
  type OptimizerKind,
  type TrainingConfig,
  type TrainingState,
} from '../engine/types';
import type { JobEvent, TrainResult } from '../../shared/contract';
import type { BranchRecord } from '../store/api';
import type { Store } from '../store/store';
import type { JobControl } from './jobs/protocol';
import { ProgressBatcher } from './progress';

export const DEFAULT_CHECKPOINT_EVERY = 500;
export const DEFAULT_EVAL_EVERY = 1000;
export const MAX_STEPS = 100_000_000;

export interface Schedule {
  steps: number;
  checkpointEvery?: number;
  evalEvery?: number;
}

/** A new run as a training job takes it (the service builds it from a StartRunRequest). */
export interface TrainSpec extends Schedule {
  config: TrainingConfig;
  seedSource?: 'explicit' | 'auto' | 'env';
  branch?: string;
}

/** A continuation as a training job takes it: `from` is a ref (the service passes a resolved id). */
export interface ContinueSpec extends Schedule {
  from: string;
  lr?: number;
  optimizer?: OptimizerKind;
  batchSize?: number;
  branch?: string;
}

/**
 * How a training job is driven and heard: the job controls (all optional: a bare call trains to
 * the end in silence) plus the spacing of progress events (0: one per step, for a terminal).
 */
export type TrainControl = Partial<JobControl> & { progressEveryMs?: number };

/**
 * Test-only hooks into the step loop. `afterStep` runs after every update, before its trace entry
 * and checkpoint; a state it returns replaces the trainer's (e.g. a planted bit flip), so
 * everything recorded from that step on sees the changed state.
 */
export interface JobHooks {
  afterStep?(step: number, trainer: Trainer): TrainingState | void;
}

function checkSchedule(s: Schedule): Required<Schedule> {
  const int = (name: string, v: number, min: number): number => {
    if (!Number.isInteger(v) || v < min || v > MAX_STEPS) {
      throw new InputError(`${name} must be an integer from ${min} to ${MAX_STEPS}, got ${v}`);
    }
    return v;
  };
  return {
    steps: int('--steps', s.steps, 1),
    checkpointEvery: int('--checkpoint-every', s.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY, 1),
    evalEvery: int('--eval-every', s.evalEvery ?? DEFAULT_EVAL_EVERY, 1),
  };
}

function newRunId(): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return `run-${t}-${randomBytes(3).toString('hex')}`;
}

/** Starts a new run at step 0 and trains it. */
export async function startRun(
  store: Store,
  req: TrainSpec,
  ctl: TrainControl = {},
  hooks: JobHooks = {},
): Promise<TrainResult> {
  const sched = checkSchedule(req);
  const trainer = await Trainer.create(req.config, (message) =>
    ctl.emit?.({ type: 'notice', message }),
  );
  const live = { trainer };
  try {
    const state = trainer.snapshot();
    const enc = encodeState(state);
    const root = await store.putCheckpoint(enc, { parent: null, step: 0 });
    const run = newRunId();
    const now = new Date().toISOString();
    const name = await store.uniqueBranchName(req.branch ?? defaultBranchName(trainer.config));
    await store.createRun({
      id: run,
      createdAt: now,
      seed: trainer.config.seed,
      seedSource: req.seedSource ?? 'explicit',
      root: root.id,
      config: trainer.config,
    });
    const branch: BranchRecord = {
      name,
      run,
      tip: root.id,
      base: null,
      config: trainer.config,
      status: 'running',
      createdAt: now,
      updatedAt: now,
    };
    await store.createBranch(branch);
    return await drive(
      store,
      live,
      { branch, start: root.id, root: root.created, sched, mustCheckpoint: new Set() },
      ctl,
      hooks,
    );
  } finally {
    live.trainer.dispose();
  }
}

/** Continues (or branches) from any checkpoint. */
export async function continueFrom(
  store: Store,
  req: ContinueSpec,
  ctl: TrainControl = {},
  hooks: JobHooks = {},
): Promise<TrainResult> {
  const sched = checkSchedule(req);
  const fromId = await store.resolveRef(req.from);
  const state = await store.readState(fromId);
  const fromNode = await store.getNode(fromId);
  const overrides = overridesOf(state.config, req);
  const changed = overrides.optimizer !== undefined || overrides.batchSize !== undefined;
  const branches = await store.listBranches();
  const owners = await branchesContaining(store, branches, fromId);
  if (owners.length === 0) {
    throw new InputError(`checkpoint ${fromId.slice(0, 12)} is on no branch`);
  }
  const tipOwner = owners.find((b) => b.tip === fromId);
  const trainer = await Trainer.restore(state, overrides, (message) =>
    ctl.emit?.({ type: 'notice', message }),
  );
  const live = { trainer };
  try {
    let branch: BranchRecord;
    const mustCheckpoint = new Set<number>();
    if (!changed && !req.branch && tipOwner) {
      branch = await store.updateBranch(tipOwner.name, { status: 'running' });
    } else if (!changed && !req.branch) {
      // a middle checkpoint with the same config: retrace the descendants on its first branch
      branch = owners[0];
      for (const n of await store.lineage(branch.tip)) {
        if (n.step > fromNode.step) {
          mustCheckpoint.add(n.step);
        }
      }
    } else {
      const now = new Date().toISOString();
      const name = await store.uniqueBranchName(
        req.branch ?? branchNameFor(owners[0].name, state.config, trainer.config),
      );
      branch = {
        name,
        run: owners[0].run,
        tip: fromId,
        base: fromId,
        config: trainer.config,
        status: 'running',
        createdAt: now,
        updatedAt: now,
      };
      await store.createBranch(branch);
      ctl.emit?.({
        type: 'notice',
        message: `new branch '${name}' from ${fromId.slice(0, 12)} at step ${fromNode.step}`,
      });
    }
    return await drive(store, live, { branch, start: fromId, sched, mustCheckpoint }, ctl, hooks);
  } finally {
    live.trainer.dispose();
  }
}

function overridesOf(config: TrainingConfig, req: ContinueSpec): ConfigOverrides {
  const out: ConfigOverrides = {};
  const kind = req.optimizer ?? config.optimizer.kind;
  const lr = req.lr ?? config.optimizer.lr;
  if (kind !== config.optimizer.kind || lr !== config.optimizer.lr) {
    const extra = kind === config.optimizer.kind ? config.optimizer : {};
    out.optimizer = normalizeOptimizer(kind, lr, extra);
  }
  if (req.batchSize !== undefined && req.batchSize !== config.batchSize) {
    out.batchSize = req.batchSize;
  }
  return out;
}

async function branchesContaining(
  store: Store,
  branches: BranchRecord[],
  id: string,
): Promise<BranchRecord[]> {
  const out: BranchRecord[] = [];
  for (const b of branches) {
    if ((await store.lineage(b.tip)).some((n) => n.id === id)) {
      out.push(b);
    }
  }
  return out;
}

/** The default branch name of a new run's config (also the service's job label). */
export function defaultBranchName(c: TrainingConfig): string {
  const model = c.model.kind === 'mlp' ? `mlp${c.model.hidden.join('x')}` : c.model.kind;
  return `${c.dataset}-${model}-${c.optimizer.kind}-s${c.seed}`;
}

function branchNameFor(parent: string, before: TrainingConfig, after: TrainingConfig): string {
  const parts: string[] = [];
  if (after.optimizer.kind !== before.optimizer.kind) {
    parts.push(after.optimizer.kind);
  }
  if (after.optimizer.lr !== before.optimizer.lr) {
    parts.push(`lr${after.optimizer.lr}`);
  }
  if (after.batchSize !== before.batchSize) {
    parts.push(`bs${after.batchSize}`);
  }
  return `${parent}-${parts.length > 0 ? parts.join('-') : 'branch'}`;
}

interface DrivePlan {
  branch: BranchRecord;
  start: string;
  /** a new run: whether its step-0 checkpoint (`start`) was created, announced after `started` */
  root?: boolean;
  sched: Required<Schedule>;
  mustCheckpoint: Set<number>;
}

/** The step loop shared by start and continue. `live.trainer` may be replaced by a hook. */
async function drive(
  store: Store,
  live: { trainer: Trainer },
  plan: DrivePlan,
  ctl: TrainControl,
  hooks: JobHooks,
): Promise<TrainResult> {
  const { branch, sched } = plan;
  const { signal } = ctl;
  let trainer = live.trainer;
  const digester = await createDigester();
  const fromStep = trainer.step;
  const toStep = fromStep + sched.steps;
  const progress = new ProgressBatcher((e) => ctl.emit?.(e), fromStep, toStep, ctl.progressEveryMs);
  /** every event but progress: the steps before it go out first */
  const emit = (e: JobEvent): void => {
    progress.flush();
    ctl.emit?.(e);
  };
  emit({
    type: 'started',
    run: branch.run,
    branch: branch.name,
    seed: trainer.config.seed,
    fromStep,
    toStep,
    backend: trainer.config.backend,
  });
  if (plan.root !== undefined) {
    emit({ type: 'checkpoint', id: plan.start, step: 0, branch: branch.name, created: plan.root });
  }
  const trace = new TraceRecorder(fromStep, digester.algorithm);
  let last = plan.start;
  let tip = branch.tip;
  let tipStep = (await store.getNode(tip)).step;
  // this job's chain runs along the branch once it starts at (or reproduces) the branch's tip
  let onTip = plan.start === tip;
  let reproduced = 0;
  let created = 0;
  let loss: number | null = null;
  let status: TrainResult['status'] = 'done';
  let note: string | undefined;
  let lastEval: EvalResult = {};
  const t0 = performance.now();

  const checkpoint = async (): Promise<void> => {
    const state = trainer.snapshot();
    const traceBytes = trace.take(state.step);
    const traceId = traceBytes ? await store.putObject(traceBytes) : undefined;
    const res = await store.putCheckpoint(encodeState(state), {
      parent: last,
      step: state.step,
      trace: traceId,
      ...(loss !== null ? { loss } : {}),
    });
    if (res.created) {
      created++;
    } else {
      reproduced++;
    }
    last = res.id;
    // move the branch tip forward only when this checkpoint extends it: its stored lineage
    // passes the tip, or this job's chain reached the tip (an existing state reached along
    // another path keeps its first parent, so its lineage may not show this branch)
    if (res.id === tip) {
      onTip = true;
    } else if (
      (onTip && state.step > tipStep) ||
      (await store.lineage(res.id)).some((n) => n.id === tip)
    ) {
      await store.updateBranch(branch.name, { tip: res.id }, tip);
      tip = res.id;
      tipStep = state.step;
      onTip = true;
    }
    emit({
      type: 'checkpoint',
      id: res.id,
      step: state.step,
      branch: branch.name,
      created: res.created,
    });
  };

  while (trainer.step < toStep) {
    if (signal?.aborted) {
      status = 'stopped';
      break;
    }
    await ctl.gate?.();
    if (signal?.aborted) {
      // stopped while paused: no further step
      status = 'stopped';
      break;
    }
    const r = trainer.trainStep();
    if (!Number.isFinite(r.loss)) {
      status = 'diverged';
      note = `loss became ${r.loss} at step ${r.step}`;
      break;
    }
    loss = r.loss;
    const planted = hooks.afterStep?.(r.step, trainer);
    if (planted) {
      const next = await Trainer.restore(planted);
      trainer.dispose();
      trainer = live.trainer = next;
    }
    const willCheckpoint =
      r.step === toStep || r.step % sched.checkpointEvery === 0 || plan.mustCheckpoint.has(r.step);
    trace.record({
      step: r.step,
      loss: r.loss,
      batchDigest: digester.batch(r.indices),
      stateDigest: digester.state(trainer.readTensors()),
    });
    progress.step(r.step, r.loss);
    if (r.step % sched.evalEvery === 0 || r.step === toStep) {
      lastEval = trainer.evaluate(
        r.step === toStep ? ['train', 'validation', 'test'] : ['validation', 'test'],
      );
      trace.recordEval(r.step, lastEval);
      emit({ type: 'metrics', step: r.step, eval: lastEval });
    }
    if (willCheckpoint) {
      if (!trainer.allFinite()) {
        status = 'diverged';
        note = `a weight became non-finite by step ${r.step}`;
        break;
      }
      await checkpoint();
      if (r.step === toStep || r.step % sched.evalEvery === 0) {
        await store.annotateNode(last, { eval: lastEval });
      }
    }
  }
  const ran = trainer.step - fromStep;
  if (
    status === 'stopped' &&
    trainer.step > fromStep &&
    last !== (await lastStoredAt(store, last, trainer.step))
  ) {
    await checkpoint();
  }
  progress.flush();
  const finalNode = await store.getNode(last);
  await store.updateBranch(branch.name, { status, ...(note ? { note } : {}) });
  return {
    run: branch.run,
    branch: branch.name,
    checkpoint: last,
    step: finalNode.step,
    stateHash: last,
    seed: trainer.config.seed,
    backend: trainer.config.backend,
    loss,
    msPerStep: ran > 0 ? (performance.now() - t0) / ran : 0,
    eval: finalNode.eval ?? lastEval,
    status,
    ...(note ? { note } : {}),
    reproduced,
    created,
  };
}

/** `id` when the checkpoint `id` is at `step`, else null. */
async function lastStoredAt(store: Store, id: string, step: number): Promise<string | null> {
  return (await store.getNode(id)).step === step ? id : null;
}
