/** Shared helpers for engine tests: small real configs and a trainer driver. */
import { stateHash } from '../../src/main/engine/state';
import { Trainer, type ConfigOverrides } from '../../src/main/engine/trainer';
import type {
  BackendName,
  OptimizerKind,
  TrainingConfig,
  TrainingState,
} from '../../src/main/engine/types';

export { fakeConfig } from './fixtures';

export function optimizerOf(kind: OptimizerKind): TrainingConfig['optimizer'] {
  return { kind, lr: kind === 'adam' ? 0.001 : 0.05 };
}

/** Trains `steps` updates and returns the stateHash after every step (index 0 = step 0). */
export async function hashesOf(config: TrainingConfig, steps: number): Promise<string[]> {
  const t = await Trainer.create(config);
  try {
    const out = [stateHash(t.snapshot())];
    for (let i = 0; i < steps; i++) {
      t.trainStep();
      out.push(stateHash(t.snapshot()));
    }
    return out;
  } finally {
    t.dispose();
  }
}

/** Trains from a state (or from scratch) and returns the final state. */
export async function trainFrom(
  start: TrainingConfig | TrainingState,
  steps: number,
  overrides?: ConfigOverrides,
): Promise<TrainingState> {
  const t =
    'tensors' in start ? await Trainer.restore(start, overrides) : await Trainer.create(start);
  try {
    for (let i = 0; i < steps; i++) {
      t.trainStep();
    }
    return t.snapshot();
  } finally {
    t.dispose();
  }
}

export const BACKENDS_UNDER_TEST: BackendName[] = ['wasm', 'cpu'];
