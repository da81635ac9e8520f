/**
 * `trace --with-indices` on a shuffle-buffer run: the indices are recomputed from the buffer of
 * the last stored checkpoint before each step (never a replay of training) and hash to the batch
 * digests the run recorded, for every step, across checkpoints and a batch-size branch. (Before
 * the buffer existed the oracle only knew the per-epoch feeder, whose indices differ.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDigester } from '../../src/main/engine/trace';
import { readTrace } from '../../src/main/service/trace-view';
import { continueFrom } from '../../src/main/service/train';
import { fakeConfig } from '../helpers/fixtures';
import { tempStore, train } from '../helpers/service';
import { ganConfig } from './helpers';

test('trace --with-indices of buffer runs matches the recorded batch digests', async () => {
  const { store, done } = await tempStore();
  try {
    const digester = await createDigester();
    for (const [name, config] of [
      ['gan', ganConfig({ shuffle: { kind: 'buffer', size: 300 } })],
      ['mlp', fakeConfig({ shuffle: { kind: 'buffer', size: 300 } })],
    ] as const) {
      await train(store, name, 9, { config, checkpointEvery: 4 });
      const b = await continueFrom(store, { from: `${name}@4`, steps: 5, batchSize: 25 });
      for (const ref of [name, b.branch]) {
        const t = await readTrace(store, ref, { withIndices: true });
        assert.equal(t.steps.length, 9);
        for (const s of t.steps) {
          assert.equal(digester.batch(Uint32Array.from(s.indices!)), s.batchDigest, `${ref} step ${s.step}`); // prettier-ignore
        }
      }
    }
  } finally {
    await done();
  }
});
