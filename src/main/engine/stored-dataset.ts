/**
 * The user's own datasets as one stored object each (`lockstep data add`, issue 13).
 *
 * Format `lockstep/dataset@1`: an 8-byte little-endian header length N, N bytes of canonical JSON
 * `{format, shape: [h, w, c], train: count, test: count}`, then the training pixels (count·h·w·c
 * bytes, HWC per example), the training labels (count bytes, classes 0–9), the test pixels and
 * the test labels. Nothing else: equal examples give equal bytes, so the object's SHA-256 (its id
 * in a store) is the dataset digest every run trained on it records.
 * Splits as the file-backed datasets: validation = the first ⌊train/10⌋ training examples, train =
 * the rest, test = the test examples.
 *
 * `encodeDatasetObject(parts)`, `datasetPartsOf(bytes)` (its inverse) and
 * `decodeDatasetObject(bytes, name, digest)` check everything (shape, counts, sizes, labels) and
 * throw an InputError with one line naming what is wrong.
 * The engine knows no store: `loadDataset` (./data.ts) asks the source installed with
 * `setStoredDatasetSource` (the store does, src/main/store/datasets.ts) for a name it does not
 * know as a built-in.
 */
import { canonicalJson } from './canonical-json';
import type { Dataset, Split } from './data';
import { InputError, NUM_CLASSES } from './types';

export const DATASET_FORMAT = 'lockstep/dataset@1';
/** Largest image: 512×512 pixels, 4 channels. */
export const MAX_IMAGE = { side: 512, channels: 4 };
/** Fewest training examples (validation takes a tenth of them) and test examples. */
export const MIN_EXAMPLES = { train: 10, test: 1 };

/** Examples of one split before the validation split is cut off. */
export interface Examples {
  count: number;
  pixels: Uint8Array;
  labels: Uint8Array;
}

export interface DatasetParts {
  shape: [number, number, number];
  train: Examples;
  test: Examples;
}

interface Header {
  format: string;
  shape: [number, number, number];
  train: number;
  test: number;
}

/** Why a shape is not an image shape a dataset may have, or null. */
export function shapeProblem(shape: readonly unknown[]): string | null {
  if (shape.length !== 3 || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 1)) {
    return `image shape must be three whole numbers HxWxC (got ${JSON.stringify(shape)})`;
  }
  const [h, w, c] = shape as number[];
  if (h > MAX_IMAGE.side || w > MAX_IMAGE.side || c > MAX_IMAGE.channels) {
    return `image shape ${h}x${w}x${c} is larger than ${MAX_IMAGE.side}x${MAX_IMAGE.side}x${MAX_IMAGE.channels}`;
  }
  return null;
}

function checkExamples(e: Examples, split: 'train' | 'test', size: number): void {
  const min = MIN_EXAMPLES[split];
  if (!Number.isSafeInteger(e.count) || e.count < min) {
    throw new InputError(`the ${split} split has ${e.count} examples; it needs at least ${min}`);
  }
  if (e.pixels.length !== e.count * size || e.labels.length !== e.count) {
    throw new InputError(
      `the ${split} split has ${e.pixels.length} pixel bytes and ${e.labels.length} labels for ${e.count} examples of ${size} bytes`,
    );
  }
  for (let i = 0; i < e.labels.length; i++) {
    if (e.labels[i] >= NUM_CLASSES) {
      throw new InputError(
        `${split} example ${i} has label ${e.labels[i]}: labels must be classes 0-${NUM_CLASSES - 1}`,
      );
    }
  }
}

/** The stored bytes of a dataset (checked; see the module comment). */
export function encodeDatasetObject(parts: DatasetParts): Uint8Array {
  const problem = shapeProblem(parts.shape);
  if (problem !== null) {
    throw new InputError(problem);
  }
  const size = parts.shape[0] * parts.shape[1] * parts.shape[2];
  checkExamples(parts.train, 'train', size);
  checkExamples(parts.test, 'test', size);
  const header: Header = {
    format: DATASET_FORMAT,
    shape: parts.shape,
    train: parts.train.count,
    test: parts.test.count,
  };
  const json = new TextEncoder().encode(canonicalJson(header));
  const out = new Uint8Array(8 + json.length + (parts.train.count + parts.test.count) * (size + 1));
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const chunk of [
    parts.train.pixels,
    parts.train.labels,
    parts.test.pixels,
    parts.test.labels,
  ]) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** The header of a stored dataset (shape and counts), checked against the object's size. */
export function datasetHeader(bytes: Uint8Array): Header {
  if (bytes.length < 8) {
    throw new InputError('not a stored dataset: shorter than its header length');
  }
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (n > 4096 || 8 + n > bytes.length) {
    throw new InputError(`not a stored dataset: header length ${n} does not fit`);
  }
  let h: Header;
  try {
    h = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch {
    throw new InputError('not a stored dataset: its header is not JSON');
  }
  if (h === null || typeof h !== 'object' || h.format !== DATASET_FORMAT) {
    throw new InputError(`not a stored dataset: format is not ${DATASET_FORMAT}`);
  }
  const problem = Array.isArray(h.shape) ? shapeProblem(h.shape) : 'it has no image shape';
  if (problem !== null) {
    throw new InputError(`stored dataset: ${problem}`);
  }
  for (const split of ['train', 'test'] as const) {
    if (!Number.isSafeInteger(h[split]) || h[split] < MIN_EXAMPLES[split]) {
      throw new InputError(`stored dataset: bad ${split} count ${String(h[split])}`);
    }
  }
  const size = h.shape[0] * h.shape[1] * h.shape[2];
  const want = 8 + n + (h.train + h.test) * (size + 1);
  if (bytes.length !== want) {
    throw new InputError(`stored dataset: ${bytes.length} bytes, its header says ${want}`);
  }
  return h;
}

/**
 * The examples of a stored dataset's bytes (views into `bytes`, no copy; checked), before the
 * validation split is cut off: `encodeDatasetObject` of them gives the same bytes back when
 * `bytes` was written by it.
 */
export function datasetPartsOf(bytes: Uint8Array): DatasetParts {
  const h = datasetHeader(bytes);
  const size = h.shape[0] * h.shape[1] * h.shape[2];
  let at = 8 + Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const take = (n: number): Uint8Array => {
    const v = bytes.subarray(at, at + n);
    at += n;
    return v;
  };
  const train: Examples = { count: h.train, pixels: take(h.train * size), labels: take(h.train) };
  const test: Examples = { count: h.test, pixels: take(h.test * size), labels: take(h.test) };
  checkExamples(train, 'train', size);
  checkExamples(test, 'test', size);
  return { shape: h.shape, train, test };
}

/** Decodes a stored dataset (views into `bytes`, no copy); `digest` is its object id. */
export function decodeDatasetObject(bytes: Uint8Array, name: string, digest: string): Dataset {
  const { shape, train, test } = datasetPartsOf(bytes);
  const size = shape[0] * shape[1] * shape[2];
  const v = Math.floor(train.count / 10);
  const split = (from: number, to: number): Split => ({
    count: to - from,
    pixels: train.pixels.subarray(from * size, to * size),
    labels: train.labels.subarray(from, to),
  });
  return {
    name,
    digest,
    shape,
    validation: split(0, v),
    train: split(v, train.count),
    test,
  };
}

/** What the store answers for a dataset name: its digest and a reader of its checked bytes. */
export interface StoredDatasetEntry {
  digest: string;
  read(): Uint8Array;
}

/** Looks a dataset name up in the store(s) in use; null when none has it. */
export type StoredDatasetSource = (name: string) => StoredDatasetEntry | null;

let source: StoredDatasetSource | null = null;

/** Installs the lookup `loadDataset` uses for names that are not built-in datasets. */
export function setStoredDatasetSource(s: StoredDatasetSource | null): void {
  source = s;
}

/** The stored dataset `name`, or null when no store in use has it. */
export function findStoredDataset(name: string): StoredDatasetEntry | null {
  return source?.(name) ?? null;
}
