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
 * - ms/step counts the training steps only: evaluations and checkpoint writes are left out.
 * Process-agnostic: runs in the CLI process, a job process or in-line alike.
 */
import { randomBytes } from 'node:crypto';
import { describeFingerprint, sameBits } from '../engine/backend';
import { canonicalJson } from '../engine/canonical-json';
import { encodeState } from '../engine/state';
import { createDigester, TraceRecorder } from '../engine/trace';
import { Trainer, type ConfigOverrides } from '../engine/trainer';
import { normalizeOptimizer } from '../engine/optimizers';
import {
  InputError,
  type BackendFingerprint,
  type EvalResult,
  type OptimizerKind,
  type TrainingConfig,
  type TrainingState,
} from '../engine/types';
import type { JobEvent, TrainResult } from '../../shared/contract';
import { reachProblem } from '../../shared/limits';
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
  /** a gan's discriminator learning rate */
  dLr?: number;
  optimizer?: OptimizerKind;
  batchSize?: number;
  branch?: string;
  /** refuse, instead of starting a new branch, when this machine's fingerprint differs */
  sameBranch?: boolean;
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

function checkSchedule(s: Schedule, inherited?: BranchRecord['schedule']): Required<Schedule> {
  const int = (name: string, v: number, min: number): number => {
    if (!Number.isInteger(v) || v < min || v > MAX_STEPS) {
      throw new InputError(`${name} must be an integer from ${min} to ${MAX_STEPS}, got ${v}`);
    }
    return v;
  };
  return {
    steps: int('--steps', s.steps, 1),
    checkpointEvery: int(
      '--checkpoint-every',
      s.checkpointEvery ?? inherited?.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY,
      1,
    ),
    evalEvery: int('--eval-every', s.evalEvery ?? inherited?.evalEvery ?? DEFAULT_EVAL_EVERY, 1),
  };
}

function newRunId(): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return `run-${t}-${randomBytes(3).toString('hex')}`;
}

/** Same training config (what shapes the updates): equal canonical JSON. */
function sameConfig(a: TrainingConfig, b: TrainingConfig): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** An InputError for an explicit branch name that is taken, with a free name to use instead. */
async function nameTaken(store: Store, name: string, why: string): Promise<InputError> {
  const free = await store.uniqueBranchName(name);
  return new InputError(
    `${why}: pick another name with --branch (e.g. '${free}'), or continue it with \`lockstep continue ${name} …\``,
  );
}

/**
 * Starts a new run at step 0 and trains it. The same config and seed as an existing run (same
 * root) retrace that run's first branch instead of duplicating it (see continueFrom's retrace).
 * An explicit `branch` name that is taken by anything else is an InputError (nothing written).
 */
export async function startRun(
  store: Store,
  req: TrainSpec,
  ctl: TrainControl = {},
  hooks: JobHooks = {},
): Promise<TrainResult> {
  const sched = checkSchedule(req);
  const notice = (message: string): void => ctl.emit?.({ type: 'notice', message });
  const trainer = await Trainer.create(req.config, notice);
  const live = { trainer };
  try {
    const state = trainer.snapshot();
    const enc = encodeState(state);
    const twin = await identicalRunBranch(store, enc.id, trainer.config, req.branch);
    if (twin !== null) {
      notice(
        `same config and seed as branch '${twin.name}' (run ${twin.run}): retracing it, nothing is duplicated`,
      );
      const mustCheckpoint = new Set<number>();
      for (const n of await store.lineage(twin.tip)) {
        if (n.step > 0) {
          mustCheckpoint.add(n.step);
        }
      }
      return await drive(
        store,
        live,
        { branch: twin, start: enc.id, sched, mustCheckpoint, owned: false },
        ctl,
        hooks,
      );
    }
    if (req.branch !== undefined && (await store.uniqueBranchName(req.branch)) !== req.branch) {
      throw await nameTaken(store, req.branch, `branch '${req.branch}' already exists`);
    }
    const root = await store.putCheckpoint(enc, { parent: null, step: 0 });
    const run = newRunId();
    const now = new Date().toISOString();
    const name = req.branch ?? (await store.uniqueBranchName(defaultBranchName(trainer.config)));
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
      schedule: { checkpointEvery: sched.checkpointEvery, evalEvery: sched.evalEvery },
      createdAt: now,
      updatedAt: now,
    };
    await store.createBranch(branch);
    return await drive(
      store,
      live,
      {
        branch,
        start: root.id,
        root: root.created,
        sched,
        mustCheckpoint: new Set(),
        owned: true,
      },
      ctl,
      hooks,
    );
  } finally {
    live.trainer.dispose();
  }
}

/**
 * The first branch (base null) of an existing run rooted at `root` with the same config, when a
 * new run would duplicate it: with no name asked for, or the name is that branch's.
 */
async function identicalRunBranch(
  store: Store,
  root: string,
  config: TrainingConfig,
  name: string | undefined,
): Promise<BranchRecord | null> {
  if (!(await store.hasCheckpoint(root))) {
    return null;
  }
  const runs = new Set((await store.listRuns()).filter((r) => r.root === root).map((r) => r.id));
  for (const b of await store.listBranches()) {
    if (
      runs.has(b.run) &&
      b.base === null &&
      sameConfig(b.config, config) &&
      (name === undefined || name === b.name)
    ) {
      return b;
    }
  }
  return null;
}

/**
 * Continues (or branches) from any checkpoint.
 *
 * - The branch a ref names (`b`, `b@N`) — else the branch whose tip the checkpoint is, else the
 *   first branch holding it — gives the config a continue keeps (its record's config, so a branch
 *   whose first job stored nothing keeps its hyperparameters) and its checkpoint and evaluation
 *   schedule (unless overridden).
 * - Refused before anything is written: a checkpoint on no branch; data whose digest differs
 *   from the checkpoint's; with `sameBranch`, a backend fingerprint that differs from the
 *   checkpoint's; an explicit `branch` name that is taken (other than by the identical branch).
 * - Another fingerprint without `sameBranch` starts a new branch named for it (origin
 *   `fingerprint`), with a notice.
 * - Re-running a branching continue (same checkpoint, same resulting config) retraces the
 *   branch it made before instead of making a duplicate.
 * - Every checkpoint reported is reachable: a job from a middle checkpoint that ends between the
 *   branch's stored checkpoints keeps its result on a new branch `<branch>-from<step>` (origin
 *   `reachable`); one that only reproduces stored checkpoints writes nothing at all.
 */
export async function continueFrom(
  store: Store,
  req: ContinueSpec,
  ctl: TrainControl = {},
  hooks: JobHooks = {},
): Promise<TrainResult> {
  const notice = (message: string): void => ctl.emit?.({ type: 'notice', message });
  const fromId = await store.resolveRef(req.from);
  const state = await store.readState(fromId);
  // refuse before anything is trained or written: steps past the cap are not exact arithmetic
  const reach = reachProblem(state.step, req.steps);
  if (reach !== null) {
    throw new InputError(reach);
  }
  const fromNode = await store.getNode(fromId);
  const branches = await store.listBranches();
  const owners = await branchesContaining(store, branches, fromId);
  if (owners.length === 0) {
    throw new InputError(`checkpoint ${fromId.slice(0, 12)} is on no branch`);
  }
  const named = namedBranch(req.from, owners);
  const tipOwners = owners.filter((b) => b.tip === fromId);
  const ctx =
    named ?? tipOwners.find((b) => sameConfig(b.config, state.config)) ?? tipOwners[0] ?? owners[0];
  // the config in force after this checkpoint on that branch
  const current = named !== null || ctx.tip === fromId ? ctx.config : state.config;
  const wanted = wantedConfig(current, req);
  const changed = !sameConfig(wanted, current);
  const sched = checkSchedule(req, ctx.schedule);
  const trainer = await Trainer.restore(state, overridesOf(state.config, wanted), notice);
  const live = { trainer };
  try {
    if (trainer.datasetDigest !== state.datasetDigest) {
      throw new InputError(
        `dataset '${state.config.dataset}' here has digest ${trainer.datasetDigest.slice(0, 12)}, but checkpoint ${fromId.slice(0, 12)} was trained on data with digest ${state.datasetDigest.slice(0, 12)}: refusing to continue on different data`,
      );
    }
    const fpChanged = !sameBits(trainer.backendFingerprint, state.backend);
    if (fpChanged && req.sameBranch) {
      throw new InputError(
        `checkpoint ${fromId.slice(0, 12)} was recorded on ${describeFingerprint(state.backend)}, this machine runs ${describeFingerprint(trainer.backendFingerprint)}: bitwise continuation is not promised, so --same-branch refuses (without it a new branch is started)`,
      );
    }
    const schedule = { checkpointEvery: sched.checkpointEvery, evalEvery: sched.evalEvery };
    const retrace = (b: BranchRecord): DrivePlan => {
      const mustCheckpoint = new Set<number>();
      return { branch: b, start: fromId, sched, mustCheckpoint, owned: false };
    };
    let plan: DrivePlan;
    if (!fpChanged && !changed && req.branch === undefined) {
      plan =
        ctx.tip === fromId
          ? {
              branch: await store.updateBranch(ctx.name, { status: 'running' }),
              start: fromId,
              sched,
              mustCheckpoint: new Set(),
              owned: true,
            }
          : retrace(ctx);
    } else {
      const twin = fpChanged
        ? undefined
        : branches.find(
            (b) =>
              b.base === fromId &&
              sameConfig(b.config, trainer.config) &&
              (req.branch === undefined || req.branch === b.name),
          );
      if (twin !== undefined) {
        notice(
          `branch '${twin.name}' already continues ${fromId.slice(0, 12)} with these settings: retracing it`,
        );
        plan = retrace(twin);
      } else {
        if (req.branch !== undefined && (await store.uniqueBranchName(req.branch)) !== req.branch) {
          throw await nameTaken(store, req.branch, `branch '${req.branch}' already exists`);
        }
        const auto = fpChanged
          ? `${ctx.name}-${fingerprintTag(state.backend, trainer.backendFingerprint)}`
          : branchNameFor(ctx.name, current, trainer.config);
        const name = req.branch ?? (await store.uniqueBranchName(auto));
        const now = new Date().toISOString();
        const branch: BranchRecord = {
          name,
          run: ctx.run,
          tip: fromId,
          base: fromId,
          config: trainer.config,
          status: 'running',
          schedule,
          ...(fpChanged
            ? {
                origin: 'fingerprint' as const,
                fingerprintFrom: describeFingerprint(state.backend),
              }
            : {}),
          createdAt: now,
          updatedAt: now,
        };
        await store.createBranch(branch);
        notice(
          fpChanged
            ? `checkpoint ${fromId.slice(0, 12)} was recorded on ${describeFingerprint(state.backend)}; this machine runs ${describeFingerprint(trainer.backendFingerprint)}, so the continuation goes on a new branch '${name}' (--same-branch refuses instead)`
            : `new branch '${name}' from ${fromId.slice(0, 12)} at step ${fromNode.step}`,
        );
        plan = { branch, start: fromId, sched, mustCheckpoint: new Set(), owned: true };
      }
    }
    if (!plan.owned) {
      for (const n of await store.lineage(plan.branch.tip)) {
        if (n.step > fromNode.step) {
          plan.mustCheckpoint.add(n.step);
        }
      }
    }
    return await drive(store, live, plan, ctl, hooks);
  } finally {
    live.trainer.dispose();
  }
}

/** The branch a ref names (`name` or `name@N`), when it is one of `owners`. */
function namedBranch(ref: string, owners: BranchRecord[]): BranchRecord | null {
  const at = ref.lastIndexOf('@');
  const name = at > 0 && /^\d+$/.test(ref.slice(at + 1)) ? ref.slice(0, at) : ref;
  return owners.find((b) => b.name === name) ?? null;
}

/** `current` with the request's optimizer, learning rate and batch size applied. */
function wantedConfig(current: TrainingConfig, req: ContinueSpec): TrainingConfig {
  const kind = req.optimizer ?? current.optimizer.kind;
  const lr = req.lr ?? current.optimizer.lr;
  const optimizer =
    kind === current.optimizer.kind && lr === current.optimizer.lr
      ? current.optimizer
      : normalizeOptimizer(kind, lr, kind === current.optimizer.kind ? current.optimizer : {});
  const d = current.discriminatorOptimizer;
  if (req.dLr !== undefined && d === undefined) {
    throw new InputError('--d-lr applies to a gan only');
  }
  const discriminatorOptimizer =
    d && req.dLr !== undefined && req.dLr !== d.lr ? normalizeOptimizer(d.kind, req.dLr, d) : d;
  return {
    ...current,
    optimizer,
    ...(discriminatorOptimizer ? { discriminatorOptimizer } : {}),
    batchSize: req.batchSize ?? current.batchSize,
  };
}

/** What Trainer.restore must change in a checkpoint's config to train under `wanted`. */
function overridesOf(config: TrainingConfig, wanted: TrainingConfig): ConfigOverrides {
  const out: ConfigOverrides = {};
  if (canonicalJson(config.optimizer) !== canonicalJson(wanted.optimizer)) {
    out.optimizer = wanted.optimizer;
  }
  if (wanted.batchSize !== config.batchSize) {
    out.batchSize = wanted.batchSize;
  }
  const [d, w] = [config.discriminatorOptimizer, wanted.discriminatorOptimizer];
  if (w !== undefined && canonicalJson(d) !== canonicalJson(w)) {
    out.discriminatorOptimizer = w;
  }
  return out;
}

/** A branch-name part for the fingerprint a continuation moves to, e.g. `wasm`, `kernels-lockstep-kernels-2`. */
function fingerprintTag(from: BackendFingerprint, to: BackendFingerprint): string {
  if (from.backend !== to.backend) {
    return to.backend;
  }
  const keys = ['kernels', 'tfjs', 'library', 'arch', 'platform', 'cpu', 'threads'] as const;
  const k = keys.find((key) => from[key] !== to[key]);
  const raw = k === undefined ? 'fingerprint' : `${k}-${String(to[k] ?? 'none')}`;
  const tag = raw
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 40);
  return tag === '' ? 'fingerprint' : tag;
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
  const [d0, d1] = [before.discriminatorOptimizer, after.discriminatorOptimizer];
  if (d0 && d1 && d0.lr !== d1.lr) {
    parts.push(`dlr${d1.lr}`);
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
  /**
   * the job owns the branch's status (it extends the branch from its tip or made it); a retrace
   * from a middle checkpoint owns it only once it moves the tip
   */
  owned: boolean;
}

/** The step loop shared by start and continue. `live.trainer` may be replaced by a hook. */
async function drive(
  store: Store,
  live: { trainer: Trainer },
  plan: DrivePlan,
  ctl: TrainControl,
  hooks: JobHooks,
): Promise<TrainResult> {
  let { branch } = plan;
  const { sched } = plan;
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
  let owned = plan.owned;
  // this job's chain runs along the branch once it starts at (or reproduces) the branch's tip
  let onTip = plan.start === tip;
  let reproduced = 0;
  let created = 0;
  let lastCreated = false;
  let loss: number | null = null;
  let ganLosses: { dLoss: number; gLoss: number } | null = null;
  let status: TrainResult['status'] = 'done';
  let note: string | undefined;
  let lastEval: EvalResult = {};
  // time spent evaluating and writing checkpoints: not part of ms/step
  let asideMs = 0;
  const t0 = performance.now();

  const checkpoint = async (): Promise<void> => {
    const state = trainer.snapshot();
    const enc = encodeState(state);
    const traceBytes = trace.take(state.step);
    let res: { id: string; created: boolean };
    if (await store.hasCheckpoint(enc.id)) {
      // an identical state is stored already: write nothing (no trace object either) ...
      res = { id: enc.id, created: false };
      // ... unless this job stored a checkpoint between it and its stored parent (a finer
      // interval): then the stored chain is refined through it, so that checkpoint is on every
      // branch through this one instead of an orphan (review finding 11)
      const stored = await store.getNode(enc.id);
      if (lastCreated && stored.parent !== null && stored.parent !== last) {
        const [lastNode, oldParent] = await Promise.all([
          store.getNode(last),
          store.getNode(stored.parent),
        ]);
        if (lastNode.step > oldParent.step) {
          const traceId = traceBytes ? await store.putObject(traceBytes) : undefined;
          await store.refineParent(enc.id, last, traceId);
        }
      }
    } else {
      const traceId = traceBytes ? await store.putObject(traceBytes) : undefined;
      res = await store.putCheckpoint(enc, {
        parent: last,
        step: state.step,
        trace: traceId,
        ...(loss !== null ? { loss } : {}),
        ...(ganLosses ?? {}),
      });
    }
    lastCreated = res.created;
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
      branch = await store.updateBranch(branch.name, { tip: res.id }, tip);
      tip = res.id;
      tipStep = state.step;
      onTip = true;
      owned = true;
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
    // a pause is acknowledged only after the steps taken so far went out
    await ctl.gate?.(() => progress.flush());
    if (signal?.aborted) {
      // stopped while paused: no further step
      status = 'stopped';
      break;
    }
    const r = trainer.trainStep();
    if (!Number.isFinite(r.loss) || (r.gLoss !== undefined && !Number.isFinite(r.gLoss))) {
      status = 'diverged';
      note = Number.isFinite(r.loss)
        ? `generator loss became ${r.gLoss} at step ${r.step}`
        : `loss became ${r.loss} at step ${r.step}`;
      break;
    }
    loss = r.loss;
    ganLosses = r.gLoss !== undefined ? { dLoss: r.loss, gLoss: r.gLoss } : null;
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
      ...(r.gLoss !== undefined ? { dLoss: r.loss, gLoss: r.gLoss } : {}),
      batchDigest: digester.batch(r.indices),
      stateDigest: digester.state(trainer.readTensors()),
    });
    progress.step(r.step, r.loss, r.gLoss);
    const t1 = performance.now();
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
      if (lastCreated && (r.step === toStep || r.step % sched.evalEvery === 0)) {
        await store.annotateNode(last, { eval: lastEval });
      }
    }
    asideMs += performance.now() - t1;
  }
  const ran = trainer.step - fromStep;
  const trainMs = performance.now() - t0 - asideMs;
  if (
    status === 'stopped' &&
    trainer.step > fromStep &&
    last !== (await lastStoredAt(store, last, trainer.step))
  ) {
    await checkpoint();
  }
  progress.flush();
  // every checkpoint reported must be reachable: a result off the branch gets its own branch
  if (last !== plan.start && !(await store.lineage(tip)).some((n) => n.id === last)) {
    const fromStepNode = (await store.getNode(plan.start)).step;
    const name = await store.uniqueBranchName(`${branch.name}-from${fromStepNode}`);
    const now = new Date().toISOString();
    const kept: BranchRecord = {
      name,
      run: branch.run,
      tip: last,
      base: plan.start,
      config: trainer.config,
      status,
      ...(note ? { note } : {}),
      schedule: { checkpointEvery: sched.checkpointEvery, evalEvery: sched.evalEvery },
      origin: 'reachable',
      createdAt: now,
      updatedAt: now,
    };
    await store.createBranch(kept);
    emit({
      type: 'notice',
      message: `step ${trainer.step} falls between the stored checkpoints of branch '${branch.name}' (tip at step ${tipStep}): its checkpoint is kept on a new branch '${name}'`,
    });
    branch = kept;
  } else if (owned) {
    branch = await store.updateBranch(branch.name, { status, ...(note ? { note } : {}) });
  }
  const finalNode = await store.getNode(last);
  return {
    run: branch.run,
    branch: branch.name,
    checkpoint: last,
    step: finalNode.step,
    stateHash: last,
    seed: trainer.config.seed,
    backend: trainer.config.backend,
    loss,
    ...(ganLosses ?? {}),
    msPerStep: ran > 0 ? trainMs / ran : 0,
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
