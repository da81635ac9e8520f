/**
 * Strict parsers for CLI option values: each returns the value or throws a CliError naming the
 * option and what was expected, so bad input never reaches the engine or the store.
 */
import { InvalidArgumentError } from 'commander';
import {
  LIMITS,
  MAX_STEP,
  batchSizeProblem,
  intProblem,
  lrProblem,
  stepsProblem,
} from '../shared/limits';
import {
  DATASETS,
  STORED_DATASET_NAME,
  isBuiltinDataset,
  type DatasetRef,
} from '../shared/training';

/** A non-negative integer (no sign, no decimals, no exponent). */
export function intArg(min = 0) {
  return (v: string): number => {
    if (!/^\d+$/.test(v.trim())) {
      throw new InvalidArgumentError(`expected an integer ≥ ${min}, got '${v}'`);
    }
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected an integer ≥ ${min}, got '${v}'`);
    }
    return n;
  };
}

/** A finite number > 0 (learning rates). */
export function positiveNumber(v: string): number {
  const n = Number(v.trim());
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new InvalidArgumentError(`expected a finite number > 0, got '${v}'`);
  }
  return n;
}

/**
 * A whole number checked by one of the shared limit rules (../shared/limits.ts): the form and
 * the CLI accept and refuse the same values.
 */
export function limitedInt(problem: (v: number) => string | null, min = 1) {
  const parse = intArg(min);
  return (v: string): number => {
    const n = parse(v);
    const p = problem(n);
    if (p !== null) {
      throw new InvalidArgumentError(p);
    }
    return n;
  };
}

/** Steps of one command: 1 … LIMITS.maxSteps. */
export const stepsArg = limitedInt((v) => stepsProblem(v));
/** A checkpoint or evaluation interval: 1 … LIMITS.maxSteps. */
export const intervalArg = limitedInt((v) => intProblem(v, 'the interval', 1, LIMITS.maxSteps));
/** A batch size: 1 … the largest any dataset allows (the engine checks the dataset's own). */
export const batchSizeArg = limitedInt((v) => batchSizeProblem(v));
/** A step number (trace --from/--to): 0 … MAX_STEP. */
export const stepArg = limitedInt((v) => intProblem(v, 'the step', 0, MAX_STEP), 0);

/** Largest `--threads` (the engine's MAX_THREADS in src/main/engine/kernels/threads.ts). */
export const MAX_THREADS = 64;
/** A kernel thread count: 1 … MAX_THREADS. */
export const threadsArg = limitedInt((v) => intProblem(v, 'the thread count', 1, MAX_THREADS));

/** A learning rate: a finite number > 0 and at most LIMITS.maxLr. */
export function lrArg(v: string): number {
  const n = positiveNumber(v);
  const p = lrProblem(n);
  if (p !== null) {
    throw new InvalidArgumentError(p);
  }
  return n;
}

/** One of the given choices. */
export function choice<T extends string>(choices: readonly T[]) {
  return (v: string): T => {
    if (!(choices as readonly string[]).includes(v)) {
      throw new InvalidArgumentError(`expected one of ${choices.join(', ')}, got '${v}'`);
    }
    return v as T;
  };
}

/** A built-in dataset's name, or a stored one's (`lockstep data add`; existence is checked on use). */
export function datasetArg(v: string): DatasetRef {
  if (!isBuiltinDataset(v) && !STORED_DATASET_NAME.test(v)) {
    throw new InvalidArgumentError(
      `expected one of ${DATASETS.join(', ')} or a stored dataset's name (lockstep data ls), got '${v}'`,
    );
  }
  return v;
}

/** Comma-separated positive integers, e.g. `128,32`. */
export function intList(v: string): number[] {
  const parts = v.split(',').map((s) => s.trim());
  if (parts.some((p) => !/^\d+$/.test(p) || Number(p) < 1)) {
    throw new InvalidArgumentError(
      `expected comma-separated positive integers like 128,32, got '${v}'`,
    );
  }
  return parts.map(Number);
}

/** `auto` or an unsigned 32-bit integer. */
export function seedArg(v: string): number | 'auto' {
  if (v === 'auto') {
    return 'auto';
  }
  if (!/^\d+$/.test(v) || Number(v) > 0xffffffff) {
    throw new InvalidArgumentError(
      `expected 'auto' or an integer from 0 to 4294967295, got '${v}'`,
    );
  }
  return Number(v);
}
