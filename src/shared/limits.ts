/**
 * Limits and defaults, defined once: the CLI's option parsers, the service's zod schemas, the
 * store's and the bundle's record schemas (./record-schemas.ts), the renderer's form validation
 * and the engine's checks all read them from here.
 *
 * Promises:
 * - {@link LIMITS} bounds what one command may ask for (steps per command, intervals, layers,
 *   batch size per dataset, seed, learning rate, study size).
 * - {@link MAX_STEP} bounds the step of any checkpoint (what a run could reach: ten billion
 *   updates), and {@link MAX_COUNTER} any counter derived from steps (the data cursor = step ×
 *   batch size, optimizer counters): both are far below 2^53, so `step + 1`, `step + steps` and
 *   `cursor + batchSize` are always exact. A checkpoint, record or bundle with a larger step is
 *   refused where it is parsed, never replayed or continued.
 * - The `…Problem` functions say in one short sentence why a parsed number is out of range (or
 *   null): the form and the CLI call the same function, so they accept and refuse the same values.
 *
 * No Node imports: the renderer imports this file.
 */
import type { DatasetName } from './training';

/** Form and request limits shared by the UI, the CLI, the service and the engine. */
export const LIMITS = {
  /** parameter updates one command may run */
  maxSteps: 100_000_000,
  maxHiddenLayers: 8,
  maxHiddenUnits: 4096,
  maxBatchSize: { mnist: 55000, fake: 2000, 'fashion-mnist': 55000, cifar10: 45000 } as Record<
    DatasetName,
    number
  >,
  maxSeed: 0xffffffff,
  maxStudyRuns: 50,
  /** learning rate: a finite number > 0 and at most this */
  maxLr: 1000,
} as const;

/** The largest step of any checkpoint (10^10 updates: decades of training at 10 µs a step). */
export const MAX_STEP = 10_000_000_000;
/** The largest batch size any dataset allows. */
export const MAX_BATCH_SIZE = Math.max(...Object.values(LIMITS.maxBatchSize));
/** The largest counter (cursor = step × batch size): 5.5e14, exact in a double (< 2^53). */
export const MAX_COUNTER = MAX_STEP * MAX_BATCH_SIZE;

/** Default schedule of a run. */
export const DEFAULTS = {
  steps: 2000,
  batchSize: 100,
  checkpointEvery: 500,
  evalEvery: 1000,
  lr: { sgd: 0.01, momentum: 0.01, adam: 0.001 },
} as const;

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

/** Why `v` is not a whole number in [min, max], or null. */
export function intProblem(v: number, what: string, min: number, max: number): string | null {
  if (!Number.isSafeInteger(v)) {
    return `${what} must be a whole number from ${fmt(min)} to ${fmt(max)}`;
  }
  if (v < min || v > max) {
    return `${what} must be from ${fmt(min)} to ${fmt(max)} (got ${fmt(v)})`;
  }
  return null;
}

/** Why `v` is not a valid step count for one command, or null. */
export function stepsProblem(v: number, what = 'the number of steps'): string | null {
  return intProblem(v, what, 1, LIMITS.maxSteps);
}

/** Why `v` is not a valid learning rate, or null. */
export function lrProblem(v: number): string | null {
  if (!Number.isFinite(v)) {
    return 'the learning rate must be a finite number, e.g. 0.01';
  }
  if (v <= 0) {
    return 'the learning rate must be greater than 0';
  }
  if (v > LIMITS.maxLr) {
    return `the learning rate must be at most ${fmt(LIMITS.maxLr)} (got ${v})`;
  }
  return null;
}

/** Why `v` is not a valid batch size for `dataset` (any dataset when omitted), or null. */
export function batchSizeProblem(v: number, dataset?: DatasetName): string | null {
  const max =
    dataset !== undefined ? (LIMITS.maxBatchSize[dataset] ?? MAX_BATCH_SIZE) : MAX_BATCH_SIZE;
  return intProblem(v, 'the batch size', 1, max);
}

/** Why `v` is not a valid root seed, or null. */
export function seedProblem(v: number): string | null {
  return intProblem(v, 'the seed', 0, LIMITS.maxSeed);
}

/** Why a run of `steps` more updates from a checkpoint at `fromStep` is impossible, or null. */
export function reachProblem(fromStep: number, steps: number): string | null {
  if (fromStep + steps > MAX_STEP) {
    return `step ${fmt(fromStep)} + ${fmt(steps)} steps would pass the largest step ${fmt(MAX_STEP)}`;
  }
  return null;
}
