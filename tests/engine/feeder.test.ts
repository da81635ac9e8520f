import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BatchFeeder, shuffle } from '../../src/main/engine/feeder';

test('each epoch is a permutation, different per epoch and per seed', () => {
  const p0 = shuffle(0, 0, 1000);
  assert.deepEqual(
    [...p0].sort((a, b) => a - b),
    [...Array(1000).keys()],
  );
  assert.notDeepEqual([...p0], [...shuffle(0, 1, 1000)]);
  assert.notDeepEqual([...p0], [...shuffle(1, 0, 1000)]);
  assert.deepEqual([...p0], [...shuffle(0, 0, 1000)]);
});

test('batches cross epoch boundaries like next_batch and cover each epoch exactly once', () => {
  const f = new BatchFeeder(3, 10);
  const seen: number[] = [];
  for (let c = 0; c < 30; c += 4) {
    seen.push(...f.batchAt(c, 4));
  }
  assert.deepEqual(
    seen.slice(0, 10).sort((a, b) => a - b),
    [...Array(10).keys()],
  );
  assert.deepEqual(
    seen.slice(10, 20).sort((a, b) => a - b),
    [...Array(10).keys()],
  );
  assert.deepEqual(seen.slice(8, 12), [...new BatchFeeder(3, 10).batchAt(8, 4)]);
});

test('I6 O(1) resume: a far cursor draws only the permutations it needs', () => {
  const n = 55000;
  const batch = 100;
  const far = 1_000_000 * batch;
  const fresh = new BatchFeeder(11, n);
  const b = fresh.batchAt(far, batch);
  assert.ok(fresh.permutationsDrawn <= 2, `drew ${fresh.permutationsDrawn} permutations`);
  const epoch = Math.floor(far / n);
  const perm = shuffle(11, epoch, n);
  const offset = far - epoch * n;
  assert.deepEqual([...b], [...perm.subarray(offset, offset + batch)]);
  // the sequential feeder reaches the same batch
  const seq = new BatchFeeder(11, n);
  for (let c = far - 5 * batch; c <= far; c += batch) {
    seq.batchAt(c, batch);
  }
  assert.deepEqual([...seq.batchAt(far, batch)], [...b]);
});
