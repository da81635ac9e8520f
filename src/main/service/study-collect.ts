/**
 * Collecting a job directory (CLI `study collect <dir>`): every finished task's bundle comes into
 * the store through the import checks, a sample is re-verified by replay, and the same report as
 * a local study is built and stored (or, for a sweep, one row per grid point).
 *
 * Promises:
 * - A bundle is untrusted input: it is read with every hostile-input check (../bundle/read.ts),
 *   then checked to be the task's run (one branch, the task's branch name, config, seed and
 *   final step) before anything is written; a refused bundle leaves the store byte-identical and
 *   is listed in `missing` with state `rejected` and the reason. Each bundle is imported whole or
 *   not at all (../bundle/import.ts), so no half-imported task is ever left.
 * - Tasks with no bundle are listed in `missing` with their state (pending, running, failed,
 *   missing) from ../executors/status.ts; the statistics cover the collected runs only.
 * - `verify`: 'all', 'none' or a count (default {@link DEFAULT_VERIFY}); the sample is spread
 *   evenly over the collected runs (first and last included), never random. Each sampled run is
 *   replayed from step 0 (../service/verify.ts); a mismatch is reported, not hidden.
 * - A job on a stored dataset (../executors/job-dataset.ts): every bundle must have trained on
 *   the job's digest; the dataset is added to the store from the job directory's copy when the
 *   store lacks the name, and a store holding other data under the name is refused up front.
 * - Collecting again (after a resubmission) re-imports nothing that is already there and
 *   replaces the stored report with the new one.
 */
import { canonicalJson } from '../engine/canonical-json';
import { InputError, type TrainingConfig } from '../engine/types';
import { BundleError } from '../bundle/errors';
import { importReadBundle } from '../bundle/import';
import { readBundle, type ReadBundle } from '../bundle/read';
import type { Store } from '../store/store';
import type {
  MissingTask,
  StudyReport,
  SweepReport,
  TaskVerification,
} from '../../shared/contract';
import { bundlePath, readJobDir, type JobSpec, type TaskSpec } from '../executors/jobdir';
import { jobDatasetPath, type JobDataset } from '../executors/job-dataset';
import { jobStatus } from '../executors/status';
import { findDataset } from '../store/datasets';
import { addDatasetFromFiles } from './datasets';
import { buildStudyReport, storeStudyReport } from './study';
import { verifyRef } from './verify';

export const DEFAULT_VERIFY = 2;
export const SWEEP_KEEP_PREFIX = 'sweep/';
export const JOB_KEEP_PREFIX = 'job/';

export type VerifyChoice = 'all' | 'none' | number;

export interface CollectOptions {
  verify?: VerifyChoice;
  signal?: AbortSignal;
  /** what is happening, for a progress line */
  onProgress?: (done: number, total: number, label: string) => void;
}

interface Collected {
  task: TaskSpec;
  run: string;
  branch: string;
  checkpoint: string;
  finalLoss: number | null;
  testPrecision: number | null;
}

/** Collects the job directory `dir` into the store; returns the stored report. */
export async function collectJob(
  store: Store,
  dirArg: string,
  opts: CollectOptions = {},
): Promise<StudyReport | SweepReport> {
  const { dir, spec } = await readJobDir(dirArg);
  if (spec.dataset !== undefined) {
    await useJobDataset(store, dir, spec.dataset);
  }
  await registerJob(store, dir, spec);
  const status = await jobStatus(dir);
  const collected: Collected[] = [];
  const missing: MissingTask[] = [];
  const total = spec.tasks.length;
  for (const t of spec.tasks) {
    opts.signal?.throwIfAborted();
    opts.onProgress?.(t.index, total, 'importing');
    const st = status.tasks[t.index];
    if (st.state !== 'done') {
      missing.push({
        task: t.index,
        seed: t.seed,
        branch: t.branch,
        state: st.state,
        detail: st.detail ?? st.state,
      });
      continue;
    }
    try {
      collected.push(await importTask(store, dir, t, spec.dataset));
    } catch (e) {
      if (!(e instanceof BundleError)) {
        throw e;
      }
      missing.push({
        task: t.index,
        seed: t.seed,
        branch: t.branch,
        state: 'rejected',
        detail: e.message.split('\n')[0],
      });
    }
  }
  opts.onProgress?.(total, total, 'importing');
  const verification = await verifySample(store, collected, opts);

  if (spec.kind === 'sweep') {
    const report: SweepReport = {
      id: spec.id,
      kind: 'sweep',
      createdAt: spec.createdAt,
      jobDir: dir,
      executor: spec.executor,
      steps: spec.steps,
      axes: spec.axes ?? { lr: [], batchSize: [], seed: [], optimizer: [] },
      results: collected.map((c) => ({
        task: c.task.index,
        config: c.task.config,
        run: c.run,
        branch: c.branch,
        checkpoint: c.checkpoint,
        finalLoss: c.finalLoss,
        testPrecision: c.testPrecision,
      })),
      missing,
      verification,
    };
    const object = await store.putObject(new TextEncoder().encode(canonicalJson(report)));
    await store.setKeep(`${SWEEP_KEEP_PREFIX}${spec.id}`, [
      object,
      ...collected.map((c) => c.checkpoint),
    ]);
    return { ...report, object };
  }

  const report = await buildStudyReport(
    store,
    {
      id: spec.id,
      runs: spec.runs ?? spec.tasks.length / 2,
      baseSeed: spec.baseSeed ?? spec.config.seed,
      config: spec.config,
      steps: spec.steps,
      executor: spec.executor,
      createdAt: spec.createdAt,
      jobDir: dir,
      missing,
      verification,
      results: collected.map((c) => ({
        group: c.task.group === 'different' ? 'different' : 'same',
        seed: c.task.seed,
        run: c.run,
        branch: c.branch,
        checkpoint: c.checkpoint,
        finalLoss: c.finalLoss,
        testPrecision: c.testPrecision,
        task: c.task.index,
      })),
    },
    opts.signal,
  );
  return storeStudyReport(store, report);
}

/**
 * Records a job directory in the store (keep ref `job/<id>` → a small JSON object naming it), so
 * listStudies finds submitted jobs before they are collected. Idempotent.
 */
export async function registerJob(store: Store, dir: string, spec: JobSpec): Promise<void> {
  const ref = {
    format: 'lockstep/job-ref@1',
    id: spec.id,
    kind: spec.kind,
    executor: spec.executor,
    dir,
    createdAt: spec.createdAt,
    runs: spec.kind === 'study' ? (spec.runs ?? spec.tasks.length / 2) : spec.tasks.length,
    tasks: spec.tasks.length,
    config: spec.config,
    steps: spec.steps,
  };
  const object = await store.putObject(new TextEncoder().encode(canonicalJson(ref)));
  await store.setKeep(`${JOB_KEEP_PREFIX}${spec.id}`, [object]);
}

/** The fields of a config that decide a run's bits, as one comparable string. */
function essentials(c: TrainingConfig): string {
  return canonicalJson({
    dataset: c.dataset,
    model: {
      kind: c.model.kind,
      hidden: c.model.kind === 'mlp' ? c.model.hidden : [],
      layers: c.model.layers ?? null,
    },
    augment: c.augment ?? null,
    optimizer: { kind: c.optimizer.kind, lr: c.optimizer.lr },
    batchSize: c.batchSize,
    seed: c.seed,
    backend: c.backend,
  });
}

/**
 * The job's stored dataset in this store, for replays and for runs that continue from the
 * collected ones: added from the job directory's checked copy when the name is free; the same
 * data under the name is fine; other data under the name is refused (InputError), nothing
 * collected, since every replay of the runs would fail on it.
 */
async function useJobDataset(store: Store, dir: string, d: JobDataset): Promise<void> {
  const have = await findDataset(store, d.name);
  if (have === null) {
    await addDatasetFromFiles(store, d.name, jobDatasetPath(dir, d.digest), { digest: d.digest });
  } else if (have.digest !== d.digest) {
    throw new InputError(
      `dataset '${d.name}' in this store has other data (digest ${have.digest.slice(0, 12)}…) than the job trained on (${d.digest.slice(0, 12)}…): collect into another store, or remove it first (lockstep data rm ${d.name})`,
    );
  }
}

/** BundleError unless the bundle holds exactly the task's run (on the job's stored dataset). */
function checkIsTask(b: ReadBundle, t: TaskSpec, d: JobDataset | undefined): { tip: string } {
  const m = b.manifest;
  if (m.branches.length !== 1 || m.runs.length !== 1) {
    throw new BundleError(
      'BAD_MANIFEST',
      `task ${t.index}: the bundle holds ${m.branches.length} branches and ${m.runs.length} runs, not the task's one run`,
    );
  }
  const br = m.branches[0];
  if (br.name !== t.branch) {
    throw new BundleError(
      'BAD_MANIFEST',
      `task ${t.index}: the bundle's branch is '${br.name}', not the task's '${t.branch}'`,
    );
  }
  const tip = b.checkpoints.find((c) => c.node.id === br.tip);
  if (!tip) {
    throw new BundleError('BAD_MANIFEST', `task ${t.index}: the bundle does not hold its tip`);
  }
  if (essentials(tip.manifest.config as TrainingConfig) !== essentials(t.config)) {
    throw new BundleError(
      'BAD_MANIFEST',
      `task ${t.index}: the bundle's config is not the task's (seed ${tip.manifest.config.seed} vs ${t.seed})`,
    );
  }
  const digest = tip.manifest.datasetDigest;
  if (d !== undefined && digest !== d.digest) {
    throw new BundleError(
      'BAD_MANIFEST',
      `task ${t.index}: the bundle was trained on data with digest ${String(digest).slice(0, 12)}…, not the job's dataset '${d.name}' (${d.digest.slice(0, 12)}…)`,
    );
  }
  if (tip.node.step !== t.steps) {
    throw new BundleError(
      'BAD_MANIFEST',
      `task ${t.index}: the bundle ends at step ${tip.node.step}, the task trains ${t.steps} steps`,
    );
  }
  return { tip: br.tip };
}

async function importTask(
  store: Store,
  dir: string,
  t: TaskSpec,
  d: JobDataset | undefined,
): Promise<Collected> {
  const bundle = await readBundle(bundlePath(dir, t.index));
  const { tip } = checkIsTask(bundle, t, d);
  const r = await importReadBundle(store, bundle);
  // the branch's name here: as in the bundle, renamed, or an earlier import's identical branch
  let name = r.renamed[t.branch] ?? t.branch;
  if (!r.imported.includes(name)) {
    const same = r.existing.find((n) => n === t.branch || n.startsWith(`${t.branch}-imported`));
    name = same ?? name;
  }
  const branch = await store.getBranch(name);
  const node = await store.getNode(tip);
  return {
    task: t,
    run: branch.run,
    branch: name,
    checkpoint: tip,
    finalLoss: node.loss ?? null,
    testPrecision: node.eval?.test?.precision ?? null,
  };
}

/** Indices of `n` items evenly spread over `count` (first and last included). */
export function spread(count: number, n: number): number[] {
  if (n >= count) {
    return Array.from({ length: count }, (_, k) => k);
  }
  if (n <= 0) {
    return [];
  }
  if (n === 1) {
    return [0];
  }
  return [...new Set(Array.from({ length: n }, (_, k) => Math.round((k * (count - 1)) / (n - 1))))];
}

async function verifySample(
  store: Store,
  collected: Collected[],
  opts: CollectOptions,
): Promise<TaskVerification[]> {
  const choice = opts.verify ?? DEFAULT_VERIFY;
  const n = choice === 'all' ? collected.length : choice === 'none' ? 0 : choice;
  const picks = spread(collected.length, n).map((k) => collected[k]);
  const out: TaskVerification[] = [];
  for (const [k, c] of picks.entries()) {
    opts.onProgress?.(k, picks.length, 'verifying');
    const v = await verifyRef(store, c.checkpoint, { signal: opts.signal });
    out.push({
      task: c.task.index,
      checkpoint: c.checkpoint,
      verified: v.verified,
      ...(v.firstMismatch ? { detail: v.firstMismatch.detail } : {}),
    });
  }
  if (picks.length > 0) {
    opts.onProgress?.(picks.length, picks.length, 'verifying');
  }
  return out;
}
