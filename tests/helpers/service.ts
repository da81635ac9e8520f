/** Helpers for service tests: temporary stores, small fake-data runs, planted differences. */
import { join } from 'node:path';
import type { TrainingConfig, TrainingState } from '../../src/main/engine/types';
import { Store } from '../../src/main/store/store';
import { startRun, type JobHooks, type TrainSpec } from '../../src/main/service/train';
import { fakeConfig, removeDir, tempDir } from './fixtures';

export const N_STEPS = 70;

/** A fresh store in a temp folder; `done()` removes it. */
export async function tempStore(): Promise<{ store: Store; dir: string; done(): Promise<void> }> {
  const dir = tempDir('lockstep-svc-');
  const store = await Store.open(join(dir, 'store'));
  return { store, dir, done: async () => removeDir(dir) };
}

/** Trains a new run on fake data (no evaluation until the last step). */
export function train(
  store: Store,
  branch: string,
  steps: number,
  over: Partial<TrainSpec> & { config?: TrainingConfig } = {},
  hooks?: JobHooks,
) {
  return startRun(
    store,
    {
      config: fakeConfig(),
      steps,
      checkpointEvery: 1000,
      evalEvery: 1000,
      branch,
      ...over,
    },
    {},
    hooks,
  );
}

/** A copy of a state with one bit of one element of one tensor flipped. */
export function flipBit(
  state: TrainingState,
  tensor: string,
  index: number,
  bit: number,
): TrainingState {
  const data = new Float32Array(state.tensors[tensor].data);
  new Uint32Array(data.buffer)[index] ^= 1 << bit;
  return {
    ...state,
    tensors: { ...state.tensors, [tensor]: { shape: state.tensors[tensor].shape, data } },
  };
}
