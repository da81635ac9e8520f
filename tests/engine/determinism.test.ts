/**
 * Invariants I1–I5 on real training (fake data, small MLP) on every available backend and for
 * every optimizer. Each test compares real SHA-256 state hashes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { stateHash } from '../../src/main/engine/state';
import { Trainer } from '../../src/main/engine/trainer';
import { OPTIMIZERS } from '../../src/main/engine/types';
import {
  BACKENDS_UNDER_TEST,
  fakeConfig,
  hashesOf,
  optimizerOf,
  trainFrom,
} from '../helpers/engine';

for (const backend of BACKENDS_UNDER_TEST) {
  describe(`determinism on ${backend}`, () => {
    for (const kind of OPTIMIZERS) {
      const config = fakeConfig({ backend, optimizer: optimizerOf(kind) });

      test(`I1 repeatability (${kind}): same hash at every step`, async () => {
        const a = await hashesOf(config, 12);
        const b = await hashesOf(config, 12);
        assert.deepEqual(a, b);
        assert.equal(new Set(a).size, a.length, 'every step changes the state');
      });

      test(`I2 continuation (${kind}): 0→a then a→a+b equals 0→a+b`, async () => {
        const straight = await trainFrom(config, 70); // crosses the 2000-example epoch (62.5 batches)
        for (const a of [0, 1, 31, 62, 63]) {
          const half = await trainFrom(config, a);
          const rest = await trainFrom(half, 70 - a);
          assert.equal(stateHash(rest), stateHash(straight), `split at ${a}`);
        }
      });
    }

    test('I3 history independence: a run gives the same bits after other runs', async () => {
      const config = fakeConfig({ backend, optimizer: optimizerOf('adam') });
      const first = await hashesOf(config, 5);
      await hashesOf(fakeConfig({ backend, seed: 99, optimizer: optimizerOf('momentum') }), 7);
      await hashesOf(fakeConfig({ backend, model: { kind: 'softmax', hidden: [] } }), 3);
      const again = await hashesOf(config, 5);
      assert.deepEqual(again, first);
    });

    test('I4 seed sensitivity: seeds 0 and 1 both work and differ in weights and batches', async () => {
      const t0 = await Trainer.create(fakeConfig({ backend, seed: 0 }));
      const t1 = await Trainer.create(fakeConfig({ backend, seed: 1 }));
      try {
        const s0 = t0.snapshot();
        const s1 = t1.snapshot();
        assert.notDeepEqual(s0.tensors['hidden1/weights'].data, s1.tensors['hidden1/weights'].data);
        assert.notDeepEqual([...t0.nextBatchIndices()], [...t1.nextBatchIndices()]);
        const l0 = t0.trainStep().loss;
        assert.ok(Number.isFinite(l0), 'seed 0 trains');
      } finally {
        t0.dispose();
        t1.dispose();
      }
    });

    test('I5 branch isolation: a branch with a new lr shares every step up to the branch point', async () => {
      const config = fakeConfig({ backend, optimizer: optimizerOf('momentum') });
      const parent = await hashesOf(config, 20);
      const k = 9;
      const atK = await trainFrom(config, k);
      assert.equal(stateHash(atK), parent[k]);
      const branch = await trainFrom(atK, 5, {
        optimizer: { kind: 'momentum', lr: 0.2, momentum: 0.9 },
      });
      assert.equal(branch.step, k + 5);
      assert.notEqual(stateHash(branch), parent[k + 5], 'the branch diverges after k');
      assert.deepEqual(await hashesOf(config, 20), parent, 'the parent is untouched');
    });
  });
}
