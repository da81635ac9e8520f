/**
 * Continuing a gan through the service: `dLr` branches with a new discriminator learning rate
 * (the generator's and every step up to the branch point unchanged); `dLr` on a non-gan run is
 * refused before anything is written.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { continueFrom } from '../../src/main/service/train';
import { InputError } from '../../src/main/engine/types';
import { tempStore, train } from '../helpers/service';
import { ganConfig } from './helpers';

test('continue with dLr starts a branch with the new discriminator lr only', async () => {
  const { store, done } = await tempStore();
  try {
    const config = ganConfig({ shuffle: { kind: 'buffer', size: 1000 } });
    const a = await train(store, 'g', 4, { config, checkpointEvery: 2 });
    const b = await continueFrom(store, { from: 'g@2', steps: 2, dLr: 0.05 });
    assert.notEqual(b.branch, 'g');
    assert.match(b.branch, /dlr0\.05/);
    assert.notEqual(b.checkpoint, a.checkpoint);
    const rec = (await store.listBranches()).find((x) => x.name === b.branch)!;
    assert.equal(rec.config.discriminatorOptimizer?.lr, 0.05);
    assert.equal(rec.config.discriminatorOptimizer?.beta1, 0.5);
    assert.deepEqual(rec.config.optimizer, { ...config.optimizer, beta2: 0.999, epsilon: 1e-8 });
    const lin = await store.lineage(b.checkpoint);
    assert.ok(lin.some((n) => n.step === 2 && n.id === lin.find((m) => m.step === 2)!.id));
    assert.equal((await store.lineage(a.checkpoint)).find((n) => n.step === 2)!.id, lin.find((n) => n.step === 2)!.id); // prettier-ignore
    // the same continue again retraces the branch it made
    const again = await continueFrom(store, { from: 'g@2', steps: 2, dLr: 0.05 });
    assert.equal(again.checkpoint, b.checkpoint);
    const m = await train(store, 'm', 2);
    await assert.rejects(continueFrom(store, { from: m.branch, steps: 1, dLr: 0.1 }), InputError);
  } finally {
    await done();
  }
});
