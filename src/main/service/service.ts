/**
 * The Lockstep service: the one implementation of {@link LockstepService}, served to the
 * Electron renderer (IPC), the browser (web mode) and tests (in-memory pair) alike.
 *
 * Promises:
 * - Requests reaching a method were validated by the schema of that method (./../../shared/rpc
 *   does it at every transport); the methods still check what only the store can know (refs,
 *   branch names) and answer at once with BAD_REF / BAD_INPUT instead of starting a doomed job.
 * - Long work (train, continue, verify, study, export, import) runs as a job outside the
 *   service's thread — a process per job (Node child process, or Electron utility process when
 *   the shell passes its factory) — at most `maxParallel` at once (default: one per core).
 *   The call returns the job's info at once; progress arrives as events.
 * - Cheap reads (graph, checkpoint, histograms, predictions, trace, compare) run here, on the store.
 * - Modules that load the engine (compare, trace, and in job processes verify, study, export,
 *   import) are imported on first use, so the host process starts light.
 * - While anyone listens for `graphChanged`, the store is polled (../store/watch.ts) and the
 *   event fires when its run graph changed on disk, whoever changed it (a CLI run included).
 * - close() stops every job (training writes a checkpoint at its current step) and waits for
 *   them; the store stays consistent whatever happens (it is crash-safe).
 */
import { realpathSync } from 'node:fs';
import { configOfRequest } from './model-request';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { availableParallelism } from 'node:os';
import {
  ServiceError,
  type BranchInfo,
  type Disposer,
  type CheckpointInfo,
  type JobInfo,
  type LockstepClient,
  type LockstepService,
  type RunInfo,
  type ServiceEvents,
  type StartRunRequest,
  type StoreInfo,
} from '../../shared/contract';
import { drawSeed } from '../engine/rng';
import { InputError, type TrainingConfig } from '../engine/types';
import { checkExportTarget, enclosingStore } from './export-target';
import type { CheckpointNode } from '../store/api';
import { checkBranchName } from '../store/layout';
import { Store } from '../store/store';
import { watchStore } from '../store/watch';
import { histograms } from './histogram';
import { describeCheckpoint, graphView } from './inspect';
import { Emitter } from '../../shared/emitter';
import { JobManager } from './jobs/manager';
import type { ProbeResult } from './jobs/protocol';
import { isBundlePath } from '../bundle/path';
import { defaultBranchName } from './train';
import { APP_VERSION } from '../version';
import { inlineRunner, processRunner, type JobRunner, type ProcessFactory } from './jobs/runner';

export interface ServiceOptions {
  storeDir: string;
  /** most jobs running at once (default: os.availableParallelism()) */
  maxParallel?: number;
  /** where jobs run (default 'process') */
  runner?: 'inline' | 'process';
  /** how to start a job process (default: a Node child process through tsx) */
  processFactory?: ProcessFactory;
  /** the app version for storeInfo (default: package.json's) */
  version?: string;
}

/** The service as its host holds it: the client interface plus shutdown. */
export type LockstepHost = LockstepClient & {
  /** stops every job (checkpointing training) and waits for them */
  close(): Promise<void>;
};

/** Creates the service on the store at `opts.storeDir` (created when missing). */
export async function createService(opts: ServiceOptions): Promise<LockstepHost> {
  const store = await Store.open(opts.storeDir);
  const events = new Emitter<ServiceEvents>();
  const runner = await makeRunner(opts);
  const maxParallel = Math.max(1, opts.maxParallel ?? availableParallelism());
  const jobs = new JobManager(runner, maxParallel, events);
  const lifetime = new AbortController();
  const version = opts.version ?? APP_VERSION;
  let probe: Promise<ProbeResult> | null = null;
  const backends = (): Promise<ProbeResult> => {
    probe ??= runner
      .start({ kind: 'probe' }, () => {})
      .done.then(
        (r) => (r.kind === 'probe' ? r.result : { tensorflow: false }),
        () => ({ tensorflow: false }),
      );
    return probe;
  };

  const service: LockstepService = {
    async startRun(req) {
      if (req.branch !== undefined) {
        checkBranchName(req.branch);
      }
      const seedSource = req.seed === 'auto' ? 'auto' : 'explicit';
      const seed = req.seed === 'auto' ? await drawSeed() : req.seed;
      const config = trainingConfig(req, seed);
      return jobs.submit(
        'train',
        `train ${req.branch ?? defaultBranchName(config)}`,
        {
          kind: 'train',
          storeDir: store.dir,
          req: {
            config,
            seedSource,
            steps: req.steps,
            checkpointEvery: req.checkpointEvery,
            evalEvery: req.evalEvery,
            ...(req.branch !== undefined ? { branch: req.branch } : {}),
          },
        },
        { seed, fromStep: 0, toStep: req.steps, step: 0 },
      );
    },

    async continueRun(req) {
      if (req.branch !== undefined) {
        checkBranchName(req.branch);
      }
      const from = await store.resolveRef(req.ref);
      const node = await store.getNode(from);
      const { ref, ...rest } = req;
      return jobs.submit(
        'continue',
        `continue ${refLabel(ref)} +${req.steps}`,
        { kind: 'continue', storeDir: store.dir, req: { ...rest, from } },
        { fromStep: node.step, toStep: node.step + req.steps, step: node.step },
      );
    },

    async stopJob({ job }) {
      return jobs.stop(job);
    },
    async pauseJob({ job }) {
      return jobs.pause(job);
    },
    async resumeJob({ job }) {
      return jobs.resume(job);
    },
    async listJobs() {
      return jobs.list();
    },
    async jobHistory({ job }) {
      return jobs.history(job);
    },

    async listGraph() {
      return (await graphView(store)).map((run): RunInfo => ({
        id: run.id,
        createdAt: run.createdAt,
        seed: run.seed,
        seedSource: run.seedSource,
        root: run.root,
        config: run.config,
        branches: run.branches.map((b): BranchInfo => ({
          name: b.name,
          run: b.run,
          tip: b.tip,
          base: b.base,
          baseStep: b.baseStep,
          config: b.config,
          status: b.status,
          ...(b.note !== undefined ? { note: b.note } : {}),
          createdAt: b.createdAt,
          updatedAt: b.updatedAt,
          checkpoints: b.checkpoints.map(checkpointInfo),
        })),
      }));
    },

    async showCheckpoint({ ref }) {
      return describeCheckpoint(store, await store.resolveRef(ref));
    },

    async histograms({ ref, bins }) {
      const state = await store.readState(await store.resolveRef(ref));
      return histograms(state, bins);
    },

    async predictions({ ref, limit }) {
      const { predictions } = await import('./predictions');
      return predictions(store, ref, limit);
    },

    async samples({ ref, count }) {
      const { sampleGrid } = await import('./samples');
      return sampleGrid(store, ref, count);
    },

    async trace({ ref, from, to, withIndices }) {
      const { readTrace } = await import('./trace-view');
      return readTrace(store, ref, { from, to, withIndices });
    },

    async compare({ a, b }) {
      const { compareRefs } = await import('./compare');
      return compareRefs(store, a, b, { signal: lifetime.signal });
    },

    async verify({ ref, from }) {
      if (!isBundlePath(ref)) {
        await store.resolveRef(ref);
      }
      if (from !== undefined) {
        await store.resolveRef(from);
      }
      return jobs.submit('verify', `verify ${refLabel(ref)}`, {
        kind: 'verify',
        storeDir: store.dir,
        ref,
        ...(from !== undefined ? { from } : {}),
      });
    },

    async study({ runs, train }) {
      const cfg = trainingConfig(train, train.seed ?? 0);
      return jobs.submit(
        'study',
        `study ${runs}×2 ${defaultBranchName(cfg).replace(/-s\d+$/, '')}`,
        {
          kind: 'study',
          storeDir: store.dir,
          runs,
          train,
          ...(train.seed !== undefined ? { seed: train.seed } : {}),
        },
      );
    },

    async listDatasets() {
      const { listDatasets } = await import('../store/datasets');
      return (await listDatasets(store)).map((d) => ({
        name: d.name,
        kind: d.kind,
        shape: d.shape,
        examples: d.examples,
        digest: d.digest,
        bytes: d.bytes,
      }));
    },

    async listStudies() {
      const { listStudySummaries } = await import('./study-list');
      return listStudySummaries(store);
    },

    async openStudy({ id }) {
      const { openStudy } = await import('./study-list');
      return openStudy(store, id);
    },

    async exportBundle({ ref, path, overwrite, withData }) {
      await store.resolveRef(ref);
      webPathRule(() => checkExportTarget(path, { kind: 'file', force: overwrite === true }));
      return jobs.submit(
        'export',
        `export ${refLabel(ref)}${withData === true ? ' with data' : ''}`,
        {
          kind: 'export',
          storeDir: store.dir,
          ref,
          path,
          ...(withData === true ? { withData: true } : {}),
        },
      );
    },

    async importBundle({ path }) {
      await mustBeFile(path);
      webPathRule(() => {
        const inside = enclosingStore(dirname(realpathSync(path)));
        if (inside !== null) {
          throw new InputError(
            `refusing to import ${path.slice(-200)}: it is inside the Lockstep store ${inside} (bundles are read from outside a store)`,
          );
        }
      });
      return jobs.submit('import', `import ${path.slice(-60)}`, {
        kind: 'import',
        storeDir: store.dir,
        path,
      });
    },

    async deleteBranch({ name }) {
      checkBranchName(name);
      if (
        jobs
          .list()
          .some((j) => j.branch === name && (j.state === 'running' || j.state === 'paused'))
      ) {
        throw new ServiceError('BAD_INPUT', `branch '${name}' has a running job: stop it first`);
      }
      const { removeBranch } = await import('./remove');
      return removeBranch(store, name);
    },

    async deleteRun({ id }) {
      if (
        jobs.list().some((j) => j.run === id && (j.state === 'running' || j.state === 'paused'))
      ) {
        throw new ServiceError('BAD_INPUT', `run '${id}' has a running job: stop it first`);
      }
      const { removeRun } = await import('./remove');
      return removeRun(store, id);
    },

    async storeInfo(): Promise<StoreInfo> {
      const info = await store.storeInfo();
      const probed = await backends();
      return {
        dir: info.dir,
        objects: info.objects,
        bytes: info.bytes,
        branches: info.branches,
        runs: info.runs,
        backends: [
          { name: 'wasm', available: true, note: 'default; portable' },
          { name: 'cpu', available: true, note: 'pure JavaScript reference' },
          {
            name: 'tensorflow',
            available: probed.tensorflow,
            ...(probed.tensorflow
              ? {}
              : { note: '@tensorflow/tfjs-node or its native library is not installed' }),
          },
        ],
        version,
      };
    },
  };

  // The store is polled for graph changes only while someone listens for them.
  let graphListeners = 0;
  let stopWatching: Disposer | null = null;
  const onGraphChanged = (listener: (payload: ServiceEvents['graphChanged']) => void): Disposer => {
    const off = events.on('graphChanged', listener);
    if (graphListeners++ === 0 && !lifetime.signal.aborted) {
      stopWatching = watchStore(store.dir, () => events.emit('graphChanged', {}));
    }
    let done = false;
    return () => {
      off();
      if (!done) {
        done = true;
        if (--graphListeners === 0) {
          stopWatching?.();
          stopWatching = null;
        }
      }
    };
  };

  let closed: Promise<void> | null = null;
  return {
    ...service,
    on: (event, listener) =>
      event === 'graphChanged'
        ? onGraphChanged(listener as (payload: ServiceEvents['graphChanged']) => void)
        : events.on(event, listener),
    close() {
      closed ??= (async () => {
        stopWatching?.();
        stopWatching = null;
        lifetime.abort();
        await jobs.close();
      })();
      return closed;
    },
  };
}

async function makeRunner(opts: ServiceOptions): Promise<JobRunner> {
  if (opts.runner === 'inline') {
    return inlineRunner();
  }
  if (opts.processFactory !== undefined) {
    return processRunner(opts.processFactory);
  }
  const { nodeProcessFactory } = await import('../job-process/fork-node');
  return processRunner(nodeProcessFactory);
}

/** NOT_FOUND unless `path` is an existing file. */
/**
 * The path rules of the API's export and import (the desktop and web UI's own user picks the
 * path; a page must not be able to aim it at the store or at a file it did not mean to
 * replace): never inside a Lockstep store, never over an existing file without `overwrite`
 * (./export-target.ts, the CLI's rule). Throws InputError with one line.
 */
function webPathRule(check: () => void): void {
  try {
    check();
  } catch (e) {
    if (e instanceof InputError) {
      throw new InputError(
        e.message.replace(
          'pass --force to overwrite it',
          'confirm with overwrite: true to replace it',
        ),
      );
    }
    throw e;
  }
}

async function mustBeFile(path: string): Promise<void> {
  const st = await stat(path).catch(() => null);
  if (st === null || !st.isFile()) {
    throw new ServiceError('NOT_FOUND', `no file ${path.slice(-200)}`);
  }
}

/** The training config of a start request (./model-request.ts). */
function trainingConfig(
  req: Omit<StartRunRequest, 'seed' | 'branch'>,
  seed: number,
): TrainingConfig {
  return configOfRequest(req, seed);
}

function checkpointInfo(n: CheckpointNode): CheckpointInfo {
  return {
    id: n.id,
    parent: n.parent,
    step: n.step,
    ...(n.loss !== undefined ? { loss: n.loss } : {}),
    ...(n.eval !== undefined ? { eval: n.eval } : {}),
    ...(n.verified !== undefined ? { verified: n.verified } : {}),
    createdAt: n.createdAt,
  };
}

export type { JobInfo };

/** A ref as a job label shows it: a checkpoint id cut to 12 hex digits, anything else to 40 characters. */
function refLabel(ref: string): string {
  return /^[0-9a-f]{16,64}$/.test(ref) ? ref.slice(0, 12) : ref.slice(0, 40);
}
