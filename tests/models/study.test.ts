/**
 * The seed study on the image models: 2 + 2 runs of lenet5 and of a reduced ResNet (batch norm,
 * residual blocks, dropout, augmentation) on fake data, on wasm and cpu — the same-seed spread of
 * the final loss and test precision is exactly 0 and the same-seed runs end in one checkpoint.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runStudy } from '../../src/main/service/study';
import { tempStore } from '../helpers/service';

const CASES = [
  { label: 'lenet5', model: 'lenet5' as const, layers: undefined },
  { label: 'reduced resnet', model: 'layers' as const, layers: 'conv:4x3:1,bn,relu,res:4,res:8/2,dropout:0.25,gap' }, // prettier-ignore
];

for (const backend of ['wasm', 'cpu'] as const) {
  for (const c of CASES) {
    test(`${c.label} on ${backend}: 2 + 2 study, same-seed spread exactly 0`, async () => {
      const { store, done } = await tempStore();
      try {
        const r = await runStudy(
          store,
          {
            runs: 2,
            seed: 21,
            train: {
              dataset: 'fake',
              model: c.model,
              hidden: [],
              ...(c.layers ? { layers: c.layers } : {}),
              augment: { crop: 2, flip: true },
              optimizer: 'momentum',
              lr: 0.05,
              batchSize: 32,
              steps: 4,
              checkpointEvery: 1000,
              evalEvery: 1000,
              backend,
            },
          },
          { parallel: 1 },
        );
        assert.equal(r.sameSeed.finalLoss.std, 0);
        assert.equal(r.sameSeed.testPrecision.std, 0);
        assert.equal(r.determinismBug, null);
        assert.ok(r.differentSeeds.finalLoss.std > 0, 'different seeds do differ');
        const same = r.results!.filter((x) => x.group === 'same').map((x) => x.checkpoint);
        assert.equal(new Set(same).size, 1);
      } finally {
        await done();
      }
    });
  }
}
