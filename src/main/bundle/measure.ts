/**
 * Measurement of import cost in branches (issue 20, "Quadratic"): a run with `branches` branches,
 * each tip a distinct checkpoint one step after the shared root, exported as one `run:` bundle,
 * imported into an empty store and then imported again (the documented idempotent case, which
 * must write nothing). Import plans read the store's branches once, so both imports grow as
 * O(n log n) in branches; the bench reports both times. States are small hand-made tensors: this
 * measures the bookkeeping, not tensor I/O.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeState } from '../engine/state';
import type { TrainingConfig, TrainingState } from '../engine/types';
import { Store } from '../store/store';
import { exportBundle } from './export';
import { importBundle } from './import';

const CONFIG: TrainingConfig = {
  dataset: 'fake',
  model: { kind: 'softmax', hidden: [] },
  optimizer: { kind: 'sgd', lr: 0.1 },
  batchSize: 10,
  seed: 5,
  backend: 'cpu',
};

function state(step: number, tag: number): TrainingState {
  return {
    config: CONFIG,
    step,
    cursor: step * CONFIG.batchSize,
    rng: { scheme: 'lockstep/seedrandom@1', root: CONFIG.seed },
    datasetDigest: 'd'.repeat(64),
    backend: { backend: 'cpu', tfjs: '4.22.0', platform: 'linux', arch: 'x64' },
    counters: {},
    tensors: {
      'softmax_linear/weights': { shape: [2, 2], data: Float32Array.from([tag, 1, 2, step]) },
      'softmax_linear/biases': { shape: [2], data: Float32Array.from([tag, -tag]) },
    },
  };
}

export interface ImportMeasure {
  branches: number;
  firstImportMs: number;
  reImportMs: number;
  bundleBytes: number;
}

/** Builds, exports and imports twice a run of `branches` branches; times both imports. */
export async function measureManyBranchImport(branches: number): Promise<ImportMeasure> {
  const dir = await mkdtemp(join(tmpdir(), 'lockstep-import-measure-'));
  try {
    const source = await Store.open(join(dir, 'source'));
    const root = encodeState(state(0, 0));
    await source.putCheckpoint(root, { parent: null, step: 0 });
    const run = 'run-measure';
    const now = new Date().toISOString();
    await source.createRun({
      id: run,
      createdAt: now,
      seed: CONFIG.seed,
      seedSource: 'explicit',
      root: root.id,
      config: CONFIG,
    });
    for (let i = 0; i < branches; i++) {
      const tip = encodeState(state(1, i + 1));
      await source.putCheckpoint(tip, { parent: root.id, step: 1 });
      await source.createBranch({
        name: `b${String(i).padStart(5, '0')}`,
        run,
        tip: tip.id,
        base: i === 0 ? null : root.id,
        config: CONFIG,
        status: 'done',
        createdAt: now,
        updatedAt: now,
      });
    }
    const file = join(dir, 'many.lockstep');
    const { bytes } = await exportBundle(source, `run:${run}`, file);
    const target = await Store.open(join(dir, 'target'));
    let t0 = performance.now();
    await importBundle(target, file);
    const firstImportMs = performance.now() - t0;
    t0 = performance.now();
    const again = await importBundle(target, file);
    const reImportMs = performance.now() - t0;
    if (again.imported.length !== 0 || again.existing.length !== branches) {
      throw new Error('re-import was not idempotent');
    }
    return { branches, firstImportMs, reImportMs, bundleBytes: bytes };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
