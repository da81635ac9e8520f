/**
 * The seed study of a gan (fake data, small nets, a shuffle buffer; in this process): same-seed
 * runs give exactly zero spread in the discriminator's and generator's final losses and in the
 * sample quality (mean max-softmax confidence of the fixed classifier, trained once and cached
 * in the store under a keep ref); different seeds do not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runStudy } from '../../src/main/service/study';
import { CLASSIFIER_KEEP_PREFIX, sampleQuality } from '../../src/main/service/sample-quality';
import { tempStore } from '../helpers/service';

test('gan study: zero same-seed spread in both losses and the sample quality', async () => {
  const { store, done } = await tempStore();
  try {
    const r = await runStudy(
      store,
      {
        runs: 2,
        seed: 21,
        train: {
          dataset: 'fake',
          model: 'gan',
          hidden: [],
          gan: { noiseDims: 8, generator: [16], discriminator: [16] },
          shuffle: { kind: 'buffer', size: 1000 },
          optimizer: 'adam',
          lr: 0.001,
          batchSize: 40,
          steps: 6,
          checkpointEvery: 1000,
          evalEvery: 1000,
          backend: 'wasm',
        },
      },
      { parallel: 1 },
    );
    assert.equal(r.determinismBug, null);
    assert.equal(r.config?.discriminatorOptimizer?.beta1, 0.5, 'a gan trains adam with β1 0.5');
    const same = r.sameSeed;
    const diff = r.differentSeeds;
    assert.equal(same.finalLoss.std, 0);
    assert.equal(same.generatorLoss?.std, 0);
    assert.equal(same.sampleQuality?.std, 0);
    assert.equal(r.sameSeedQualityShare, 0);
    assert.equal(same.sampleQuality!.values.length, 2);
    for (const q of [...same.sampleQuality!.values, ...diff.sampleQuality!.values]) {
      assert.ok(q > 0.1 && q <= 1, `a confidence over 10 classes: ${q}`);
    }
    assert.ok(diff.sampleQuality!.std > 0, 'different seeds draw different samples');
    assert.ok(diff.generatorLoss!.std > 0);
    const results = r.results ?? [];
    assert.ok(results.every((x) => typeof x.generatorLoss === 'number'));
    // the classifier is cached in the store: one keep ref, and the same number again
    const keeps = [...(await store.listKeeps()).keys()].filter((k) => k.startsWith(CLASSIFIER_KEEP_PREFIX)); // prettier-ignore
    assert.equal(keeps.length, 1);
    assert.equal(await sampleQuality(store, results[0].checkpoint), results[0].sampleQuality);
  } finally {
    await done();
  }
});
