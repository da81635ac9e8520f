/**
 * Reading the user's data files (`lockstep data add`): IDX (plain and gzipped give the same
 * object), CIFAR batches, CSV and a stored dataset's own file are read into the same stored format, shapes and counts are
 * what the files say, and every malformed file is an InputError in one line naming the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readDatasetFiles, parseShape } from '../../src/main/engine/dataset-files';
import { decodeDatasetObject, encodeDatasetObject } from '../../src/main/engine/stored-dataset';
import { sha256Hex } from '../../src/main/engine/state';
import { InputError } from '../../src/main/engine/types';
import { useTempDir } from '../helpers/fixtures';
import { csvText, example, writeCifar, writeCsv, writeIdx } from './helpers';

const oneLine = (re: RegExp) => (e: unknown) =>
  e instanceof InputError && re.test(e.message) && !e.message.includes('\n');

test('IDX plain and gzipped are the same dataset; splits and pixels are the files', (t) => {
  const dir = useTempDir(t, 'lockstep-data-files-');
  const plain = readDatasetFiles(writeIdx(join(dir, 'plain')));
  const gz = readDatasetFiles(writeIdx(join(dir, 'gz'), 120, 30, true));
  assert.equal(plain.kind, 'idx');
  assert.deepEqual(plain.parts.shape, [10, 10, 1]);
  const a = encodeDatasetObject(plain.parts);
  assert.equal(sha256Hex(a), sha256Hex(encodeDatasetObject(gz.parts)));
  const ds = decodeDatasetObject(a, 'mine', sha256Hex(a));
  assert.deepEqual([ds.train.count, ds.validation.count, ds.test.count], [108, 12, 30]);
  // validation is the first tenth of the training examples: example 0 (label 0)
  assert.deepEqual(ds.validation.pixels.subarray(0, 100), example(0, 0, 10, 10, 1));
  assert.equal(ds.train.labels[0], 12 % 10);
  assert.equal(ds.test.labels[0], 3);
});

test('CIFAR batches: HWC pixels from the planar records, batches in order', (t) => {
  const dir = writeCifar(useTempDir(t, 'lockstep-data-cifar-'));
  const f = readDatasetFiles(dir);
  assert.equal(f.kind, 'cifar');
  assert.deepEqual(f.parts.shape, [32, 32, 3]);
  assert.equal(f.parts.train.count, 40);
  assert.equal(f.parts.test.count, 10);
  assert.deepEqual(f.parts.train.pixels.subarray(0, 3072), example(0, 0, 32, 32, 3));
  assert.equal(f.parts.train.labels[20], 5, 'data_batch_2 follows data_batch_1');
});

test('a stored dataset file reads back to the same bytes, whatever its name', (t) => {
  const dir = useTempDir(t, 'lockstep-data-object-');
  const bytes = encodeDatasetObject(readDatasetFiles(writeCsv(join(dir, 'csv'))).parts);
  const file = join(dir, sha256Hex(bytes));
  writeFileSync(file, bytes);
  const f = readDatasetFiles(file);
  assert.equal(f.kind, 'lockstep');
  assert.deepEqual(f.files, [file]);
  assert.equal(sha256Hex(encodeDatasetObject(f.parts)), sha256Hex(bytes));
  assert.throws(() => readDatasetFiles(file, { shape: [8, 8, 1] }), oneLine(/do not apply/));
  // cut short: refused in one line, as any malformed file
  writeFileSync(file, bytes.subarray(0, bytes.length - 5));
  assert.throws(() => readDatasetFiles(file), oneLine(/bytes, its header says/));
});

test('CSV: header skipped, shape inferred or given, --test for a single file', (t) => {
  const dir = writeCsv(useTempDir(t, 'lockstep-data-csv-'));
  const f = readDatasetFiles(dir);
  assert.equal(f.kind, 'csv');
  assert.deepEqual(f.parts.shape, [8, 8, 1]);
  assert.equal(f.parts.train.count, 200);
  assert.equal(f.parts.test.count, 50);
  assert.deepEqual(f.parts.train.pixels.subarray(64, 128), example(1, 1, 8, 8, 1));
  const single = readDatasetFiles(join(dir, 'train.csv'), {
    test: join(dir, 'test.csv'),
    shape: parseShape('4x16x1'),
  });
  assert.deepEqual(single.parts.shape, [4, 16, 1]);
  assert.throws(() => readDatasetFiles(join(dir, 'train.csv')), oneLine(/--test FILE\.csv/));
  assert.throws(() => parseShape('8x8'), oneLine(/28x28x1/));
});

/** The CSV with the last value of line `n` (0-based) cut off. */
const shortRow = (text: string, n: number): string =>
  text
    .split('\n')
    .map((l, i) => (i === n ? l.replace(/,\d+$/, '') : l))
    .join('\n');

test('malformed files are refused in one line naming the file and the row', (t) => {
  const dir = useTempDir(t, 'lockstep-data-bad-');
  const bad = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const good = bad('good.csv', csvText(20));
  const cases: [string, RegExp][] = [
    [
      bad('label.csv', csvText(20).replace(/\n3,/, '\n12,')),
      /line \d+: label '12' is not a class 0-9/,
    ],
    [
      bad('pixel.csv', csvText(20).replace(/\n4,(\d+),/, '\n4,256,')),
      /line \d+: pixel value '256'/,
    ],
    [bad('short.csv', shortRow(csvText(20), 5)), /line 6: 64 values, expected 65/],
    [
      bad('shape.csv', 'label,a,b,c,d,e\n1,2,3,4,5,6\n'),
      /cannot tell the image shape of 5 pixel values/,
    ],
    [bad('empty.csv', 'label,p0\n'), /holds no examples/],
  ];
  for (const [file, re] of cases) {
    assert.throws(() => readDatasetFiles(file, { test: good }), oneLine(re), file);
  }
  assert.throws(
    () => readDatasetFiles(good, { test: good, shape: [4, 4, 1] }),
    oneLine(/rows have 64 pixel values but --shape 4x4x1 needs 16/),
  );
  // too few examples for a validation split
  assert.throws(
    () => encodeDatasetObject(readDatasetFiles(bad('few.csv', csvText(5)), { test: good }).parts),
    oneLine(/the train split has 5 examples; it needs at least 10/),
  );
  // IDX whose label file does not match its images
  const idx = writeIdx(join(dir, 'idx'));
  writeFileSync(
    join(idx, 't10k-labels-idx1-ubyte'),
    new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 1, 2]),
  );
  assert.throws(() => readDatasetFiles(idx), oneLine(/holds 2 labels for the 30 images/));
  assert.throws(() => readDatasetFiles(dir), oneLine(/holds no dataset: expected IDX files/));
  assert.throws(() => readDatasetFiles(join(dir, 'nope')), oneLine(/cannot read .*nope: ENOENT/));
});
