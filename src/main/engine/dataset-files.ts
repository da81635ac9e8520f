/**
 * Reading the user's own data files for `lockstep data add NAME PATH` (issue 13). Three formats:
 *
 * - `idx`: a folder with the four MNIST-style IDX files `train-images-idx3-ubyte`,
 *   `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each plain or
 *   gzipped (`.gz`). Images are h×w×1; both image files must have the same h×w.
 * - `cifar`: a folder with CIFAR-10 binary batches: one or more `data_batch_<n>.bin` (in order of
 *   n) and `test_batch.bin`; records of one label byte and 32×32×3 channel-planar pixels.
 * - `csv`: a `.csv` file of training examples plus `--test FILE.csv`, or a folder with
 *   `train.csv` and `test.csv`. Each row is the label (0–9) then the pixel values (whole numbers
 *   0–255, row-major, channels last); an optional first row of column names is skipped. The image
 *   shape is `--shape HxWxC`, else a square h×h×1 or h×h×3 from the number of values per row.
 * - `lockstep`: one file in the store's own format `lockstep/dataset@1` (./stored-dataset.ts),
 *   e.g. the copy of a stored dataset that a job directory carries to its tasks
 *   (src/main/executors/jobdir.ts); recognised by its header, whatever its name. Adding it
 *   gives the same bytes, so the same digest.
 *
 * `readDatasetFiles(path, opts)` returns the format, the checked examples (./stored-dataset.ts)
 * and the files read; anything wrong is an InputError in one line naming the file (and row).
 */
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { idxImageDims, parseIdxImages, parseIdxLabels } from './idx';
import { parseCifarBatch } from './image-datasets';
import {
  DATASET_FORMAT,
  datasetPartsOf,
  shapeProblem,
  type DatasetParts,
  type Examples,
} from './stored-dataset';
import { InputError } from './types';

export type DatasetFileKind = 'idx' | 'cifar' | 'csv' | 'lockstep';

export interface DatasetFilesOptions {
  /** the test CSV when `path` is a training CSV */
  test?: string;
  /** image shape of CSV rows */
  shape?: [number, number, number];
}

export interface DatasetFiles {
  kind: DatasetFileKind;
  parts: DatasetParts;
  /** the files read, in order */
  files: string[];
}

const IDX_FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']; // prettier-ignore

/** Parses `HxWxC` (e.g. `28x28x1`); InputError when it is not one. */
export function parseShape(text: string): [number, number, number] {
  const m = /^(\d{1,4})x(\d{1,4})x(\d{1,2})$/.exec(text.trim());
  const shape = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [];
  const problem = m ? shapeProblem(shape) : `--shape must look like 28x28x1 (got '${text}')`;
  if (problem !== null) {
    throw new InputError(problem);
  }
  return shape as [number, number, number];
}

function read(file: string): Uint8Array {
  try {
    const bytes = readFileSync(file);
    if (!file.endsWith('.gz')) {
      return bytes;
    }
    try {
      return gunzipSync(bytes);
    } catch (e) {
      throw new InputError(`cannot decompress ${file}: ${(e as Error).message}`);
    }
  } catch (e) {
    if (e instanceof InputError) {
      throw e;
    }
    throw new InputError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
}

/** The plain or gzipped copy of `base` in `dir`, or null. */
function idxFile(dir: string, base: string): string | null {
  for (const f of [base, `${base}.gz`]) {
    if (existsSync(join(dir, f))) {
      return join(dir, f);
    }
  }
  return null;
}

function readIdx(dir: string): DatasetFiles {
  const files = IDX_FILES.map((b) => {
    const f = idxFile(dir, b);
    if (f === null) {
      throw new InputError(`IDX folder ${dir} has no ${b} (nor ${b}.gz)`);
    }
    return f;
  });
  const raw = files.map(read);
  const split = (images: number, labels: number): Examples => {
    const dims = idxImageDims(raw[images], files[images]);
    const img = parseIdxImages(raw[images], files[images], dims);
    const lab = parseIdxLabels(raw[labels], files[labels], labelCount(raw[labels], files[labels]));
    if (lab.length !== img.count) {
      throw new InputError(
        `${files[labels]} holds ${lab.length} labels for the ${img.count} images of ${files[images]}`,
      );
    }
    return { count: img.count, pixels: img.pixels, labels: lab };
  };
  const train = split(0, 1);
  const test = split(2, 3);
  const [a, b] = [idxImageDims(raw[0], files[0]), idxImageDims(raw[2], files[2])];
  if (a.rows !== b.rows || a.cols !== b.cols) {
    throw new InputError(
      `training images are ${a.rows}x${a.cols} but test images are ${b.rows}x${b.cols}`,
    );
  }
  return { kind: 'idx', parts: { shape: [a.rows, a.cols, 1], train, test }, files };
}

/** The count field of an IDX label file (checked in full by parseIdxLabels). */
function labelCount(bytes: Uint8Array, file: string): number {
  if (bytes.length < 8) {
    throw new InputError(`${file}: truncated IDX file (${bytes.length} bytes, header needs 8)`);
  }
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, false);
}

function readCifar(dir: string): DatasetFiles {
  const batches = readdirSync(dir)
    .map((f) => /^data_batch_(\d+)\.bin$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((x, y) => Number(x[1]) - Number(y[1]))
    .map((m) => join(dir, m[0]));
  const testFile = join(dir, 'test_batch.bin');
  if (batches.length === 0 || !existsSync(testFile)) {
    throw new InputError(`CIFAR folder ${dir} needs data_batch_<n>.bin files and test_batch.bin`);
  }
  const parts = batches.map((f) => parseCifarBatch(read(f), f));
  const count = parts.reduce((n, p) => n + p.count, 0);
  const pixels = new Uint8Array(count * 3072);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const p of parts) {
    pixels.set(p.pixels, at * 3072);
    labels.set(p.labels, at);
    at += p.count;
  }
  const test = parseCifarBatch(read(testFile), testFile);
  return {
    kind: 'cifar',
    parts: { shape: [32, 32, 3], train: { count, pixels, labels }, test },
    files: [...batches, testFile],
  };
}

/** Values per row → a square grey or colour image shape, or null. */
function squareShape(n: number): [number, number, number] | null {
  for (const c of [1, 3]) {
    const side = Math.round(Math.sqrt(n / c));
    if (side >= 1 && side * side * c === n) {
      return [side, side, c];
    }
  }
  return null;
}

function readCsv(
  file: string,
  shape: [number, number, number] | undefined,
): Examples & {
  shape: [number, number, number];
} {
  const text = new TextDecoder('utf-8').decode(read(file));
  const lines = text.split(/\r?\n/);
  let first = 0;
  while (first < lines.length && lines[first].trim() === '') {
    first++;
  }
  if (first < lines.length && !/^\s*\d+\s*$/.test(lines[first].split(',')[0])) {
    first++; // a header row of column names
  }
  const rows = lines.slice(first).filter((l) => l.trim() !== '');
  if (rows.length === 0) {
    throw new InputError(`${file} holds no examples`);
  }
  const values = rows[0].split(',').length - 1;
  const s = shape ?? squareShape(values);
  if (s === null) {
    throw new InputError(
      `${file}: cannot tell the image shape of ${values} pixel values per row: pass --shape HxWxC`,
    );
  }
  const size = s[0] * s[1] * s[2];
  if (size !== values) {
    throw new InputError(
      `${file}: rows have ${values} pixel values but --shape ${s.join('x')} needs ${size}`,
    );
  }
  const pixels = new Uint8Array(rows.length * size);
  const labels = new Uint8Array(rows.length);
  let lineNo = first;
  let r = 0;
  for (const line of lines.slice(first)) {
    lineNo++;
    if (line.trim() === '') {
      continue;
    }
    const cells = line.split(',');
    if (cells.length !== size + 1) {
      throw new InputError(
        `${file} line ${lineNo}: ${cells.length} values, expected ${size + 1} (label and ${size} pixels)`,
      );
    }
    for (let i = 0; i < cells.length; i++) {
      const cell = cells[i].trim();
      const v = /^\d{1,3}$/.test(cell) ? Number(cell) : NaN;
      if (i === 0) {
        if (!(v <= 9)) {
          throw new InputError(`${file} line ${lineNo}: label '${cell}' is not a class 0-9`);
        }
        labels[r] = v;
      } else {
        if (!(v <= 255)) {
          throw new InputError(
            `${file} line ${lineNo}: pixel value '${cell}' (column ${i + 1}) is not a whole number 0-255`,
          );
        }
        pixels[r * size + i - 1] = v;
      }
    }
    r++;
  }
  return { count: rows.length, pixels, labels, shape: s };
}

function fromCsv(train: string, test: string, shape?: [number, number, number]): DatasetFiles {
  const a = readCsv(train, shape);
  const b = readCsv(test, shape ?? a.shape);
  return {
    kind: 'csv',
    parts: {
      shape: a.shape,
      train: { count: a.count, pixels: a.pixels, labels: a.labels },
      test: { count: b.count, pixels: b.pixels, labels: b.labels },
    },
    files: [train, test],
  };
}

/** Whether the file `path` starts like a stored dataset (its header names DATASET_FORMAT). */
function isDatasetObject(path: string): boolean {
  const head = Buffer.alloc(8 + 64);
  let n: number;
  try {
    const fd = openSync(path, 'r');
    try {
      n = readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw new InputError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  // the canonical header starts with its first key: {"format":"lockstep/dataset@1",…
  const start = `{"format":"${DATASET_FORMAT}"`;
  return n >= 8 + start.length && head.subarray(8, 8 + start.length).toString('latin1') === start;
}

/** Reads a dataset from `path` (see the module comment for the formats). */
export function readDatasetFiles(path: string, opts: DatasetFilesOptions = {}): DatasetFiles {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (e) {
    throw new InputError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  if (!isDir) {
    if (isDatasetObject(path)) {
      if (opts.test !== undefined || opts.shape !== undefined) {
        throw new InputError(
          `${basename(path)} is a stored dataset (${DATASET_FORMAT}): --test and --shape do not apply`,
        );
      }
      return { kind: 'lockstep', parts: datasetPartsOf(read(path)), files: [path] };
    }
    if (!/\.csv$/i.test(path)) {
      throw new InputError(
        `${basename(path)} is not a folder of IDX files or CIFAR batches, nor a .csv file, nor a stored dataset (${DATASET_FORMAT})`,
      );
    }
    if (opts.test === undefined) {
      throw new InputError(`a training CSV needs its test examples: pass --test FILE.csv`);
    }
    return fromCsv(path, opts.test, opts.shape);
  }
  if (opts.test !== undefined) {
    throw new InputError('--test applies to a training .csv file, not to a folder');
  }
  if (idxFile(path, IDX_FILES[0]) !== null) {
    return readIdx(path);
  }
  if (existsSync(join(path, 'test_batch.bin'))) {
    return readCifar(path);
  }
  if (existsSync(join(path, 'train.csv')) && existsSync(join(path, 'test.csv'))) {
    return fromCsv(join(path, 'train.csv'), join(path, 'test.csv'), opts.shape);
  }
  throw new InputError(
    `${path} holds no dataset: expected IDX files (${IDX_FILES[0]}[.gz], …), CIFAR batches (data_batch_1.bin, …, test_batch.bin) or train.csv and test.csv`,
  );
}
