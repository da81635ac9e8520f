/**
 * Core types of the deterministic engine.
 *
 * A {@link TrainingState} is everything that determines the future of a run (DESIGN.md, "The
 * training state"): the training config, the step, every tensor (parameters and optimizer slots)
 * by name, the optimizer counters by name, the data cursor, the random-stream description, the
 * dataset digest and the backend fingerprint. Two states with the same canonical serialization
 * (see state.ts) are the same checkpoint.
 */

export { DATASETS, MODELS, OPTIMIZERS, BACKENDS } from '../../shared/training';
export type {
  DatasetName,
  ModelKind,
  OptimizerKind,
  BackendName,
  OptimizerConfig,
  ModelConfig,
  AugmentConfig,
  TrainingConfig,
  BackendFingerprint,
  NamedTensor,
  TrainingState,
  SplitEval,
  EvalResult,
} from '../../shared/training';

/** The engine's error for bad input (CLI exit code 2). */
export class InputError extends Error {
  readonly code = 'BAD_INPUT';
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** Training stopped because the loss or a weight became NaN or infinite. */
export class DivergedError extends Error {
  readonly code = 'DIVERGED';
  constructor(
    readonly step: number,
    readonly loss: number,
  ) {
    super(`training diverged at step ${step}: loss is ${loss}`);
    this.name = 'DivergedError';
  }
}
