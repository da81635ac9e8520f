/**
 * Training vocabulary shared by every process: the config that shapes a run, the backend
 * fingerprint and evaluation results. Pure types and constants; the engine re-exports them.
 */
export const DATASETS = ['mnist', 'fake', 'fashion-mnist', 'cifar10'] as const;
/** `layers` is a custom stack from a `--layers` spec (ModelConfig.layers) */
export const MODELS = ['softmax', 'mlp', 'lenet5', 'resnet20', 'layers', 'gan'] as const;
export const OPTIMIZERS = ['sgd', 'momentum', 'adam'] as const;
export const BACKENDS = ['wasm', 'cpu', 'tensorflow'] as const;

export type DatasetName = (typeof DATASETS)[number];
/**
 * What a config's `dataset` names: a built-in dataset, or one the user stored with
 * `lockstep data add` (its name: {@link STORED_DATASET_NAME}, never a built-in's).
 */
export type DatasetRef = DatasetName | (string & {});
/** The grammar of a stored dataset's name: lowercase letters, digits, `.`, `_`, `-`; ≤ 64. */
export const STORED_DATASET_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Whether `name` is a built-in dataset. */
export function isBuiltinDataset(name: string): name is DatasetName {
  return (DATASETS as readonly string[]).includes(name);
}
export type ModelKind = (typeof MODELS)[number];
export type OptimizerKind = (typeof OPTIMIZERS)[number];
export type BackendName = (typeof BACKENDS)[number];

/** Hyperparameters of an optimizer. Only the fields of the chosen kind are present. */
export interface OptimizerConfig {
  kind: OptimizerKind;
  lr: number;
  /** momentum only (TF MomentumOptimizer semantics), default 0.9 */
  momentum?: number;
  /** adam only, defaults 0.9 / 0.999 / 1e-8 (TF AdamOptimizer's epsilon "hat") */
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

export interface ModelConfig {
  kind: ModelKind;
  /** hidden layer sizes; empty for every model but mlp */
  hidden: number[];
  /** the `--layers` spec of a `layers` model (absent for every other kind) */
  layers?: string;
  /** the two networks of a `gan` model (absent for every other kind) */
  gan?: GanConfig;
}

/**
 * A GAN's shape: noise of `noiseDims` values → generator dense layers (ReLU) → 784 (tanh), and
 * 784 → discriminator dense layers (ReLU) → 1 logit.
 */
export interface GanConfig {
  noiseDims: number;
  /** hidden layer sizes of the generator */
  generator: number[];
  /** hidden layer sizes of the discriminator */
  discriminator: number[];
}

/** A GAN's shape unless given: 64 noise values, one hidden layer of 256 in each network. */
export const GAN_DEFAULTS: GanConfig = { noiseDims: 64, generator: [256], discriminator: [256] };
/** A GAN's default learning rate (both networks) and Adam's β1 for a GAN (DCGAN's choice). */
export const GAN_LR = 0.0002;
export const GAN_ADAM_BETA1 = 0.5;

/**
 * The order training examples are drawn in. Absent from a config = `epoch` (a Fisher–Yates
 * permutation per epoch, from `shuffle/<epoch>`). `buffer`: tf.data's shuffle-and-repeat with a
 * buffer of `size` examples filled from the repeated stream (engine/shuffle-buffer.ts).
 */
export interface ShuffleConfig {
  kind: 'buffer';
  size: number;
}

/**
 * Seeded augmentation of training images, drawn per step from the stream `augment/<step>`:
 * a random crop after zero-padding `crop` pixels on every side (0 = none) and a random
 * horizontal flip. Absent from a config = no augmentation.
 */
export interface AugmentConfig {
  crop: number;
  flip: boolean;
}

/**
 * The training config: what shapes the next update. Not the step budget, intervals or names.
 * Canonical JSON of it is part of the state hash.
 */
export interface TrainingConfig {
  dataset: DatasetRef;
  model: ModelConfig;
  optimizer: OptimizerConfig;
  batchSize: number;
  /** root seed of every random stream (an unsigned 32-bit integer) */
  seed: number;
  backend: BackendName;
  /** absent when the run does not augment (so older configs keep their canonical JSON) */
  augment?: AugmentConfig;
  /** absent for the default per-epoch shuffle (so older configs keep their canonical JSON) */
  shuffle?: ShuffleConfig;
  /** a `gan` model's discriminator optimizer (`optimizer` is then the generator's) */
  discriminatorOptimizer?: OptimizerConfig;
}

/** Identifies the numeric environment; bitwise replay is promised within one fingerprint. */
export interface BackendFingerprint {
  backend: BackendName;
  tfjs: string;
  platform: string;
  arch: string;
  /** tensorflow backend only */
  library?: string;
  cpu?: string;
  threads?: number;
  /** wasm only: 'simd' or 'scalar' */
  wasmFeatures?: string;
  /** version of Lockstep's own kernels registered with tfjs (changes when their arithmetic does) */
  kernels?: string;
}

/** A named float32 tensor. Data is little-endian float32, row-major. */
export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

export interface TrainingState {
  config: TrainingConfig;
  /** number of parameter updates applied; 0 = initial state */
  step: number;
  /** number of training examples consumed by the feeder */
  cursor: number;
  /** how every random stream is derived from the root seed; streams are stateless */
  rng: { scheme: string; root: number };
  datasetDigest: string;
  backend: BackendFingerprint;
  /** optimizer counters by name, e.g. `adam/t` */
  counters: Record<string, number>;
  /** parameters (`hidden1/weights`) and optimizer slots (`hidden1/weights/m`) by name */
  tensors: Record<string, NamedTensor>;
}

/** Evaluation: precision@1 over one split. */
export interface SplitEval {
  precision: number;
  correct: number;
  examples: number;
}

export interface EvalResult {
  train?: SplitEval;
  validation?: SplitEval;
  test?: SplitEval;
}
