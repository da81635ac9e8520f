/**
 * The grammar of stored records, defined once (zod 4, in its `zod/mini` form): the store's node,
 * run and branch records (src/main/store/records.ts) and the records a bundle's manifest carries
 * (src/main/bundle/format.ts) are checked by these same schemas, so whatever a bundle may hold,
 * the store can write — and nothing the store refuses can enter through an import.
 *
 * Promises:
 * - {@link jsonShapeProblem} runs first on any parsed JSON: at most `maxDepth` levels and
 *   `maxValues` values (walked without recursion, so 6,000 levels cannot overflow the stack),
 *   every number finite (`1e400` parses as Infinity and is refused), no `__proto__`,
 *   `constructor` or `prototype` key.
 * - Records are loose objects: a field this version does not know is kept (forward
 *   compatibility), but every known field is checked: ids are 64 lowercase hex digits, steps are
 *   integers in [0, MAX_STEP], counters in [0, MAX_COUNTER], losses and precisions finite, names
 *   follow ./names.ts, strings are bounded. A run's seed is its config's seed.
 * - The config schema checks what a stored config may hold (the engine applies the form's
 *   ranges when it trains): known dataset, model, optimizer and backend; a learning rate that is
 *   a finite number > 0; whole batch sizes and layer sizes; a 32-bit seed.
 * - {@link recordIssues} turns a failure into one line naming the field, never the value.
 *
 * No Node imports: the renderer may import this file.
 */
import { en } from 'zod/locales';
import * as z from 'zod/mini';
import { LIMITS, MAX_COUNTER, MAX_STEP } from './limits';
import { branchNameProblem, isObjectId, runIdProblem, storedBranchNameProblem } from './names';
import { BACKENDS, DATASETS, MODELS, OPTIMIZERS, STORED_DATASET_NAME } from './training';

/** Deepest nesting a record may have (a bundle manifest adds two levels around its records). */
export const MAX_RECORD_DEPTH = 16;
/** Most values one record may hold. */
export const MAX_RECORD_VALUES = 100_000;
/** Longest string field of a record (notes, times, versions). */
export const MAX_STRING = 4096;

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Why a parsed JSON value may not be looked at: too deep, too many values, a non-finite number,
 * a forbidden key; null when it is fine. Iterative: safe on any depth.
 */
export function jsonShapeProblem(
  value: unknown,
  maxDepth = MAX_RECORD_DEPTH,
  maxValues = MAX_RECORD_VALUES,
): string | null {
  const stack: { v: unknown; depth: number; where: string }[] = [{ v: value, depth: 0, where: '' }];
  let count = 0;
  while (stack.length > 0) {
    const { v, depth, where } = stack.pop()!;
    if (++count > maxValues) {
      return `it holds more than ${maxValues} values`;
    }
    if (typeof v === 'number' && !Number.isFinite(v)) {
      return `${where || 'the value'} is not a finite number`;
    }
    if (v === null || typeof v !== 'object') {
      continue;
    }
    if (depth >= maxDepth) {
      return `it is nested deeper than ${maxDepth} levels`;
    }
    for (const key of Object.keys(v)) {
      if (FORBIDDEN_KEYS.has(key)) {
        return `it has a forbidden key '${key}'`;
      }
      const at = Array.isArray(v) ? `${where}[${key}]` : where ? `${where}.${key}` : key;
      stack.push({ v: (v as Record<string, unknown>)[key], depth: depth + 1, where: at });
    }
  }
  return null;
}

// zod/mini: the same checks as classic zod with less code to load (the CLI's front: 354 → 257 KB)
// and lighter objects to build (`lockstep log` builds these schemas before it prints); it has no
// messages of its own until a locale is set, so it gets classic zod's English ones
z.config(en());

/** Any of these schemas (what the store's and the bundle's record checks take). */
export type RecordSchema = z.ZodMiniType;

// Schemas hold no state, so one instance serves every record that has the field; the ones `log`
// never uses (a new branch's, a manifest's counters, a backend fingerprint) are z.lazy: built on
// their first check.
const str = z.string().check(z.maxLength(MAX_STRING));
const optionalStr = z.optional(str);
export const objectIdSchema = z.string().check(z.refine(isObjectId, 'is not a 64-hex object id'));
const int = (min: number, max: number) => z.number().check(z.int(), z.gte(min), z.lte(max));
const step = int(0, MAX_STEP);
const counter = int(0, MAX_COUNTER);
const seed = int(0, LIMITS.maxSeed);
const finite = z.number();
const optionalFinite = z.optional(finite);
const backend = z.enum(BACKENDS);

export const runIdSchema = z.string().check(
  z.superRefine((id, ctx) => {
    const p = runIdProblem(id);
    if (p !== null) {
      ctx.addIssue({ code: 'custom', message: `is not a valid run id: ${p}` });
    }
  }),
);

/** A branch name as a store may hold it (read), or as one may be created (`strict`). */
export function branchNameSchema(strict: boolean) {
  return z.string().check(
    z.superRefine((name, ctx) => {
      const p = strict ? branchNameProblem(name) : storedBranchNameProblem(name);
      if (p !== null) {
        ctx.addIssue({ code: 'custom', message: `is not a valid branch name: ${p}` });
      }
    }),
  );
}

export const optimizerConfigSchema = z.looseObject({
  kind: z.enum(OPTIMIZERS),
  lr: z.number().check(z.gt(0)),
  momentum: optionalFinite,
  beta1: optionalFinite,
  beta2: optionalFinite,
  epsilon: optionalFinite,
});

export const trainingConfigSchema = z.looseObject({
  dataset: z.union([z.enum(DATASETS), z.string().check(z.regex(STORED_DATASET_NAME))]),
  model: z.looseObject({
    kind: z.enum(MODELS),
    hidden: z.array(int(1, LIMITS.maxHiddenUnits)).check(z.maxLength(64)),
  }),
  optimizer: optimizerConfigSchema,
  batchSize: int(1, 1_000_000),
  seed,
  backend,
});

const splitEval = z.optional(
  z.looseObject({
    precision: z.number().check(z.gte(0), z.lte(1)),
    correct: counter,
    examples: counter,
  }),
);
export const evalSchema = z.looseObject({
  train: splitEval,
  validation: splitEval,
  test: splitEval,
});

export const backendFingerprintSchema = z.lazy(() =>
  z.looseObject({
    backend,
    tfjs: str,
    platform: str,
    arch: str,
  }),
);

/** A checkpoint node record. */
export const nodeSchema = z.looseObject({
  id: objectIdSchema,
  parent: z.nullable(objectIdSchema),
  step,
  trace: z.optional(objectIdSchema),
  eval: z.optional(evalSchema),
  loss: optionalFinite,
  dLoss: optionalFinite,
  gLoss: optionalFinite,
  createdAt: str,
  verified: optionalStr,
});

/** A run record; its seed is its config's seed. */
export const runSchema = z
  .looseObject({
    id: runIdSchema,
    createdAt: str,
    seed,
    seedSource: z.enum(['explicit', 'auto', 'env']),
    root: objectIdSchema,
    config: trainingConfigSchema,
  })
  .check(
    z.refine((r) => r.seed === r.config.seed, {
      message: "the run's seed is not its config's seed",
      path: ['seed'],
    }),
  );

const STATUSES = ['running', 'done', 'stopped', 'diverged', 'failed'] as const;

/** The fields of a branch record but its name (shared by both branch schemas). */
const branchFields = () => ({
  run: runIdSchema,
  tip: objectIdSchema,
  base: z.nullable(objectIdSchema),
  config: trainingConfigSchema,
  status: z.enum(STATUSES),
  note: optionalStr,
  // the intervals continues of the branch keep, and why it was started (see store/api.ts)
  schedule: z.optional(
    z.strictObject({
      checkpointEvery: int(1, LIMITS.maxSteps),
      evalEvery: int(1, LIMITS.maxSteps),
    }),
  ),
  origin: z.optional(z.enum(['fingerprint', 'reachable'])),
  fingerprintFrom: optionalStr,
  createdAt: str,
  updatedAt: str,
});
let sharedBranchFields: ReturnType<typeof branchFields> | undefined;

/**
 * A branch record (`strict`: the name must be creatable, as for an import); built on its first
 * check, its fields but the name shared by both.
 */
export function branchSchema(strict: boolean) {
  return z.lazy(() =>
    z.looseObject({
      name: branchNameSchema(strict),
      ...(sharedBranchFields ??= branchFields()),
    }),
  );
}

/** A checkpoint manifest's counters (step, cursor, optimizer counters) as far as records go. */
export const stateCountersSchema = z.lazy(() =>
  z.looseObject({
    step,
    cursor: counter,
    counters: z.record(z.string().check(z.maxLength(200)), counter),
  }),
);

/** One line naming the fields that failed (at most three), never their values. */
export function recordIssues(error: z.core.$ZodError): string {
  const parts = error.issues.slice(0, 3).map((i) => {
    const where = i.path.map((p) => String(p).slice(0, 40)).join('.');
    return `${where || 'the record'} ${i.message.slice(0, 200)}`;
  });
  const more = error.issues.length > 3 ? ` (+${error.issues.length - 3} more)` : '';
  return parts.join('; ') + more;
}
