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
 *
 * Examples come from the per-epoch feeder (./feeder.ts) or, with `shuffle: buffer`, from a seeded
 * shuffle buffer (./shuffle-buffer.ts) whose contents are the state tensor `input/shuffle_buffer`.
 * A `gan` model (./gan.ts) trains two networks per step, each with its own optimizer; its step
 * reports both losses (`loss` is the discriminator's).
 */
import * as tf from '@tensorflow/tfjs-core';
import { fingerprint, resolveBackend, sameBits, useBackend } from './backend';
import { augmentBatch, normalizeAugment } from './augment';
import { exampleSize, loadDataset, NUM_CLASSES, type Dataset, type SplitName } from './data';
import { BatchFeeder } from './feeder';
import {
  assertGanData,
  GAN_PIXEL,
  GAN_PIXELS,
  ganCounters,
  ganNets,
  ganStep,
  generateSamples,
  roleOf,
  type GanNets,
  type GanRole,
} from './gan';
import { buildGraph, initialTensors, isDenseModel, type Graph } from './graph';
import { assertRunnable, lossAndGradients, predict } from './network';
import { dropGatherAhead, gatherAhead } from './kernels/register';
import { gatherPixels } from './ops';
import { applyUpdate, initialCounters, normalizeOptimizer, slotNames } from './optimizers';
import { isValidSeed, RNG_SCHEME } from './rng';
import {
  initialBuffer,
  normalizeShuffle,
  SHUFFLE_BUFFER_TENSOR,
  ShuffleBuffer,
} from './shuffle-buffer';
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
  /** a gan's generator optimizer */
  optimizer?: OptimizerConfig;
  /** a gan's discriminator optimizer */
  discriminatorOptimizer?: OptimizerConfig;
  batchSize?: number;
}

export interface StepResult {
  /** step number after this update */
  step: number;
  loss: number;
  /** example indices of the batch used (a view valid until the next step) */
  indices: Uint32Array;
  /** a gan's two losses (`loss` is dLoss) */
  dLoss?: number;
  gLoss?: number;
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
  const isGan = config.model.kind === 'gan';
  if (!isGan && (config.discriminatorOptimizer !== undefined || config.model.gan !== undefined)) {
    throw new InputError('discriminator and generator settings need --model gan');
  }
  if (isGan && config.discriminatorOptimizer === undefined) {
    throw new InputError('model gan needs a discriminator optimizer');
  }
  const dOpt = config.discriminatorOptimizer;
  const discriminatorOptimizer = dOpt && normalizeOptimizer(dOpt.kind, dOpt.lr, dOpt);
  const dataset = loadDataset(config.dataset);
  graphOf(config.model, dataset);
  const shuffle = normalizeShuffle(config.shuffle, dataset.train.count);
  const augment = normalizeAugment(config.augment);
  if (isGan && augment && (augment.crop > 0 || augment.flip)) {
    throw new InputError('model gan trains on unaugmented images (drop --augment)');
  }
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
  if (isGan) {
    model.gan = ganNets(config.model.gan).config;
  }
  const out: TrainingConfig = { ...config, model, optimizer };
  delete out.augment;
  delete out.shuffle;
  delete out.discriminatorOptimizer;
  if (shuffle) {
    out.shuffle = shuffle;
  }
  if (discriminatorOptimizer) {
    out.discriminatorOptimizer = discriminatorOptimizer;
  }
  if (augment && (augment.crop > 0 || augment.flip)) {
    out.augment = augment;
  }
  return out;
}

/** The layer graph of a model on a dataset. */
export function graphOf(model: TrainingConfig['model'], dataset: Dataset): Graph {
  if (model.kind === 'gan') {
    if (model.hidden.length > 0 || model.layers !== undefined) {
      throw new InputError('model gan takes --generator and --discriminator sizes, not --hidden or --layers'); // prettier-ignore
    }
    assertGanData(dataset.shape, dataset.name);
    return ganNets(model.gan).combined;
  }
  return buildGraph(model, dataset.shape, NUM_CLASSES);
}

/** The optimizer of each network of a gan config. */
function ganOptimizers(cfg: TrainingConfig): Record<GanRole, OptimizerConfig> {
  return { generator: cfg.optimizer, discriminator: cfg.discriminatorOptimizer! };
}

/** The optimizer counters of a config at step 0. */
function initialCountersOf(cfg: TrainingConfig): Record<string, number> {
  return cfg.model.kind === 'gan'
    ? ganCounters(ganOptimizers(cfg))
    : initialCounters(cfg.optimizer.kind);
}

export class Trainer {
  readonly graph: Graph;
  private readonly dataset: Dataset;
  private readonly feeder: BatchFeeder;
  private readonly buffer: ShuffleBuffer | null;
  private readonly gan: GanNets | null;
  private readonly params = new Map<string, tf.Tensor>();
  private readonly modelState = new Map<string, tf.Tensor>();
  private readonly slots = new Map<string, tf.Tensor>();
  private readonly batchX: Float32Array;
  private readonly batchY: Int32Array;
  private readonly indices: Uint32Array<ArrayBuffer>;
  /** the next batch's indices, for its gather ahead (from the first step that asked for one) */
  private aheadIndices: Uint32Array | null = null;
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
    this.gan = config.model.kind === 'gan' ? ganNets(config.model.gan) : null;
    const { [SHUFFLE_BUFFER_TENSOR]: buf, ...rest } = tensors;
    if ((buf === undefined) !== (config.shuffle === undefined)) {
      throw new InputError(
        config.shuffle
          ? `checkpoint does not hold the shuffle buffer ${SHUFFLE_BUFFER_TENSOR}`
          : `the shuffle buffer ${SHUFFLE_BUFFER_TENSOR} belongs to a run with --shuffle buffer:N`,
      );
    }
    if (buf !== undefined && config.shuffle && buf.data.length !== config.shuffle.size) {
      throw new InputError(`the shuffle buffer holds ${buf.data.length} examples, not ${config.shuffle.size}`); // prettier-ignore
    }
    this.buffer = buf
      ? new ShuffleBuffer(config.seed, this.dataset.train.count, buf.data, cursor)
      : null;
    const paramNames = new Set(this.graph.params.map((p) => p.name));
    const stateNames = new Set(this.graph.state.map((p) => p.name));
    for (const [name, t] of Object.entries(rest)) {
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
    const dataset = loadDataset(cfg.dataset);
    const graph = graphOf(cfg.model, dataset);
    const tensors = { ...initialTensors(graph, cfg.seed), ...zeroSlots(cfg, graph) };
    if (cfg.shuffle) {
      const size = cfg.shuffle.size;
      tensors[SHUFFLE_BUFFER_TENSOR] = { shape: [size], data: initialBuffer(size, dataset.train.count) }; // prettier-ignore
    }
    return new Trainer(
      cfg,
      0,
      0,
      initialCountersOf(cfg),
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
      ...(base.discriminatorOptimizer || overrides.discriminatorOptimizer
        ? { discriminatorOptimizer: overrides.discriminatorOptimizer ?? base.discriminatorOptimizer } // prettier-ignore
        : {}),
      batchSize: overrides.batchSize ?? base.batchSize,
    });
    await useBackend(cfg.backend);
    const sameOptimizer = cfg.optimizer.kind === base.optimizer.kind;
    const sameKind: Record<GanRole, boolean> = {
      generator: sameOptimizer,
      discriminator: cfg.discriminatorOptimizer?.kind === base.discriminatorOptimizer?.kind,
    };
    // a slot is kept when its network keeps its optimizer kind
    const keepSlot = (name: string): boolean => {
      const role = cfg.model.kind === 'gan' ? roleOf(name) : null;
      return role ? sameKind[role] : sameOptimizer;
    };
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
      tensors[name] = keepSlot(name) && state.tensors[name] ? state.tensors[name] : slots[name];
    }
    if (cfg.shuffle) {
      const buf = state.tensors[SHUFFLE_BUFFER_TENSOR];
      if (!buf) {
        throw new InputError(
          `checkpoint does not hold the shuffle buffer ${SHUFFLE_BUFFER_TENSOR}`,
        );
      }
      tensors[SHUFFLE_BUFFER_TENSOR] = buf;
    }
    const counters =
      cfg.model.kind === 'gan'
        ? ganCounters(ganOptimizers(cfg), state.counters, sameKind)
        : sameOptimizer
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
    if (this.buffer) {
      throw new Error('bug: a shuffle buffer yields its batches only as it trains');
    }
    return this.feeder.batchAt(this.cursor, this.config.batchSize, this.indices);
  }

  /** Takes the next batch's indices (advancing the shuffle buffer, if any). */
  private takeBatch(): Uint32Array<ArrayBuffer> {
    if (!this.buffer) {
      return this.nextBatchIndices();
    }
    if (this.buffer.position !== this.cursor) {
      throw new Error('bug: the shuffle buffer and the cursor disagree');
    }
    return this.buffer.next(this.config.batchSize, this.indices);
  }

  /** One parameter update. The loss is that of the batch before the update. */
  trainStep(): StepResult {
    this.assertLive();
    if (this.gan) {
      return this.ganTrainStep(this.gan);
    }
    const indices = this.takeBatch();
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
      // (while this step's tensors are released and the next one starts)
      this.startGatherAhead(this.cursor + this.config.batchSize);
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

  /**
   * Has the batch at `cursor` (the next step's) gathered in the background where the backend
   * can (wasm with kernel threads: ./kernels/gather-ahead.ts): the batch a step will take is
   * known without drawing anything, unless a shuffle buffer deals it or augmentation makes it
   * in JS.
   */
  private startGatherAhead(cursor: number): void {
    if (this.buffer || this.config.augment) {
      return;
    }
    const n = this.config.batchSize;
    this.aheadIndices ??= new Uint32Array(n);
    const next = this.aheadIndices;
    gatherAhead(this.dataset.train.pixels, n, () => this.feeder.batchAt(cursor, n, next), exampleSize(this.dataset)); // prettier-ignore
  }

  private ganTrainStep(nets: GanNets): StepResult {
    const indices = this.takeBatch();
    const pixels = this.dataset.train.pixels;
    const n = indices.length;
    const real = this.batchX.subarray(0, n * GAN_PIXELS);
    for (let r = 0; r < n; r++) {
      const src = indices[r] * GAN_PIXELS;
      for (let i = 0; i < GAN_PIXELS; i++) {
        real[r * GAN_PIXELS + i] = GAN_PIXEL[pixels[src + i]];
      }
    }
    const step = this.stepCount;
    const input = { nets, seed: this.config.seed, step, real, n, optimizers: ganOptimizers(this.config) }; // prettier-ignore
    const losses = tf.tidy(() => {
      const { dLoss, gLoss } = ganStep(input, this.params, this.slots, this.counters);
      return tf.stack([dLoss, gLoss]);
    });
    const [dLoss, gLoss] = losses.dataSync();
    losses.dispose();
    this.cursor += this.config.batchSize;
    this.stepCount += 1;
    return { step: this.stepCount, loss: dLoss, indices, dLoss, gLoss };
  }

  /**
   * A gan's samples as bytes [count, 784] (k-th from the stream `samples/<k>` under the run's
   * seed): the same checkpoint always gives the same samples.
   */
  samples(count: number): Uint8Array {
    this.assertLive();
    if (!this.gan) {
      throw new InputError(
        `model ${this.config.model.kind} draws no samples (only model gan does)`,
      );
    }
    return generateSamples(this.gan, this.params, this.config.seed, count);
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
    if (this.buffer) {
      tensors[SHUFFLE_BUFFER_TENSOR] = { shape: [this.buffer.size], data: this.buffer.contents() };
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
    if (this.buffer) {
      out.push([SHUFFLE_BUFFER_TENSOR, this.buffer.contents()]);
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
    if (this.gan) {
      return out; // a gan has no precision@1; its quality is measured from samples
    }
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
    if (this.gan) {
      throw new InputError('model gan classifies nothing (see `lockstep samples`)');
    }
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

  /**
   * The model's logits [count, classes] (inference mode) for images given as bytes in the
   * dataset's layout (count · h·w·c bytes), e.g. a gan's samples; pixels become x/255 as in training.
   */
  classify(pixels: Uint8Array, count: number): Float32Array {
    this.assertLive();
    if (this.gan) {
      throw new InputError('model gan classifies nothing (see `lockstep samples`)');
    }
    const size = exampleSize(this.dataset);
    if (pixels.length !== count * size) {
      throw new Error(`bug: ${count} images need ${count * size} bytes, got ${pixels.length}`);
    }
    const ids = new Uint32Array(count).map((_, i) => i);
    const y = tf.tidy(
      () =>
      predict(this.graph, this.params, this.modelState, gatherPixels(pixels, ids, new Float32Array(count * size), size)), // prettier-ignore
    );
    const out = new Float32Array(y.dataSync() as Float32Array);
    y.dispose();
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
      if (this.aheadIndices) {
        dropGatherAhead();
      }
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
    const kind = cfg.model.kind === 'gan' && roleOf(p) === 'discriminator' ? cfg.discriminatorOptimizer!.kind : cfg.optimizer.kind; // prettier-ignore
    for (const s of slotNames(kind)) {
      out[`${p}/${s}`] = { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) };
    }
  }
  return out;
}
