/**
 * The seed study (CLI `study --runs K …`): K runs with the same seed and K with different seeds
 * (base+1 … base+K, mod 2^32), then the mean and standard deviation (sample, n−1) of the final
 * loss and test precision in each group, and the same-seed spread as a share of the
 * different-seed spread. Zero is the goal; any difference between the same-seed runs' final
 * states is flagged as a determinism bug with the first differing step (from compareRefs).
 *
 * Runs go one process per core at most: with `parallel` > 1 each run is a training job in a job
 * process of its own (./jobs/runner.ts over ../job-process/fork-node.ts: the same protocol as
 * every service job) writing into the same store (the store's writer lock serialises records);
 * with `parallel` = 1 they run one after the other in this process. The signal stops a study:
 * running jobs stop after their current step (their checkpoints are kept) and runStudy rejects
 * with the signal's reason.
 *
 * Results: the report is stored as an object and kept by the keep ref `study/<id>` (first line:
 * the report object, then every run's final checkpoint), so gc keeps them and listStudies finds
 * them. Each run is also an ordinary run with a branch `<id>-same-<i>` / `<id>-seed-<seed>`.
 */
import { configOfRequest } from './model-request';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { canonicalJson } from '../engine/canonical-json';
import { drawSeed } from '../engine/rng';
import { InputError, type TrainingConfig } from '../engine/types';
import type { Store } from '../store/store';
import type {
  StartRunRequest,
  StudyGroupStats,
  StudyReport,
  TrainResult,
} from '../../shared/contract';
import { LIMITS, ServiceError } from '../../shared/contract';
import { compareCodeUnits } from '../../shared/order';
import { compareRefs } from './compare';
import type { TrainSpec } from './train';

export type { StudyReport } from '../../shared/contract';

export interface StudyRequest {
  runs: number;
  train: Omit<StartRunRequest, 'seed' | 'branch'> & { seed?: number };
  /** base seed (default: train.seed, else drawn) */
  seed?: number;
}

export interface StudyOptions {
  signal?: AbortSignal;
  /** finished runs of total */
  onProgress?: (done: number, total: number) => void;
  /** processes at once (default: one per core; 1 = in this process) */
  parallel?: number;
}

export const STUDY_KEEP_PREFIX = 'study/';

interface Task {
  group: 'same' | 'different';
  seed: number;
  branch: string;
}

type Result = NonNullable<StudyReport['results']>[number];

export async function runStudy(
  store: Store,
  req: StudyRequest,
  opts: StudyOptions = {},
): Promise<StudyReport> {
  const K = req.runs;
  if (!Number.isInteger(K) || K < 1 || K > LIMITS.maxStudyRuns) {
    throw new InputError(`--runs must be an integer from 1 to ${LIMITS.maxStudyRuns}, got ${K}`);
  }
  const t = req.train;
  const base = req.seed ?? t.seed ?? (await drawSeed());
  if (!Number.isInteger(base) || base < 0 || base > LIMITS.maxSeed) {
    throw new InputError(`seed must be an integer from 0 to ${LIMITS.maxSeed}, got ${base}`);
  }
  const config: TrainingConfig = configOfRequest(t, base);
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  const id = `study-${stamp}-${randomBytes(3).toString('hex')}`;
  const tasks: Task[] = [];
  for (let i = 1; i <= K; i++) {
    tasks.push({ group: 'same', seed: base, branch: `${id}-same-${i}` });
  }
  for (let i = 1; i <= K; i++) {
    const seed = (base + i) % (LIMITS.maxSeed + 1);
    tasks.push({ group: 'different', seed, branch: `${id}-seed-${seed}` });
  }
  const requestOf = (task: Task): TrainSpec => ({
    config: { ...config, seed: task.seed },
    seedSource: 'explicit',
    steps: t.steps,
    checkpointEvery: t.checkpointEvery,
    evalEvery: t.evalEvery,
    branch: task.branch,
  });

  const parallel = Math.max(
    1,
    Math.min(opts.parallel ?? availableParallelism(), availableParallelism(), tasks.length),
  );
  const inProcess = parallel === 1;
  const results: Result[] = new Array(tasks.length);
  let done = 0;
  opts.onProgress?.(0, tasks.length);
  const runOne = async (k: number): Promise<void> => {
    const task = tasks[k];
    const r = inProcess
      ? await runInThisProcess(store, requestOf(task), opts.signal)
      : await runInJobProcess(store.dir, requestOf(task), opts.signal);
    results[k] = {
      group: task.group,
      seed: task.seed,
      run: r.run,
      branch: r.branch,
      checkpoint: r.checkpoint,
      finalLoss: r.loss,
      testPrecision: r.eval.test?.precision ?? null,
    };
    opts.onProgress?.(++done, tasks.length);
  };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length && !opts.signal?.aborted) {
      await runOne(next++);
    }
  };
  const outcomes = await Promise.allSettled(Array.from({ length: parallel }, worker));
  opts.signal?.throwIfAborted();
  for (const o of outcomes) {
    if (o.status === 'rejected') {
      throw o.reason;
    }
  }

  return storeStudyReport(
    store,
    await buildStudyReport(
      store,
      { id, runs: K, baseSeed: base, config, steps: t.steps, results, executor: 'inprocess' },
      opts.signal,
    ),
  );
}

/** What a study report is computed from (a local study, or a collected job directory). */
export interface StudyInput {
  id: string;
  runs: number;
  baseSeed: number;
  config: TrainingConfig;
  steps: number;
  /** the runs that have a result (a collected study may miss some) */
  results: Result[];
  executor: NonNullable<StudyReport['executor']>;
  createdAt?: string;
  jobDir?: string;
  missing?: StudyReport['missing'];
  verification?: StudyReport['verification'];
}

/**
 * The study report of the given results: group stats, the same-seed share, and the first pair
 * of same-seed runs whose final checkpoints differ (named by task when collected, with the first
 * differing step from compareRefs).
 */
export async function buildStudyReport(
  store: Store,
  input: StudyInput,
  signal?: AbortSignal,
): Promise<StudyReport> {
  const results =
    input.config.model.kind === 'gan'
      ? await withGanMeasures(store, input.results, signal)
      : input.results;
  const same = results.filter((r) => r.group === 'same');
  const diff = results.filter((r) => r.group === 'different');
  const sameSeed = stats(same);
  const differentSeeds = stats(diff);
  let determinismBug: StudyReport['determinismBug'] = null;
  const odd = same.find((r) => r.checkpoint !== same[0].checkpoint);
  if (odd) {
    const c = await compareRefs(store, same[0].checkpoint, odd.checkpoint, { signal });
    const name = (r: Result): string =>
      r.task !== undefined ? `task ${r.task} (${r.branch})` : r.branch;
    determinismBug = {
      firstDifferingStep: c.firstDivergentStep,
      detail: `determinism bug: same-seed runs ${name(same[0])} and ${name(odd)} differ${
        c.firstDivergentStep !== null ? ` from step ${c.firstDivergentStep}` : ''
      }${c.tensor ? ` (first tensor ${c.tensor})` : ''}`,
    };
  }
  return {
    id: input.id,
    runs: input.runs,
    sameSeed,
    differentSeeds,
    sameSeedShare: share(sameSeed.finalLoss.std, differentSeeds.finalLoss.std),
    determinismBug,
    createdAt: input.createdAt ?? new Date().toISOString(),
    baseSeed: input.baseSeed,
    config: input.config,
    steps: input.steps,
    sameSeedPrecisionShare: share(sameSeed.testPrecision.std, differentSeeds.testPrecision.std),
    results,
    executor: input.executor,
    ...(input.jobDir !== undefined ? { jobDir: input.jobDir } : {}),
    ...(input.missing !== undefined ? { missing: input.missing } : {}),
    ...(input.verification !== undefined ? { verification: input.verification } : {}),
    ...(sameSeed.sampleQuality && differentSeeds.sampleQuality
      ? {
          sameSeedQualityShare: share(sameSeed.sampleQuality.std, differentSeeds.sampleQuality.std),
        }
      : {}),
  };
}

/**
 * Stores the report as an object kept by `study/<id>` with every run's final checkpoint (so gc
 * keeps them); replaces an earlier report of the same study (a re-collect). Returns the report
 * with its object id.
 */
export async function storeStudyReport(store: Store, report: StudyReport): Promise<StudyReport> {
  const { object: _old, ...plain } = report;
  const object = await store.putObject(new TextEncoder().encode(canonicalJson(plain)));
  await store.setKeep(`${STUDY_KEEP_PREFIX}${report.id}`, [
    object,
    ...new Set((report.results ?? []).map((r) => r.checkpoint)),
  ]);
  return { ...plain, object };
}

/** Every stored study, oldest first. */
export async function listStudies(store: Store): Promise<StudyReport[]> {
  const out: StudyReport[] = [];
  for (const [name, ids] of await store.listKeeps()) {
    if (name.startsWith(STUDY_KEEP_PREFIX) && ids.length > 0) {
      const report = JSON.parse(
        new TextDecoder().decode(await store.getObject(ids[0])),
      ) as StudyReport;
      out.push({ ...report, object: ids[0] });
    }
  }
  return out.sort((a, b) => compareCodeUnits(a.createdAt ?? '', b.createdAt ?? ''));
}

/**
 * A gan study's results with each run's final generator loss (from its checkpoint's record) and
 * sample quality (./sample-quality.ts: the fixed classifier is trained once per store).
 */
async function withGanMeasures(
  store: Store,
  results: Result[],
  signal?: AbortSignal,
): Promise<Result[]> {
  const { sampleQuality } = await import('./sample-quality');
  const out: Result[] = [];
  for (const r of results) {
    signal?.throwIfAborted();
    const node = await store.getNode(r.checkpoint);
    out.push({
      ...r,
      generatorLoss: node.gLoss ?? null,
      sampleQuality: await sampleQuality(store, r.checkpoint),
    });
  }
  return out;
}

function stats(rs: Result[]): StudyGroupStats {
  const of = (xs: number[]) => {
    const mean = xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
    const v = xs.length > 1 ? xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1) : 0;
    return { mean, std: Math.sqrt(v), values: xs };
  };
  const gan = rs.some((r) => r.sampleQuality !== undefined);
  return {
    seeds: rs.map((r) => r.seed),
    finalLoss: of(rs.map((r) => r.finalLoss ?? NaN).filter(Number.isFinite)),
    testPrecision: of(rs.map((r) => r.testPrecision ?? NaN).filter(Number.isFinite)),
    ...(gan
      ? {
          generatorLoss: of(rs.map((r) => r.generatorLoss ?? NaN).filter(Number.isFinite)),
          sampleQuality: of(rs.map((r) => r.sampleQuality ?? NaN).filter(Number.isFinite)),
        }
      : {}),
  };
}

/** Same-seed spread over different-seed spread; 0 when both are 0, 1 when only the first is. */
function share(same: number, different: number): number {
  if (same === 0) {
    return 0;
  }
  return different === 0 ? 1 : same / different;
}

/**
 * Runs one training job in this process. ./train (and with it tfjs) is loaded here, on first use,
 * so that listing or reporting studies never loads tfjs.
 */
async function runInThisProcess(
  store: Store,
  req: TrainSpec,
  signal?: AbortSignal,
): Promise<TrainResult> {
  const { startRun } = await import('./train');
  return startRun(store, req, signal ? { signal } : {});
}

/** Runs one training job in a job process of its own; the signal asks it to stop. */
async function runInJobProcess(
  storeDir: string,
  req: TrainSpec,
  signal?: AbortSignal,
): Promise<TrainResult> {
  const { processRunner } = await import('./jobs/runner');
  const { nodeProcessFactory } = await import('../job-process/fork-node');
  const handle = processRunner(nodeProcessFactory).start(
    { kind: 'train', storeDir, req },
    () => {},
  );
  const onAbort = (): void => handle.stop();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const out = await handle.done;
    if (out.kind !== 'train') {
      throw new Error(`study run ${req.branch}: a ${out.kind} result from a training job`);
    }
    return out.result;
  } catch (e) {
    throw e instanceof ServiceError
      ? new ServiceError(e.code, `study run ${req.branch} failed: ${e.message}`, e.name)
      : e;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
