/**
 * The deterministic trainer: one run's parameters, optimizer slots and data cursor, advanced one
 * update at a time.
 *
 * A Trainer is created either from a config (step 0: weights from the seed streams, zero slots,
 * cursor 0) or from a saved TrainingState, optionally with changed hyperparameters (a branch).
 * `step()` gathers the batch at the cursor, computes the loss and gradients and applies the
 * optimizer. `snapshot()` reads everything back into a TrainingState whose stateHash names the
 * checkpoint. Nothing here keeps global state between trainers, so two trainers in one process do
 * not influence each other (I3); the dataset cache is immutable.
 *
 * The model is a layer graph (./graph.ts): its parameters are trained, its state tensors (batch
 * norm's running statistics) are replaced after each step, and every other tensor is an optimizer
 * slot. Step s (0-based: the number of updates before it) draws its dropout masks from
 * `dropout/<s>/<layer>` and its augmentation from `augment/<s>`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fingerprint, resolveBackend, sameBits, useBackend } from './backend';
import { augmentBatch, normalizeAugment } from './augment';
import { exampleSize, loadDataset, NUM_CLASSES, type Dataset, type SplitName } from './data';
import { BatchFeeder } from './feeder';
import { buildGraph, initialTensors, isDenseModel, type Graph } from './graph';
import { assertRunnable, lossAndGradients, predict } from './network';
import { gatherPixels } from './ops';
import { applyUpdate, initialCounters, normalizeOptimizer, slotNames } from './optimizers';
import { isValidSeed, RNG_SCHEME } from './rng';
import {
  BACKENDS,
  DATASETS,
  InputError,
  MODELS,
  STORED_DATASET_NAME,
  isBuiltinDataset,
  type BackendFingerprint,
  type EvalResult,
  type NamedTensor,
  type OptimizerConfig,
  type SplitEval,
  type TrainingConfig,
  type TrainingState,
} from './types';

/** Hyperparameters a branch may change. */
export interface ConfigOverrides {
  optimizer?: OptimizerConfig;
  batchSize?: number;
}

export interface StepResult {
  /** step number after this update */
  step: number;
  loss: number;
  /** example indices of the batch used (a view valid until the next step) */
  indices: Uint32Array;
}

/** Checks a config and returns it normalized; InputError on anything invalid. */
export function validateConfig(config: TrainingConfig): TrainingConfig {
  if (!isBuiltinDataset(config.dataset) && !STORED_DATASET_NAME.test(config.dataset)) {
    throw new InputError(
      `unknown dataset '${config.dataset}' (choose ${DATASETS.join(', ')} or a stored dataset's name)`,
    );
  }
  if (!MODELS.includes(config.model.kind)) {
    throw new InputError(`unknown model '${config.model.kind}' (choose ${MODELS.join(', ')})`);
  }
  if (!BACKENDS.includes(config.backend)) {
    throw new InputError(`unknown backend '${config.backend}' (choose ${BACKENDS.join(', ')})`);
  }
  if (!isValidSeed(config.seed)) {
    throw new InputError(`seed must be an integer from 0 to 4294967295, got ${config.seed}`);
  }
  if (!isDenseModel(config.model) && config.backend === 'tensorflow') {
    throw new InputError(
      `model ${config.model.kind} runs on the wasm and cpu backends only (not tensorflow)`,
    );
  }
  const optimizer = normalizeOptimizer(
    config.optimizer.kind,
    config.optimizer.lr,
    config.optimizer,
  );
  const dataset = loadDataset(config.dataset);
  graphOf(config.model, dataset);
  const augment = normalizeAugment(config.augment);
  const trainSize = dataset.train.count;
  if (!Number.isInteger(config.batchSize) || config.batchSize < 1 || config.batchSize > trainSize) {
    throw new InputError(
      `batch size must be an integer from 1 to ${trainSize} (the ${config.dataset} training set), got ${config.batchSize}`,
    );
  }
  const model: TrainingConfig['model'] = { kind: config.model.kind, hidden: [...config.model.hidden] }; // prettier-ignore
  if (config.model.kind === 'layers') {
    model.layers = config.model.layers;
  }
  const out: TrainingConfig = { ...config, model, optimizer };
  delete out.augment;
  if (augment && (augment.crop > 0 || augment.flip)) {
    out.augment = augment;
  }
  return out;
}

/** The layer graph of a model on a dataset. */
export function graphOf(model: TrainingConfig['model'], dataset: Dataset): Graph {
  return buildGraph(model, dataset.shape, NUM_CLASSES);
}

export class Trainer {
  readonly graph: Graph;
  private readonly dataset: Dataset;
  private readonly feeder: BatchFeeder;
  private readonly params = new Map<string, tf.Tensor>();
  private readonly modelState = new Map<string, tf.Tensor>();
  private readonly slots = new Map<string, tf.Tensor>();
  private readonly batchX: Float32Array;
  private readonly batchY: Int32Array;
  private readonly indices: Uint32Array<ArrayBuffer>;
  private disposed = false;

  private constructor(
    readonly config: TrainingConfig,
    private stepCount: number,
    private cursor: number,
    private readonly counters: Record<string, number>,
    tensors: Record<string, NamedTensor>,
    /** the fingerprint this trainer's states record */
    readonly backendFingerprint: BackendFingerprint,
  ) {
    this.dataset = loadDataset(config.dataset);
    this.graph = graphOf(config.model, this.dataset);
    assertRunnable(this.graph);
    this.feeder = new BatchFeeder(config.seed, this.dataset.train.count);
    const paramNames = new Set(this.graph.params.map((p) => p.name));
    const stateNames = new Set(this.graph.state.map((p) => p.name));
    for (const [name, t] of Object.entries(tensors)) {
      const target = paramNames.has(name)
        ? this.params
        : stateNames.has(name)
          ? this.modelState
          : this.slots;
      target.set(name, tf.tensor(t.data, t.shape, 'float32'));
    }
    this.batchX = new Float32Array(config.batchSize * exampleSize(this.dataset));
    this.batchY = new Int32Array(config.batchSize);
    this.indices = new Uint32Array(config.batchSize);
  }

  /**
   * A new run at step 0. `warn` receives a notice when the backend falls back. `recorded` is the
   * fingerprint a stored root carries (a replay): when it promises the same bits as this machine's
   * it is kept as it is, so records written before a fingerprint field became inert keep their ids.
   */
  static async create(
    config: TrainingConfig,
    warn?: (m: string) => void,
    recorded?: BackendFingerprint,
  ): Promise<Trainer> {
    const cfg = validateConfig({ ...config, backend: resolveBackend(config.backend, warn) });
    await useBackend(cfg.backend);
    const graph = graphOf(cfg.model, loadDataset(cfg.dataset));
    const tensors = { ...initialTensors(graph, cfg.seed), ...zeroSlots(cfg, graph) };
    return new Trainer(
      cfg,
      0,
      0,
      initialCounters(cfg.optimizer.kind),
      tensors,
      keptFingerprint(cfg.backend, recorded),
    );
  }

  /**
   * Continues from a saved state. With overrides (a branch), the new hyperparameters apply to the
   * updates after this state; a change of optimizer kind starts its slots and counters afresh.
   */
  static async restore(
    state: TrainingState,
    overrides: ConfigOverrides = {},
    warn?: (m: string) => void,
  ): Promise<Trainer> {
    const base = state.config;
    const cfg = validateConfig({
      ...base,
      backend: resolveBackend(base.backend, warn),
      optimizer: overrides.optimizer ?? base.optimizer,
      batchSize: overrides.batchSize ?? base.batchSize,
    });
    await useBackend(cfg.backend);
    const sameOptimizer = cfg.optimizer.kind === base.optimizer.kind;
    // the parameters' names and shapes (without drawing initial weights: restoring is O(1))
    const graph = graphOf(cfg.model, loadDataset(cfg.dataset));
    const tensors: Record<string, NamedTensor> = {};
    for (const { name, shape } of [...graph.params, ...graph.state]) {
      const t = state.tensors[name];
      if (!t || t.shape.join(',') !== shape.join(',')) {
        throw new InputError(`checkpoint does not hold tensor ${name} of shape [${shape}]`);
      }
      tensors[name] = t;
    }
    const slots = zeroSlots(cfg, graph);
    for (const name of Object.keys(slots)) {
      tensors[name] = sameOptimizer && state.tensors[name] ? state.tensors[name] : slots[name];
    }
    const counters = sameOptimizer
      ? { ...initialCounters(cfg.optimizer.kind), ...state.counters }
      : initialCounters(cfg.optimizer.kind);
    return new Trainer(
      cfg,
      state.step,
      state.cursor,
      counters,
      tensors,
      keptFingerprint(cfg.backend, state.backend),
    );
  }

  get step(): number {
    return this.stepCount;
  }

  get datasetDigest(): string {
    return this.dataset.digest;
  }

  /** Indices of the batch the next step will use. */
  nextBatchIndices(): Uint32Array<ArrayBuffer> {
    return this.feeder.batchAt(this.cursor, this.config.batchSize, this.indices);
  }

  /** One parameter update. The loss is that of the batch before the update. */
  trainStep(): StepResult {
    this.assertLive();
    const indices = this.nextBatchIndices();
    const train = this.dataset.train;
    for (let i = 0; i < indices.length; i++) {
      this.batchY[i] = train.labels[indices[i]];
    }
    const step = this.stepCount;
    const lossTensor = tf.tidy(() => {
      const x = this.batchTensor(train.pixels, indices, step);
      const y = tf.tensor1d(this.batchY, 'int32');
      const ctx = { seed: this.config.seed, step };
      const { loss, grads, newState } = lossAndGradients(this.graph, this.params, this.modelState, x, y, ctx); // prettier-ignore
      applyUpdate(this.config.optimizer, this.params, this.slots, this.counters, grads);
      for (const [name, t] of newState) {
        const old = this.modelState.get(name);
        this.modelState.set(name, tf.keep(t));
        old?.dispose();
      }
      return loss;
    });
    const loss = lossTensor.dataSync()[0];
    lossTensor.dispose();
    this.cursor += this.config.batchSize;
    this.stepCount += 1;
    return { step: this.stepCount, loss, indices };
  }

  /** The batch's float32 pixels: gathered on the backend, or augmented in JS and uploaded. */
  private batchTensor(pixels: Uint8Array, indices: Uint32Array, step: number): tf.Tensor2D {
    const size = exampleSize(this.dataset);
    const aug = this.config.augment;
    if (!aug) {
      return gatherPixels(pixels, indices, this.batchX, size);
    }
    augmentBatch(pixels, indices, this.dataset.shape, aug, this.config.seed, step, this.batchX);
    return tf.tensor2d(this.batchX, [indices.length, size], 'float32');
  }

  /** Everything that determines the future of this run, read back from the backend. */
  snapshot(): TrainingState {
    this.assertLive();
    const tensors: Record<string, NamedTensor> = {};
    for (const map of [this.params, this.modelState, this.slots]) {
      for (const [name, t] of map) {
        tensors[name] = {
          shape: [...t.shape],
          data: new Float32Array(t.dataSync() as Float32Array),
        };
      }
    }
    return {
      config: this.config,
      step: this.stepCount,
      cursor: this.cursor,
      rng: { scheme: RNG_SCHEME, root: this.config.seed },
      datasetDigest: this.dataset.digest,
      backend: this.backendFingerprint,
      counters: { ...this.counters },
      tensors,
    };
  }

  /**
   * Every parameter and slot as [name, data], sorted by name, for per-step digests: on wasm a
   * view of the backend's heap (no copy; valid until the next step or allocation, read only).
   */
  readTensors(): Array<[string, Float32Array]> {
    this.assertLive();
    const be = tf.backend() as unknown as {
      dataIdMap?: { get(id: object): { memoryOffset?: number } | undefined };
      wasm?: { HEAPU8?: Uint8Array };
    };
    const heap = be.wasm?.HEAPU8;
    const out: Array<[string, Float32Array]> = [];
    for (const map of [this.params, this.modelState, this.slots]) {
      for (const [name, t] of map) {
        const off = heap ? be.dataIdMap?.get(t.dataId)?.memoryOffset : undefined;
        out.push([
          name,
          heap && off !== undefined && off % 4 === 0
            ? new Float32Array(heap.buffer, off, t.size)
            : (t.dataSync() as Float32Array),
        ]);
      }
    }
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  /** True when every parameter and slot is finite. */
  allFinite(): boolean {
    for (const map of [this.params, this.modelState, this.slots]) {
      for (const t of map.values()) {
        const d = t.dataSync();
        for (let i = 0; i < d.length; i++) {
          if (!Number.isFinite(d[i])) {
            return false;
          }
        }
      }
    }
    return true;
  }

  /** precision@1 on the given splits. */
  evaluate(splits: SplitName[] = ['train', 'validation', 'test']): EvalResult {
    this.assertLive();
    const out: EvalResult = {};
    for (const s of splits) {
      out[s] = this.evaluateSplit(s);
    }
    return out;
  }

  /**
   * The predicted class (argmax of the logits; the first maximum wins, as tf.argMax) of every
   * example of a split, in split order.
   */
  predict(name: SplitName): Uint8Array {
    const { classes } = this.graph;
    const logits = this.logits(name);
    const out = new Uint8Array(logits.length / classes);
    for (let i = 0; i < out.length; i++) {
      let best = 0;
      for (let c = 1; c < classes; c++) {
        if (logits[i * classes + c] > logits[i * classes + best]) {
          best = c;
        }
      }
      out[i] = best;
    }
    return out;
  }

  /** The model's logits [count, classes] (row-major) for every example of a split, inference mode. */
  logits(name: SplitName): Float32Array {
    this.assertLive();
    const split = this.dataset[name];
    const size = exampleSize(this.dataset);
    const { classes } = this.graph;
    // image layers hold im2col buffers per chunk: keep those a few hundred MB at most
    const chunk = isDenseModel(this.config.model) ? 1000 : 200;
    const out = new Float32Array(split.count * classes);
    const idx = new Uint32Array(chunk);
    const scratch = new Float32Array(chunk * size);
    for (let start = 0; start < split.count; start += chunk) {
      const n = Math.min(chunk, split.count - start);
      const ids = idx.subarray(0, n);
      for (let i = 0; i < n; i++) {
        ids[i] = start + i;
      }
      const y = tf.tidy(
        () =>
        predict(this.graph, this.params, this.modelState, gatherPixels(split.pixels, ids, scratch, size)), // prettier-ignore
      );
      out.set(y.dataSync() as Float32Array, start * classes);
      y.dispose();
    }
    return out;
  }

  /** The split's examples as the dataset holds them (labels and the raw bytes of each example). */
  split(name: SplitName): {
    count: number;
    labels: Uint8Array;
    pixels: Uint8Array;
    shape: [number, number, number];
  } {
    const s = this.dataset[name];
    return { count: s.count, labels: s.labels, pixels: s.pixels, shape: this.dataset.shape };
  }

  private evaluateSplit(name: SplitName): SplitEval {
    const split = this.dataset[name];
    const p = this.predict(name);
    let correct = 0;
    for (let i = 0; i < split.count; i++) {
      if (p[i] === split.labels[i]) {
        correct++;
      }
    }
    return { precision: correct / split.count, correct, examples: split.count };
  }

  dispose(): void {
    if (!this.disposed) {
      this.disposed = true;
      for (const t of [
        ...this.params.values(),
        ...this.modelState.values(),
        ...this.slots.values(),
      ]) {
        t.dispose();
      }
      this.params.clear();
      this.modelState.clear();
      this.slots.clear();
    }
  }

  private assertLive(): void {
    if (this.disposed) {
      throw new Error('Trainer used after dispose()');
    }
  }
}

/** This machine's fingerprint, or `recorded` when it promises the same bits (see sameBits). */
function keptFingerprint(
  backend: TrainingConfig['backend'],
  recorded: BackendFingerprint | undefined,
): BackendFingerprint {
  const here = fingerprint(backend);
  return recorded !== undefined && sameBits(recorded, here) ? recorded : here;
}

function zeroSlots(cfg: TrainingConfig, graph: Graph): Record<string, NamedTensor> {
  const out: Record<string, NamedTensor> = {};
  for (const { name: p, shape } of graph.params) {
    for (const s of slotNames(cfg.optimizer.kind)) {
      out[`${p}/${s}`] = { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) };
    }
  }
  return out;
}
