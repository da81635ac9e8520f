/** Small generated datasets in the formats `lockstep data add` reads (IDX, CIFAR, CSV). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CIFAR_RECORD } from '../../src/main/engine/image-datasets';
import { stream } from '../../src/main/engine/rng';
import { tempDir } from '../helpers/cli';

/** A learnable example: a bright column at the label's position on a dim ramp, h×w×c bytes. */
export function example(label: number, i: number, h: number, w: number, c: number): Uint8Array {
  const px = new Uint8Array(h * w * c);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < c; k++) {
        const bright = x === label % w ? 200 + ((i * 7 + y) % 50) : (x * 5 + y * 3 + i) % 60;
        px[(y * w + x) * c + k] = bright;
      }
    }
  }
  return px;
}

function idxImages(count: number, h: number, w: number, offset: number): Uint8Array {
  const out = new Uint8Array(16 + count * h * w);
  const v = new DataView(out.buffer);
  v.setUint32(0, 2051);
  v.setUint32(4, count);
  v.setUint32(8, h);
  v.setUint32(12, w);
  for (let i = 0; i < count; i++) {
    out.set(example((i + offset) % 10, i, h, w, 1), 16 + i * h * w);
  }
  return out;
}

function idxLabels(count: number, offset: number): Uint8Array {
  const out = new Uint8Array(8 + count);
  const v = new DataView(out.buffer);
  v.setUint32(0, 2049);
  v.setUint32(4, count);
  for (let i = 0; i < count; i++) {
    out[8 + i] = (i + offset) % 10;
  }
  return out;
}

/** A folder of the four IDX files (gzipped when `gz`), 10×10 images. */
export function writeIdx(dir: string, train = 120, test = 30, gz = false): string {
  mkdirSync(dir, { recursive: true });
  const put = (name: string, bytes: Uint8Array) =>
    writeFileSync(join(dir, gz ? `${name}.gz` : name), gz ? gzipSync(bytes) : bytes);
  put('train-images-idx3-ubyte', idxImages(train, 10, 10, 0));
  put('train-labels-idx1-ubyte', idxLabels(train, 0));
  put('t10k-images-idx3-ubyte', idxImages(test, 10, 10, 3));
  put('t10k-labels-idx1-ubyte', idxLabels(test, 3));
  return dir;
}

/** A folder of CIFAR-10 binary batches: two training batches and a test batch. */
export function writeCifar(dir: string, perBatch = 20): string {
  mkdirSync(dir, { recursive: true });
  const batch = (n: number, offset: number): Uint8Array => {
    const out = new Uint8Array(n * CIFAR_RECORD);
    for (let r = 0; r < n; r++) {
      const label = (r + offset) % 10;
      const hwc = example(label, r, 32, 32, 3);
      out[r * CIFAR_RECORD] = label;
      for (let p = 0; p < 1024; p++) {
        for (let k = 0; k < 3; k++) {
          out[r * CIFAR_RECORD + 1 + k * 1024 + p] = hwc[p * 3 + k];
        }
      }
    }
    return out;
  };
  writeFileSync(join(dir, 'data_batch_1.bin'), batch(perBatch, 0));
  writeFileSync(join(dir, 'data_batch_2.bin'), batch(perBatch, 5));
  writeFileSync(join(dir, 'test_batch.bin'), batch(perBatch / 2, 1));
  return dir;
}

/** CSV rows `label,p0,p1,…` of 8×8 grey images, with a header row when `header`. */
export function csvText(count: number, offset = 0, header = true): string {
  const rows: string[] = header
    ? [['label', ...Array.from({ length: 64 }, (_, k) => `p${k}`)].join(',')]
    : [];
  for (let i = 0; i < count; i++) {
    const label = (i + offset) % 10;
    rows.push([label, ...example(label, i, 8, 8, 1)].join(','));
  }
  return rows.join('\n') + '\n';
}

/** train.csv (200 rows) and test.csv (50 rows) in `dir`. */
export function writeCsv(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'train.csv'), csvText(200));
  writeFileSync(join(dir, 'test.csv'), csvText(50, 4, false));
  return dir;
}

/**
 * A temp folder of the six CIFAR-10 binary batches (`data_batch_1..5.bin`, `test_batch.bin`),
 * `perFile` records each (label byte + 3,072 pixel bytes) of seeded noise from `test/cifar`.
 */
export function cifarNoiseDir(perFile: number, seed: number): string {
  const dir = tempDir('lockstep-cifar-');
  const rng = stream(seed, 'test/cifar');
  for (const f of [
    'data_batch_1',
    'data_batch_2',
    'data_batch_3',
    'data_batch_4',
    'data_batch_5',
    'test_batch',
  ]) {
    // prettier-ignore
    const bytes = new Uint8Array(perFile * CIFAR_RECORD);
    for (let i = 0; i < bytes.length; i++) {
      bytes[i] = i % CIFAR_RECORD === 0 ? rng.int(10) : rng.int(256);
    }
    writeFileSync(join(dir, `${f}.bin`), bytes);
  }
  return dir;
}
