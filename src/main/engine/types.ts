/**
 * Core types of the deterministic engine.
 *
 * A {@link TrainingState} is everything that determines the future of a run (DESIGN.md, "The
 * training state"): the training config, the step, every tensor (parameters and optimizer slots)
 * by name, the optimizer counters by name, the data cursor, the random-stream description, the
 * dataset digest and the backend fingerprint. Two states with the same canonical serialization
 * (see state.ts) are the same checkpoint.
 */

import { LockstepError } from '../../shared/errors';

/**
 * Classes of every built-in dataset (labels 0–9). Here rather than in ./data.ts so that modules
 * that only check labels (./stored-dataset.ts, which the store loads) do not load the dataset
 * readers (zlib, the IDX and CIFAR parsers) with it.
 */
export const NUM_CLASSES = 10;

export {
  DATASETS,
  MODELS,
  OPTIMIZERS,
  BACKENDS,
  STORED_DATASET_NAME,
  isBuiltinDataset,
} from '../../shared/training';
export type {
  DatasetName,
  DatasetRef,
  ModelKind,
  OptimizerKind,
  BackendName,
  OptimizerConfig,
  ModelConfig,
  AugmentConfig,
  GanConfig,
  ShuffleConfig,
  TrainingConfig,
  BackendFingerprint,
  NamedTensor,
  TrainingState,
  SplitEval,
  EvalResult,
} from '../../shared/training';

/** The engine's error for bad input (CLI exit code 2). */
export class InputError extends LockstepError {
  readonly code = 'BAD_INPUT';
  constructor(message: string) {
    super('BAD_INPUT', message, 'InputError');
  }
}
