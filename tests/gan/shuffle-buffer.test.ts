/**
 * The seeded shuffle buffer (`--shuffle buffer:N`): its sequence against an independent reference
 * implementation of tf.data's shuffle-and-repeat written here from the spec, its state in
 * checkpoints (continuation bitwise, O(1) resume), and the default `epoch` keeping old configs.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import seedrandom from 'seedrandom';
import { ShuffleBuffer, initialBuffer, parseShuffle } from '../../src/main/engine/shuffle-buffer';
import { stateHash } from '../../src/main/engine/state';
import { Trainer, validateConfig } from '../../src/main/engine/trainer';
import { InputError } from '../../src/main/engine/types';
import { fakeConfig, hashesOf, trainFrom } from '../helpers/engine';

/**
 * The reference: a buffer of `size` elements filled from the repeated stream 0, 1, …, count−1,
 * 0, 1, …; each emitted element picks slot j ∈ [0, size) uniformly (unbiased rejection sampling
 * on 32-bit words of the ARC4 stream `lockstep/v1/<seed>/shuffle-buffer/<⌊k/256⌋>`), emits it and
 * refills the slot with the next stream element.
 */
function referenceSequence(seed: number, count: number, size: number, total: number): number[] {
  const buf: number[] = [];
  let next = 0;
  for (let i = 0; i < size; i++) {
    buf.push(next++ % count);
  }
  const out: number[] = [];
  let prng: seedrandom.PRNG | null = null;
  for (let k = 0; k < total; k++) {
    if (k % 256 === 0) {
      prng = seedrandom(`lockstep/v1/${seed}/shuffle-buffer/${Math.floor(k / 256)}`);
    }
    const limit = 2 ** 32 - (2 ** 32 % size);
    let v: number;
    do {
      v = prng!.int32() >>> 0;
    } while (v >= limit);
    const j = v % size;
    out.push(buf[j]);
    buf[j] = next++ % count;
  }
  return out;
}

function bufferSequence(seed: number, count: number, size: number, total: number, batch: number) {
  const b = new ShuffleBuffer(seed, count, initialBuffer(size, count), 0);
  const out: number[] = [];
  while (out.length < total) {
    out.push(...b.next(Math.min(batch, total - out.length)));
  }
  return out;
}

describe('shuffle buffer', () => {
  test('matches the reference implementation (buffer smaller and larger than the data)', () => {
    for (const [seed, count, size] of [
      [7, 2000, 1000],
      [0, 50, 7],
      [3, 10, 25],
    ]) {
      const ref = referenceSequence(seed, count, size, 1500);
      assert.deepEqual(
        bufferSequence(seed, count, size, 1500, 32),
        ref,
        `${seed}/${count}/${size}`,
      );
      assert.deepEqual(
        bufferSequence(seed, count, size, 1500, 1),
        ref,
        'independent of batch size',
      );
    }
  });

  test('is a local shuffle of the repeated stream: a buffer of 1 is the stream in order', () => {
    assert.deepEqual(bufferSequence(5, 4, 1, 10, 3), [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]);
    const seq = bufferSequence(5, 2000, 100, 2000, 64);
    assert.notDeepEqual(seq, [...Array(2000).keys()]);
  });

  test('restoring at any position costs at most one stream (I6), and continues the sequence', () => {
    const count = 2000;
    const size = 1000;
    const far = 1_000_003;
    const seq = new ShuffleBuffer(9, count, initialBuffer(size, count), 0);
    seq.next(far);
    const saved = seq.contents();
    const want = [...seq.next(40)];
    const resumed = new ShuffleBuffer(9, count, saved, far);
    assert.deepEqual([...resumed.next(40)], want);
    assert.ok(resumed.streamsOpened <= 2, `opened ${resumed.streamsOpened} streams`);
  });

  test('parses epoch and buffer:N and refuses anything else', () => {
    assert.equal(parseShuffle('epoch'), undefined);
    assert.deepEqual(parseShuffle('buffer:1000'), { kind: 'buffer', size: 1000 });
    for (const bad of ['buffer:0', 'buffer:', 'buffer:-1', 'random', 'buffer:99999999']) {
      assert.throws(() => parseShuffle(bad), InputError, bad);
    }
  });

  test('the default epoch shuffle keeps old configs and hashes: no shuffle field', () => {
    const c = validateConfig(fakeConfig());
    assert.equal('shuffle' in c, false);
  });

  for (const backend of ['wasm', 'cpu'] as const) {
    const config = fakeConfig({ backend, shuffle: { kind: 'buffer', size: 300 } });
    test(`training with a buffer: I1, and I2 across the stream's wrap (${backend})`, async () => {
      const a = await hashesOf(config, 8);
      assert.deepEqual(await hashesOf(config, 8), a);
      const straight = await trainFrom(config, 70);
      for (const k of [0, 1, 33, 63]) {
        const rest = await trainFrom(await trainFrom(config, k), 70 - k);
        assert.equal(stateHash(rest), stateHash(straight), `split at ${k}`);
      }
      assert.notEqual(stateHash(straight), stateHash(await trainFrom(fakeConfig({ backend }), 70)));
    });
  }

  test('the buffer is state: its contents are checkpointed and a changed buffer changes the hash', async () => {
    const t = await Trainer.create(fakeConfig({ shuffle: { kind: 'buffer', size: 50 } }));
    try {
      t.trainStep();
      const s = t.snapshot();
      const buf = s.tensors['input/shuffle_buffer'];
      assert.deepEqual(buf.shape, [50]);
      const changed = structuredClone(s);
      changed.tensors['input/shuffle_buffer'].data[0] = (buf.data[0] + 1) % 2000;
      assert.notEqual(stateHash(changed), stateHash(s));
      const names = t.readTensors().map(([n]) => n);
      assert.ok(names.includes('input/shuffle_buffer'), 'the per-step digest covers the buffer');
    } finally {
      t.dispose();
    }
  });
});
