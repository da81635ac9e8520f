/**
 * Invariants on real training of the image models, on wasm and cpu: LeNet-5 and a reduced
 * ResNet (a `--layers` stack with batch norm, residual blocks with and without a projection,
 * dropout and global average pooling) with seeded augmentation (crop + flip).
 * - I1 repeatability (same hash at every step), I2 continuation split mid-epoch and across the
 *   epoch boundary, I5 branch isolation, wasm == cpu (same tensors, bit for bit);
 * - softmax and mlp keep the exact tensors they had before the layer graph existed (pinned).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodeState, stateHash } from '../../src/main/engine/state';
import type { TrainingConfig } from '../../src/main/engine/types';
import { fakeConfig, hashesOf, optimizerOf, trainFrom } from '../helpers/engine';

const REDUCED_RESNET = 'conv:4x3:1,bn,relu,res:4,res:8/2,dropout:0.25,gap';

const MODELS: [string, TrainingConfig['model']][] = [
  ['lenet5', { kind: 'lenet5', hidden: [] }],
  ['reduced resnet', { kind: 'layers', hidden: [], layers: REDUCED_RESNET }],
];

// small batches keep this quick; epoch crossing is the feeder's business (tests/engine)
const base = (backend: 'wasm' | 'cpu', model: TrainingConfig['model']): TrainingConfig =>
  fakeConfig({
    backend,
    model,
    batchSize: 48,
    optimizer: optimizerOf('momentum'),
    augment: { crop: 2, flip: true },
  });

for (const [label, model] of MODELS) {
  describe(`${label}: determinism`, () => {
    const hashes: Record<string, string[]> = {};
    for (const backend of ['wasm', 'cpu'] as const) {
      test(`${backend}: I1 same hash at every step; I2 split at 2 and 3 (mid-epoch, augmented)`, async () => {
        const config = base(backend, model);
        const a = await hashesOf(config, 5);
        const b = await hashesOf(config, 5);
        assert.deepEqual(a, b);
        assert.equal(new Set(a).size, a.length, 'every step changes the state');
        hashes[backend] = a;
        for (const split of [2, 3]) {
          const half = await trainFrom(config, split);
          const rest = await trainFrom(half, 5 - split);
          assert.equal(stateHash(rest), a[5], `split at ${split}`);
        }
      });
    }

    test('wasm == cpu: the same tensors at every checked step', async () => {
      const w = await trainFrom(base('wasm', model), 4);
      const c = await trainFrom(base('cpu', model), 4);
      assert.equal(encodeState(w).blobId, encodeState(c).blobId);
      assert.ok(
        Object.keys(w.tensors).some((n) => n.endsWith('/moving_variance')) || label === 'lenet5',
        'batch-norm running statistics are part of the state',
      );
    });

    test('I5 branch isolation: a branch with a new lr shares every step up to the branch point', async () => {
      const config = base('wasm', model);
      const parent = hashesOf(config, 6);
      const atK = await trainFrom(config, 3);
      const branch = await trainFrom(atK, 2, {
        optimizer: { kind: 'momentum', lr: 0.2, momentum: 0.9 },
      });
      const p = await parent;
      assert.equal(stateHash(atK), p[3]);
      assert.notEqual(stateHash(branch), p[5]);
      assert.deepEqual(await hashesOf(config, 6), p, 'the parent is untouched');
    });
  });
}

test('augmentation and dropout change the run (they are really applied), and are part of the config', async () => {
  const model: TrainingConfig['model'] = { kind: 'layers', hidden: [], layers: REDUCED_RESNET };
  const withAug = await trainFrom(base('wasm', model), 1);
  const without = await trainFrom({ ...base('wasm', model), augment: undefined }, 1);
  assert.notEqual(encodeState(withAug).blobId, encodeState(without).blobId);
  assert.deepEqual(withAug.config.augment, { crop: 2, flip: true });
  assert.equal('augment' in without.config, false, 'no augment key when not augmenting');
  const noDrop = await trainFrom(
    {
      ...base('wasm', model),
      model: { ...model, layers: REDUCED_RESNET.replace(',dropout:0.25', '') },
    },
    1,
  );
  assert.notDeepEqual(withAug.tensors['conv1/weights'].data, noDrop.tensors['conv1/weights'].data);
});

/** Tensor digests of softmax and mlp runs, taken before the layer graph existed. */
const PINNED: Record<string, string> = {
  'mlp sgd': 'f13d43e7e60fa67d47a3976e5e756a30e10e0d6e9544e27bdabc47398b086d12',
  'mlp momentum': 'c501ed21300afc8066a88642d3b3a03a1df1a7d65fa921950a534d2fe5e2f07b',
  'mlp adam': 'ddd823d294bf8fbe9ddd181757bdc277f5196963ea81cc6299869bc27a139aa7',
  'softmax sgd': 'd8ffe23338eaeb5449102b5658af88e285bdbb6428086dc8ccd27b3a5ef6ce24',
};

test('softmax and mlp keep their tensor names, config and bits (pinned digests) on wasm and cpu', async () => {
  for (const backend of ['wasm', 'cpu'] as const) {
    for (const kind of ['sgd', 'momentum', 'adam'] as const) {
      const s = await trainFrom(fakeConfig({ backend, optimizer: optimizerOf(kind) }), 5);
      assert.equal(encodeState(s).blobId, PINNED[`mlp ${kind}`], `${backend} mlp ${kind}`);
      assert.deepEqual(Object.keys(s.config.model).sort(), ['hidden', 'kind']);
      assert.equal('augment' in s.config, false);
    }
    const s = await trainFrom(fakeConfig({ backend, model: { kind: 'softmax', hidden: [] } }), 5);
    assert.equal(encodeState(s).blobId, PINNED['softmax sgd'], `${backend} softmax`);
  }
});
