/**
 * Runtime schemas at the service boundary (zod 4): one strict schema per method of
 * {@link LockstepService} and the wire envelopes every transport carries.
 *
 * Promises:
 * - Every request object is strict: an unknown key is refused, strings and arrays are bounded,
 *   numbers are finite, integers are integers, and the form limits come from {@link LIMITS}.
 * - {@link payloadProblem} refuses prototype-pollution keys (`__proto__`, `constructor`,
 *   `prototype`) at any depth, and payloads nested deeper than {@link MAX_DEPTH} or with more
 *   than {@link MAX_NODES} values, before any schema looks at them.
 * - {@link issuesText} turns a schema failure into one bounded line that never echoes the
 *   offending value (a huge string stays out of the reply).
 *
 * Server side only (the service's boundary); the renderer's client half (rpc-client.ts) never
 * imports it, so zod stays out of the preload and the renderer bundle.
 */
import * as z from 'zod';
import { LIMITS, type MethodName, type RequestOf } from './contract';
import { MAX_BATCH_SIZE } from './limits';
import {
  BACKENDS,
  DATASETS,
  MODELS,
  OPTIMIZERS,
  STORED_DATASET_NAME,
  isBuiltinDataset,
  type DatasetRef,
} from './training';

/** Longest ref (checkpoint id, prefix, branch name or branch@N) accepted. */
export const MAX_REF_LENGTH = 256;
/** Longest branch name accepted at the boundary (the store applies its own rules after). */
export const MAX_BRANCH_LENGTH = 200;
/** Longest file path accepted (export / import). */
export const MAX_PATH_LENGTH = 4096;
/** Deepest nesting of a payload. */
export const MAX_DEPTH = 16;
/** Most values (objects, arrays, scalars) in one payload. */
export const MAX_NODES = 10_000;
/** Largest frame a message transport accepts, in characters. */
export const MAX_FRAME = 1 << 20;
/** Most histogram bins. */
export const MAX_BINS = 512;
/** most sample images one predictions call returns */
export const MAX_PREDICTION_SAMPLES = 256;

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const ref = z.string().min(1).max(MAX_REF_LENGTH);
const branchName = z.string().min(1).max(MAX_BRANCH_LENGTH);
const absPath = z
  .string()
  .min(1)
  .max(MAX_PATH_LENGTH)
  .refine((p) => !p.includes('\0'), 'must not contain a NUL character')
  .refine((p) => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\'), {
    message: 'must be an absolute path',
  });
const stepCount = z.number().int().min(1).max(LIMITS.maxSteps);
const interval = z.number().int().min(1).max(LIMITS.maxSteps);
const learningRate = z.number().gt(0).max(LIMITS.maxLr);
const seed = z.number().int().min(0).max(LIMITS.maxSeed);
const batchSize = z
  .number()
  .int()
  .min(1)
  .max(Math.max(...Object.values(LIMITS.maxBatchSize)));
const hidden = z
  .array(z.number().int().min(1).max(LIMITS.maxHiddenUnits))
  .max(LIMITS.maxHiddenLayers);
const empty = z.strictObject({});
const jobRef = z.strictObject({ job: z.string().min(1).max(64) });

/** A batch size must fit the dataset's training split. */
function batchFitsDataset(
  v: { dataset: DatasetRef; batchSize: number },
  ctx: z.core.$RefinementCtx,
): void {
  const max = isBuiltinDataset(v.dataset) ? LIMITS.maxBatchSize[v.dataset] : MAX_BATCH_SIZE;
  if (v.batchSize > max) {
    ctx.addIssue({
      code: 'custom',
      path: ['batchSize'],
      message: `at most ${max} for the ${v.dataset} dataset`,
    });
  }
}

const trainFields = {
  dataset: z.union([z.enum(DATASETS), z.string().regex(STORED_DATASET_NAME)]),
  model: z.enum(MODELS),
  hidden,
  layers: z.string().min(1).max(2000).optional(),
  augment: z.strictObject({ crop: z.number().int().min(0).max(16), flip: z.boolean() }).optional(),
  shuffle: z.strictObject({ kind: z.literal('buffer'), size: z.number().int().min(1).max(1_000_000) }).optional(), // prettier-ignore
  gan: z
    .strictObject({
      noiseDims: z.number().int().min(1).max(1024),
      generator: hidden.min(1),
      discriminator: hidden.min(1),
    })
    .optional(),
  dLr: learningRate.optional(),
  optimizer: z.enum(OPTIMIZERS),
  lr: learningRate,
  batchSize,
  steps: stepCount,
  checkpointEvery: interval,
  evalEvery: interval,
  backend: z.enum(BACKENDS),
};

const startRun = z
  .strictObject({
    ...trainFields,
    seed: z.union([seed, z.literal('auto')]),
    branch: branchName.optional(),
  })
  .superRefine(batchFitsDataset);

const study = z.strictObject({
  runs: z.number().int().min(1).max(LIMITS.maxStudyRuns),
  train: z.strictObject({ ...trainFields, seed: seed.optional() }).superRefine(batchFitsDataset),
});

/** Request schema of every method. */
export const REQUEST_SCHEMAS = {
  startRun,
  continueRun: z.strictObject({
    ref,
    steps: stepCount,
    lr: learningRate.optional(),
    dLr: learningRate.optional(),
    optimizer: z.enum(OPTIMIZERS).optional(),
    batchSize: batchSize.optional(),
    branch: branchName.optional(),
    checkpointEvery: interval.optional(),
    evalEvery: interval.optional(),
    sameBranch: z.boolean().optional(),
  }),
  stopJob: jobRef,
  pauseJob: jobRef,
  resumeJob: jobRef,
  listJobs: empty,
  jobHistory: jobRef,
  listGraph: empty,
  showCheckpoint: z.strictObject({ ref }),
  histograms: z.strictObject({ ref, bins: z.number().int().min(1).max(MAX_BINS).optional() }),
  predictions: z.strictObject({
    ref,
    limit: z.number().int().min(0).max(MAX_PREDICTION_SAMPLES).optional(),
  }),
  samples: z.strictObject({ ref, count: z.number().int().min(1).max(256).optional() }),
  trace: z.strictObject({
    ref,
    from: z.number().int().min(0).max(LIMITS.maxSteps).optional(),
    to: z.number().int().min(0).max(LIMITS.maxSteps).optional(),
    withIndices: z.boolean().optional(),
  }),
  compare: z.strictObject({ a: ref, b: ref }),
  /** `ref` may also be the absolute path of a .lockstep bundle */
  verify: z.strictObject({ ref: z.string().min(1).max(MAX_PATH_LENGTH), from: ref.optional() }),
  study,
  listStudies: empty,
  openStudy: z.strictObject({ id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/) }),
  exportBundle: z.strictObject({
    ref,
    path: absPath,
    overwrite: z.boolean().optional(),
    withData: z.boolean().optional(),
  }),
  importBundle: z.strictObject({ path: absPath }),
  storeInfo: empty,
  listDatasets: empty,
  deleteBranch: z.strictObject({ name: branchName }),
  deleteRun: z.strictObject({ id: z.string().min(1).max(100) }),
} satisfies { [M in MethodName]: z.ZodType<RequestOf<M>> };

/** A call from a client: `id` pairs it with its reply. */
export const callMessage = z.strictObject({
  type: z.literal('call'),
  id: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  method: z.string().min(1).max(64),
  params: z.unknown(),
});
export type CallMessage = z.infer<typeof callMessage>;

/**
 * Why `value` may not be looked at by a schema: a forbidden key, too deep, or too big; null
 * when it is fine. Walks own keys only and never invokes getters of a plain JSON value.
 */
export function payloadProblem(value: unknown): string | null {
  let nodes = 0;
  const walk = (v: unknown, depth: number, where: string): string | null => {
    nodes++;
    if (nodes > MAX_NODES) {
      return `payload has more than ${MAX_NODES} values`;
    }
    if (v === null || typeof v !== 'object') {
      return null;
    }
    if (depth > MAX_DEPTH) {
      return `payload is nested deeper than ${MAX_DEPTH} levels`;
    }
    for (const key of Object.keys(v)) {
      if (FORBIDDEN_KEYS.has(key)) {
        return `forbidden key '${key}' at ${where || 'top level'}`;
      }
      const problem = walk((v as Record<string, unknown>)[key], depth + 1, `${where}.${key}`);
      if (problem !== null) {
        return problem;
      }
    }
    return null;
  };
  return walk(value, 0, '');
}

/** One line describing a schema failure (at most three issues), never echoing values. */
export function issuesText(error: z.ZodError): string {
  const parts = error.issues.slice(0, 3).map((i) => {
    const where = i.path.map((p) => String(p).slice(0, 40)).join('.');
    return `${where || 'params'}: ${i.message.slice(0, 200)}`;
  });
  const more = error.issues.length > 3 ? ` (+${error.issues.length - 3} more)` : '';
  return parts.join('; ') + more;
}
