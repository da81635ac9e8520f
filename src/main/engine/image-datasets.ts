/**
 * File-backed image datasets: Fashion-MNIST (IDX, gzipped or not) and CIFAR-10 (binary batches).
 *
 * - `fashion-mnist`: the four IDX files (`train-images-idx3-ubyte[.gz]`, …) in
 *   LOCKSTEP_FASHION_MNIST_DIR, else Debian's /usr/share/datasets/fashion-mnist (package
 *   `dataset-fashion-mnist`). Split as MNIST: validation = training images 0–4999, train = the
 *   other 55,000, test = the 10,000 test images. Digest = SHA-256 over the four decompressed files
 *   in a fixed order (so gzipped and plain copies of the same data have the same digest).
 * - `cifar10`: `data_batch_1.bin` … `data_batch_5.bin` and `test_batch.bin` in
 *   LOCKSTEP_CIFAR10_DIR (the CLI's --data-dir sets it). Each record is one label byte and 3,072
 *   pixel bytes, channel-planar (1,024 red, green, blue, rows of 32); stored here as HWC. Train =
 *   the first 90 % of the training records (45,000 of 50,000), validation = the last 10 % (5,000),
 *   test = test_batch. Any number of records per file is accepted (small generated files in
 *   this exact format serve the tests). Digest = SHA-256 over the six files in order.
 *
 * Every failure to find or parse a file is an InputError that names the file and where the data
 * is looked for.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parseIdxImages, parseIdxLabels } from './idx';
import { InputError } from './types';
import type { Dataset, Split } from './data';

export const FASHION_MNIST_SYSTEM_DIR = '/usr/share/datasets/fashion-mnist';
export const CIFAR_RECORD = 1 + 32 * 32 * 3;
const CIFAR_TRAIN_FILES = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
const CIFAR_TEST_FILE = 'test_batch.bin';

/** Where Fashion-MNIST is read from. */
export function fashionMnistDir(): string {
  return process.env.LOCKSTEP_FASHION_MNIST_DIR || FASHION_MNIST_SYSTEM_DIR;
}

/** Where CIFAR-10 is read from; InputError when nobody said. */
export function cifar10Dir(): string {
  const dir = process.env.LOCKSTEP_CIFAR10_DIR;
  if (!dir) {
    throw new InputError(
      'cifar10 needs its binary batches (data_batch_1..5.bin, test_batch.bin): pass --data-dir DIR or set LOCKSTEP_CIFAR10_DIR',
    );
  }
  return dir;
}

function readIdxMaybeGz(dir: string, base: string): Uint8Array {
  const plain = join(dir, base);
  const gz = `${plain}.gz`;
  if (existsSync(plain)) {
    return readFileSync(plain);
  }
  if (existsSync(gz)) {
    try {
      return gunzipSync(readFileSync(gz));
    } catch (e) {
      throw new InputError(`cannot decompress ${gz}: ${(e as Error).message}`);
    }
  }
  throw new InputError(
    `fashion-mnist file ${base}[.gz] not found in ${dir}: set LOCKSTEP_FASHION_MNIST_DIR or install Debian's dataset-fashion-mnist (${FASHION_MNIST_SYSTEM_DIR})`,
  );
}

/** Loads Fashion-MNIST from a directory of IDX files. */
export function loadFashionMnist(dir: string): Dataset {
  const files = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']; // prettier-ignore
  const raw = files.map((f) => readIdxMaybeGz(dir, f));
  const hash = createHash('sha256');
  for (const r of raw) {
    hash.update(r);
  }
  const dims = { rows: 28, cols: 28 };
  const trainImages = parseIdxImages(raw[0], files[0], { count: 60000, ...dims });
  const trainLabels = parseIdxLabels(raw[1], files[1], 60000);
  const testImages = parseIdxImages(raw[2], files[2], { count: 10000, ...dims });
  const testLabels = parseIdxLabels(raw[3], files[3], 10000);
  const v = 5000;
  const px = 784;
  return {
    name: 'fashion-mnist',
    digest: hash.digest('hex'),
    shape: [28, 28, 1],
    validation: { count: v, pixels: trainImages.pixels.subarray(0, v * px), labels: trainLabels.subarray(0, v) }, // prettier-ignore
    train: { count: 60000 - v, pixels: trainImages.pixels.subarray(v * px), labels: trainLabels.subarray(v) }, // prettier-ignore
    test: { count: 10000, pixels: testImages.pixels, labels: testLabels },
  };
}

/** Parses CIFAR-10 binary records into HWC pixels and labels. */
export function parseCifarBatch(bytes: Uint8Array, file: string): Split {
  if (bytes.length === 0 || bytes.length % CIFAR_RECORD !== 0) {
    throw new InputError(
      `${file}: ${bytes.length} bytes is not a whole number of CIFAR-10 records (${CIFAR_RECORD} bytes each)`,
    );
  }
  const count = bytes.length / CIFAR_RECORD;
  const pixels = new Uint8Array(count * 3072);
  const labels = new Uint8Array(count);
  for (let r = 0; r < count; r++) {
    const src = r * CIFAR_RECORD;
    const label = bytes[src];
    if (label > 9) {
      throw new InputError(`${file}: label ${label} of record ${r} is not a class 0-9`);
    }
    labels[r] = label;
    const dst = r * 3072;
    for (let p = 0; p < 1024; p++) {
      pixels[dst + p * 3] = bytes[src + 1 + p];
      pixels[dst + p * 3 + 1] = bytes[src + 1 + 1024 + p];
      pixels[dst + p * 3 + 2] = bytes[src + 1 + 2048 + p];
    }
  }
  return { count, pixels, labels };
}

function readCifar(dir: string, file: string): Uint8Array {
  try {
    return readFileSync(join(dir, file));
  } catch (e) {
    throw new InputError(
      `cannot read CIFAR-10 file ${join(dir, file)} (--data-dir or LOCKSTEP_CIFAR10_DIR): ${(e as Error).message}`,
    );
  }
}

/** Loads CIFAR-10 from a directory of binary batches. */
export function loadCifar10(dir: string): Dataset {
  const hash = createHash('sha256');
  const parts = [...CIFAR_TRAIN_FILES, CIFAR_TEST_FILE].map((f) => {
    const bytes = readCifar(dir, f);
    hash.update(bytes);
    return parseCifarBatch(bytes, f);
  });
  const test = parts.pop()!;
  const total = parts.reduce((s, p) => s + p.count, 0);
  const pixels = new Uint8Array(total * 3072);
  const labels = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    pixels.set(p.pixels, at * 3072);
    labels.set(p.labels, at);
    at += p.count;
  }
  const v = Math.floor(total / 10);
  const t = total - v;
  if (t < 1 || v < 1) {
    throw new InputError(`${dir}: CIFAR-10 training batches hold ${total} records; at least 10 are needed`); // prettier-ignore
  }
  return {
    name: 'cifar10',
    digest: hash.digest('hex'),
    shape: [32, 32, 3],
    train: { count: t, pixels: pixels.subarray(0, t * 3072), labels: labels.subarray(0, t) },
    validation: { count: v, pixels: pixels.subarray(t * 3072), labels: labels.subarray(t) },
    test,
  };
}
