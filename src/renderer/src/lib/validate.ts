/**
 * Field validation for the run forms, against the shared limits and name rules (src/shared/
 * limits.ts, names.ts: the CLI uses the same). Pure: raw field strings in,
 * one message per invalid field out, so every error can be shown next to its field before a job
 * is started. The service validates again at its boundary; these messages are for people.
 */
import { LIMITS, type StartRunRequest, type ContinueRequest } from '../../../shared/contract';
import { lrProblem, MAX_BATCH_SIZE } from '../../../shared/limits';
import { branchNameProblem as sharedBranchNameProblem } from '../../../shared/names';
import type {
  BackendName,
  DatasetName,
  DatasetRef,
  ModelKind,
  OptimizerKind,
} from '../../../shared/training';

/** The form's raw values, as typed. */
export interface RunFormValues {
  /** a built-in dataset, or (branching from a run on one) a dataset added to the store */
  dataset: DatasetRef;
  model: ModelKind;
  hidden: string;
  /** the `--layers` spec, for model `layers` (checked by the service's parser) */
  layers?: string;
  optimizer: OptimizerKind;
  lr: string;
  batchSize: string;
  steps: string;
  seedMode: 'auto' | 'explicit';
  seed: string;
  checkpointEvery: string;
  evalEvery: string;
  backend: BackendName;
  branch: string;
}

export type RunFormField = keyof RunFormValues;
export type FieldErrors = Partial<Record<RunFormField, string>>;

/** Mechanics 101: MLP 128,32 on MNIST with plain gradient descent. */
export const MECHANICS_101: RunFormValues = {
  dataset: 'mnist',
  model: 'mlp',
  hidden: '128,32',
  optimizer: 'sgd',
  lr: '0.01',
  batchSize: '100',
  steps: '2000',
  seedMode: 'auto',
  seed: '',
  checkpointEvery: '500',
  evalEvery: '1000',
  backend: 'wasm',
  branch: '',
};

const INTEGER = /^\s*\d+\s*$/;
/** the service's limit on a `--layers` spec (src/shared/schemas.ts) */
const MAX_LAYERS_SPEC = 2000;

/** Parses a whole number in [min, max] or explains why not. */
function intField(raw: string, what: string, min: number, max: number): string | null {
  if (raw.trim() === '') {
    return `Enter ${what}.`;
  }
  if (!INTEGER.test(raw)) {
    // a negative whole number is out of range rather than malformed
    return /^\s*-\d+\s*$/.test(raw)
      ? `${capital(what)} must be from ${fmtInt(min)} to ${fmtInt(max)} (got ${raw.trim()}).`
      : `${capital(what)} must be a whole number.`;
  }
  const v = Number(raw);
  if (v < min || v > max) {
    return `${capital(what)} must be from ${fmtInt(min)} to ${fmtInt(max)} (got ${raw.trim()}).`;
  }
  return null;
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function fmtInt(n: number): string {
  return n.toLocaleString('en-US');
}

/** Parses "128,32" into layer sizes, or returns the problem. */
export function parseHidden(raw: string): number[] | string {
  const parts = raw
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0) {
    return 'An MLP needs at least one hidden layer, e.g. 128,32.';
  }
  if (parts.length > LIMITS.maxHiddenLayers) {
    return `At most ${LIMITS.maxHiddenLayers} hidden layers.`;
  }
  const sizes: number[] = [];
  for (const p of parts) {
    if (!INTEGER.test(p)) {
      return `"${p}" is not a whole number; use sizes separated by commas, e.g. 128,32.`;
    }
    const v = Number(p);
    if (v < 1 || v > LIMITS.maxHiddenUnits) {
      return `Each layer needs 1 to ${fmtInt(LIMITS.maxHiddenUnits)} units (got ${p}).`;
    }
    sizes.push(v);
  }
  return sizes;
}

/**
 * Why `name` cannot be a branch name (the store's rules for a new name, ../../../shared/names.ts),
 * or null. Empty means "automatic".
 */
export function branchNameProblem(name: string): string | null {
  if (name === '') {
    return null;
  }
  const p = sharedBranchNameProblem(name);
  return p === null ? null : `This branch name cannot be used: ${p}.`;
}

/** Checks the learning rate with the shared rule (a finite number > 0, at most LIMITS.maxLr). */
function lrFieldProblem(raw: string): string | null {
  if (raw.trim() === '') {
    return 'Enter a learning rate, e.g. 0.01.';
  }
  const v = Number(raw.trim());
  if (!Number.isFinite(v)) {
    return 'The learning rate must be a number, e.g. 0.01.';
  }
  const p = lrProblem(v);
  return p === null ? null : `${capital(p)}.`;
}

/**
 * Validates every field of the form. `mode` 'branch' checks only what a continue/branch can
 * change (dataset, model, seed and backend come from the checkpoint).
 */
export function validateRunForm(
  v: RunFormValues,
  mode: 'new' | 'branch',
  unavailableBackends: ReadonlySet<BackendName> = new Set(),
): FieldErrors {
  const e: FieldErrors = {};
  const put = (field: RunFormField, msg: string | null): void => {
    if (msg !== null) {
      e[field] = msg;
    }
  };
  if (mode === 'new') {
    if (v.model === 'mlp') {
      const h = parseHidden(v.hidden);
      put('hidden', typeof h === 'string' ? h : null);
    }
    if (v.model === 'layers') {
      const spec = (v.layers ?? '').trim();
      put(
        'layers',
        spec === ''
          ? 'Enter a layer stack, e.g. conv:8x3,relu,maxpool:2,dense:64,relu.'
          : spec.length > MAX_LAYERS_SPEC
            ? `At most ${fmtInt(MAX_LAYERS_SPEC)} characters.`
            : null,
      );
    }
    if (v.seedMode === 'explicit') {
      put('seed', intField(v.seed, 'the seed', 0, LIMITS.maxSeed));
    }
    if (unavailableBackends.has(v.backend)) {
      put('backend', `The ${v.backend} backend is not available here.`);
    }
  }
  put('lr', lrFieldProblem(v.lr));
  // a stored dataset's size is the service's to check; the form uses the largest built-in limit
  const maxBatch =
    v.dataset in LIMITS.maxBatchSize
      ? LIMITS.maxBatchSize[v.dataset as DatasetName]
      : MAX_BATCH_SIZE;
  if (INTEGER.test(v.batchSize) && Number(v.batchSize) > maxBatch) {
    put(
      'batchSize',
      `The ${v.dataset === 'mnist' ? 'MNIST' : v.dataset} training set has ${fmtInt(maxBatch)} examples: a batch cannot be larger (got ${v.batchSize.trim()}).`,
    );
  } else {
    put('batchSize', intField(v.batchSize, 'the batch size', 1, maxBatch));
  }
  put('steps', intField(v.steps, 'the number of steps', 1, LIMITS.maxSteps));
  put(
    'checkpointEvery',
    intField(v.checkpointEvery, 'the checkpoint interval', 1, LIMITS.maxSteps),
  );
  put('evalEvery', intField(v.evalEvery, 'the evaluation interval', 1, LIMITS.maxSteps));
  put('branch', branchNameProblem(v.branch.trim()));
  return e;
}

/** The start request of a valid form (call validateRunForm first). */
export function toStartRequest(v: RunFormValues): StartRunRequest {
  const hidden = v.model === 'mlp' ? parseHidden(v.hidden) : [];
  return {
    dataset: v.dataset,
    model: v.model,
    hidden: typeof hidden === 'string' ? [] : hidden,
    ...(v.model === 'layers' ? { layers: (v.layers ?? '').trim() } : {}),
    optimizer: v.optimizer,
    lr: Number(v.lr),
    batchSize: Number(v.batchSize),
    steps: Number(v.steps),
    seed: v.seedMode === 'auto' ? 'auto' : Number(v.seed),
    checkpointEvery: Number(v.checkpointEvery),
    evalEvery: Number(v.evalEvery),
    backend: v.backend,
    ...(v.branch.trim() !== '' ? { branch: v.branch.trim() } : {}),
  };
}

/**
 * The continue request of a valid branch form: only what differs from the checkpoint's config is
 * sent, so an unchanged form continues (and reproduces) instead of branching.
 */
export function toContinueRequest(
  ref: string,
  v: RunFormValues,
  base: { lr: number; optimizer: OptimizerKind; batchSize: number },
): ContinueRequest {
  const req: ContinueRequest = {
    ref,
    steps: Number(v.steps),
    checkpointEvery: Number(v.checkpointEvery),
    evalEvery: Number(v.evalEvery),
  };
  if (Number(v.lr) !== base.lr) {
    req.lr = Number(v.lr);
  }
  if (v.optimizer !== base.optimizer) {
    req.optimizer = v.optimizer;
  }
  if (Number(v.batchSize) !== base.batchSize) {
    req.batchSize = Number(v.batchSize);
  }
  if (v.branch.trim() !== '') {
    req.branch = v.branch.trim();
  }
  return req;
}
