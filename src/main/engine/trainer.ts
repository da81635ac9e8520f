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
 */
import * as tf from '@tensorflow/tfjs-core';
import { fingerprint, resolveBackend, sameBits, useBackend } from './backend';
import { INPUT_SIZE, loadDataset, type Dataset, type SplitName } from './data';
import { BatchFeeder } from './feeder';
import { gatherPixels } from './ops';
import { initialParameters, layersOf, lossAndGradients, forward, type LayerSpec } from './models';
import { applyUpdate, initialCounters, normalizeOptimizer, slotNames } from './optimizers';
import { isValidSeed, RNG_SCHEME } from './rng';
import {
  BACKENDS,
  DATASETS,
  InputError,
  MODELS,
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
  if (!DATASETS.includes(config.dataset)) {
    throw new InputError(`unknown dataset '${config.dataset}' (choose ${DATASETS.join(', ')})`);
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
  layersOf(config.model);
  const optimizer = normalizeOptimizer(
    config.optimizer.kind,
    config.optimizer.lr,
    config.optimizer,
  );
  const trainSize = loadDataset(config.dataset).train.count;
  if (!Number.isInteger(config.batchSize) || config.batchSize < 1 || config.batchSize > trainSize) {
    throw new InputError(
      `batch size must be an integer from 1 to ${trainSize} (the ${config.dataset} training set), got ${config.batchSize}`,
    );
  }
  return {
    ...config,
    model: { kind: config.model.kind, hidden: [...config.model.hidden] },
    optimizer,
  };
}

export class Trainer {
  private readonly layers: LayerSpec[];
  private readonly dataset: Dataset;
  private readonly feeder: BatchFeeder;
  private readonly params = new Map<string, tf.Tensor>();
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
    this.layers = layersOf(config.model);
    this.dataset = loadDataset(config.dataset);
    this.feeder = new BatchFeeder(config.seed, this.dataset.train.count);
    for (const [name, t] of Object.entries(tensors)) {
      const target = this.isSlot(name) ? this.slots : this.params;
      target.set(name, tf.tensor(t.data, t.shape, 'float32'));
    }
    this.batchX = new Float32Array(config.batchSize * INPUT_SIZE);
    this.batchY = new Int32Array(config.batchSize);
    this.indices = new Uint32Array(config.batchSize);
  }

  private isSlot(name: string): boolean {
    return !name.endsWith('/weights') && !name.endsWith('/biases');
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
    const tensors = { ...initialParameters(cfg.model, cfg.seed), ...zeroSlots(cfg) };
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
    const shapes = new Map<string, number[]>();
    for (const l of layersOf(cfg.model)) {
      shapes.set(`${l.name}/weights`, [l.inputs, l.outputs]);
      shapes.set(`${l.name}/biases`, [l.outputs]);
    }
    const tensors: Record<string, NamedTensor> = {};
    for (const [name, shape] of shapes) {
      const t = state.tensors[name];
      if (!t || t.shape.join(',') !== shape.join(',')) {
        throw new InputError(`checkpoint does not hold parameter ${name} of shape [${shape}]`);
      }
      tensors[name] = t;
    }
    const slots = zeroSlots(cfg);
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
    const lossTensor = tf.tidy(() => {
      const x = gatherPixels(train.pixels, indices, this.batchX);
      const y = tf.tensor1d(this.batchY, 'int32');
      const { loss, grads } = lossAndGradients(this.layers, this.params, x, y);
      applyUpdate(this.config.optimizer, this.params, this.slots, this.counters, grads);
      return loss;
    });
    const loss = lossTensor.dataSync()[0];
    lossTensor.dispose();
    this.cursor += this.config.batchSize;
    this.stepCount += 1;
    return { step: this.stepCount, loss, indices };
  }

  /** Everything that determines the future of this run, read back from the backend. */
  snapshot(): TrainingState {
    this.assertLive();
    const tensors: Record<string, NamedTensor> = {};
    for (const map of [this.params, this.slots]) {
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
    for (const map of [this.params, this.slots]) {
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
    for (const map of [this.params, this.slots]) {
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

  private evaluateSplit(name: SplitName): SplitEval {
    const split = this.dataset[name];
    const chunk = 1000;
    let correct = 0;
    const idx = new Uint32Array(chunk);
    const scratch = new Float32Array(chunk * INPUT_SIZE);
    for (let start = 0; start < split.count; start += chunk) {
      const n = Math.min(chunk, split.count - start);
      const ids = idx.subarray(0, n);
      for (let i = 0; i < n; i++) {
        ids[i] = start + i;
      }
      const pred = tf.tidy(() =>
        tf.argMax(forward(this.layers, this.params, gatherPixels(split.pixels, ids, scratch)), 1),
      );
      const p = pred.dataSync();
      pred.dispose();
      for (let i = 0; i < n; i++) {
        if (p[i] === split.labels[start + i]) {
          correct++;
        }
      }
    }
    return { precision: correct / split.count, correct, examples: split.count };
  }

  dispose(): void {
    if (!this.disposed) {
      this.disposed = true;
      for (const t of [...this.params.values(), ...this.slots.values()]) {
        t.dispose();
      }
      this.params.clear();
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

function zeroSlots(cfg: TrainingConfig): Record<string, NamedTensor> {
  const out: Record<string, NamedTensor> = {};
  for (const l of layersOf(cfg.model)) {
    const shapes: [string, number[]][] = [
      [`${l.name}/weights`, [l.inputs, l.outputs]],
      [`${l.name}/biases`, [l.outputs]],
    ];
    for (const [p, shape] of shapes) {
      for (const s of slotNames(cfg.optimizer.kind)) {
        out[`${p}/${s}`] = { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) };
      }
    }
  }
  return out;
}
