/**
 * Test helpers for the store: hand-built training states, temp stores, file snapshots.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { encodeState, type EncodedState } from '../../src/main/engine/state';
import type { TrainingConfig, TrainingState } from '../../src/main/engine/types';
import type { BranchRecord, RunRecord } from '../../src/main/store/api';
import { Store } from '../../src/main/store/store';

export const config: TrainingConfig = {
  dataset: 'fake',
  model: { kind: 'softmax', hidden: [] },
  optimizer: { kind: 'sgd', lr: 0.1 },
  batchSize: 10,
  seed: 7,
  backend: 'cpu',
};

/** A small but complete state; `tag` makes states of different "runs" differ. */
export function makeState(step: number, tag = 0, cfg: TrainingConfig = config): TrainingState {
  const w = Float32Array.from({ length: 12 }, (_, i) => Math.fround(i * 0.25 - step * 0.01 + tag));
  const b = Float32Array.from({ length: 4 }, (_, i) => Math.fround(i - step * 0.5 + tag));
  return {
    config: cfg,
    step,
    cursor: step * cfg.batchSize,
    rng: { scheme: 'lockstep/seedrandom@1', root: cfg.seed },
    datasetDigest: 'd'.repeat(64),
    backend: { backend: 'cpu', tfjs: '4.22.0', platform: 'linux', arch: 'x64' },
    counters: { 'sgd/steps': step },
    tensors: {
      'softmax_linear/weights': { shape: [3, 4], data: w },
      'softmax_linear/biases': { shape: [4], data: b },
    },
  };
}

/** A state with ~1 MB of tensors whose values are a function of the step. */
export function bigState(step: number): TrainingState {
  const s = makeState(step);
  const n = 256 * 1024;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    data[i] = Math.fround(Math.sin(i * 0.001 + step));
  }
  s.tensors['hidden1/weights'] = { shape: [256, 1024], data };
  return s;
}

export function enc(step: number, tag = 0): EncodedState {
  return encodeState(makeState(step, tag));
}

export { removeDir as cleanup, tempDir } from '../helpers/fixtures';

export function runRecord(id: string, root: string): RunRecord {
  return { id, createdAt: new Date().toISOString(), seed: 7, seedSource: 'explicit', root, config };
}

export function branchRecord(
  name: string,
  run: string,
  tip: string,
  base: string | null = null,
): BranchRecord {
  const now = new Date().toISOString();
  return { name, run, tip, base, config, status: 'running', createdAt: now, updatedAt: now };
}

/**
 * Writes a run `run` with a linear branch `branch` of checkpoints at `steps` (first = root).
 * Returns the checkpoint ids in order.
 */
export async function writeLine(
  store: Store,
  run: string,
  branch: string,
  steps: number[],
  tag = 0,
): Promise<string[]> {
  const ids: string[] = [];
  let parent: string | null = null;
  for (const s of steps) {
    const { id } = await store.putCheckpoint(enc(s, tag), { parent, step: s, loss: 1 / (s + 1) });
    ids.push(id);
    if (parent === null) {
      await store.createRun(runRecord(run, id));
      await store.createBranch(branchRecord(branch, run, id));
    } else {
      await store.updateBranch(branch, { tip: id }, parent);
    }
    parent = id;
  }
  return ids;
}

import { snapshot } from '../helpers/fs';

export { snapshot };

/** Files whose name marks them as temp files. */
export function tempFiles(dir: string): string[] {
  return [...snapshot(dir).keys()].filter((f) => path.basename(f).startsWith('.tmp-'));
}

export function fileSize(file: string): number {
  return statSync(file).size;
}

/** An Error carrying an OS error code, as fs would throw it. */
export function osError(code: string, file: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: injected fault, ${file}`) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}
