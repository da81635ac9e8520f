/**
 * compare on real training (fake data, MLP 16,8, batch 32 — an epoch is 62.5 batches) with
 * planted differences: a learning-rate branch and a flipped bit at step k, for k in the first
 * batch, mid-epoch and across the epoch boundary; same weights with another batch order; other
 * data; another backend.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { encodeState } from '../../src/main/engine/state';
import { Trainer } from '../../src/main/engine/trainer';
import { compareRefs } from '../../src/main/service/compare';
import { continueFrom } from '../../src/main/service/train';
import { verifyRef } from '../../src/main/service/verify';
import type { Store } from '../../src/main/store/store';
import { fakeConfig } from '../helpers/fixtures';
import { flipBit, N_STEPS, tempStore, train } from '../helpers/service';

let store: Store;
let done: () => Promise<void>;
before(async () => {
  ({ store, done } = await tempStore());
  await train(store, 'a', N_STEPS);
});
after(() => done());

/** The first tensor (name order) that differs after one step from `state` under two lrs. */
async function expectedLrTensor(ref: string): Promise<{ name: string; differing: number }> {
  const s = await store.readState(await store.resolveRef(ref));
  const out = [];
  for (const lr of [0.05, 0.1]) {
    const t = await Trainer.restore(s, { optimizer: { kind: 'sgd', lr } });
    t.trainStep();
    out.push(t.snapshot().tensors);
    t.dispose();
  }
  for (const name of Object.keys(out[0]).sort()) {
    const a = new Uint32Array(out[0][name].data.buffer);
    const b = new Uint32Array(out[1][name].data.buffer);
    const differing = a.filter((x, i) => x !== b[i]).length;
    if (differing > 0) {
      return { name, differing };
    }
  }
  throw new Error('no difference');
}

describe('planted differences at step k', () => {
  for (const k of [1, 30, 63]) {
    test(`learning-rate branch at step ${k}: compare names step ${k} and its tensor`, async () => {
      // the straight run with a checkpoint at k-1, then a branch there with another lr
      // a seed of its own, so no state of this history exists already on another path
      const base = `lr${k}`;
      const config = fakeConfig({ seed: 100 + k });
      let fork: string;
      if (k > 1) {
        fork = (await train(store, base, k - 1, { config })).checkpoint;
        await continueFrom(store, { from: base, steps: N_STEPS - k + 1, checkpointEvery: 1000 });
      } else {
        await train(store, base, N_STEPS, { config });
        fork = `${base}@0`;
      }
      await continueFrom(store, {
        from: fork,
        steps: N_STEPS - k + 1,
        lr: 0.1,
        branch: `${base}-b`,
        checkpointEvery: 1000,
      });
      const r = await compareRefs(store, base, `${base}-b`);
      const want = await expectedLrTensor(fork);
      assert.equal(r.identical, false);
      assert.equal(r.firstDivergentStep, k);
      assert.equal(r.tensorStep, k);
      assert.equal(r.tensor, want.name);
      assert.equal(r.differing, want.differing);
      assert.ok(r.maxAbsDiff! > 0 && r.maxUlp! > 0);
      assert.equal(r.sameData, true);
      assert.equal(r.sameBatchesUntil, N_STEPS);
      assert.equal(r.sameFingerprint, true);
      assert.ok(r.summary.some((l) => l.includes(`part at step ${k}`)));
      assert.ok(r.summary.some((l) => l.startsWith('configs differ: lr 0.05 vs 0.1')));
    });

    test(`one flipped bit at step ${k}: compare names step ${k}, the tensor, 1 element, 1 ULP`, async () => {
      const name = `flip${k}`;
      await train(
        store,
        name,
        k,
        {},
        {
          afterStep: (step, t) =>
            step === k ? flipBit(t.snapshot(), 'hidden2/weights', 5, 0) : undefined,
        },
      );
      await continueFrom(store, { from: name, steps: N_STEPS - k, checkpointEvery: 1000 });
      const r = await compareRefs(store, 'a', name);
      assert.equal(r.identical, false);
      assert.equal(r.firstDivergentStep, k);
      assert.equal(r.tensor, 'hidden2/weights');
      assert.equal(r.differing, 1);
      assert.equal(r.maxUlp, 1);
      assert.deepEqual(
        r.tensors?.map((t) => t.name),
        ['hidden2/weights'],
      );
      assert.equal(r.sameBatchesUntil, N_STEPS);
      // the flipped state is on record, but no replay produces it
      const v = await verifyRef(store, name);
      assert.equal(v.verified, false);
      assert.equal(v.firstMismatch?.step, k);
      assert.equal(v.firstMismatch?.tensor, 'hidden2/weights');
    });
  }

  test('a flip inside a segment (no checkpoint there): trace names the step; verify fails there', async () => {
    const k = 40;
    await train(
      store,
      'inner',
      N_STEPS,
      {},
      {
        afterStep: (step, t) =>
          step === k ? flipBit(t.snapshot(), 'hidden1/biases', 3, 7) : undefined,
      },
    );
    const r = await compareRefs(store, 'a', 'inner');
    assert.equal(r.firstDivergentStep, k);
    assert.ok(
      r.summary.some((l) => l.includes('run B does not replay')),
      r.summary.join('\n'),
    );
    const v = await verifyRef(store, 'inner');
    assert.equal(v.verified, false);
    assert.equal(v.firstMismatch?.step, k);
    assert.match(v.firstMismatch!.detail, /state digest/);
  });

  test('only checkpoints around the divergence: replay finds the exact step', async () => {
    // an lr branch at k whose trace after the fork is gone: only the checkpoints at k-1 and 70
    const k = 17;
    const config = fakeConfig({ seed: 200 });
    const fork = (await train(store, 'nt', k - 1, { config })).checkpoint;
    await continueFrom(store, { from: 'nt', steps: N_STEPS - k + 1, checkpointEvery: 1000 });
    await continueFrom(store, {
      from: fork,
      steps: N_STEPS - k + 1,
      lr: 0.1,
      branch: 'nt-b',
      checkpointEvery: 1000,
    });
    // strip the trace of the branch's last segment: its node record without `trace`
    const { readFile, writeFile } = await import('node:fs/promises');
    const tipId = await store.resolveRef('nt-b');
    const file = store.layout.node(tipId);
    const rec = JSON.parse(await readFile(file, 'utf8'));
    delete rec.trace;
    const { encodeRecord } = await import('../../src/main/store/records');
    await writeFile(file, encodeRecord('node', rec));
    const r = await compareRefs(store, 'nt', 'nt-b');
    assert.equal(r.firstDivergentStep, k);
    assert.equal(r.tensor, (await expectedLrTensor(fork)).name);
  });
});

describe('models, data and batches', () => {
  test('same weights, different batch order: models the same at step 0, batches differ from step 1', async () => {
    const rootA = await store.readState(await store.resolveRef('a@0'));
    const config = { ...rootA.config, seed: 8 };
    const enc = encodeState({ ...rootA, config, rng: { ...rootA.rng, root: 8 } });
    const root = await store.putCheckpoint(enc, { parent: null, step: 0 });
    const now = new Date().toISOString();
    await store.createRun({
      id: 'run-shuffled',
      createdAt: now,
      seed: 8,
      seedSource: 'explicit',
      root: root.id,
      config,
    });
    await store.createBranch({
      name: 'shuffled',
      run: 'run-shuffled',
      tip: root.id,
      base: null,
      config,
      status: 'done',
      createdAt: now,
      updatedAt: now,
    });
    await continueFrom(store, { from: 'shuffled', steps: 10, checkpointEvery: 1000 });
    const r = await compareRefs(store, 'a', 'shuffled');
    assert.equal(r.identical, false);
    assert.equal(r.firstDivergentStep, 1);
    assert.equal(r.sameBatchesUntil, 0);
    assert.equal(r.sameData, true);
    assert.ok(
      r.summary.some((l) => l.startsWith('models the same up to step 0; they part at step 1')),
    );
    assert.ok(r.summary.includes('batches different from step 1'));
    assert.ok(r.summary.some((l) => l.includes('seed 7 vs 8')));
  });

  test('other data (fake vs mnist): data different, batches different', async () => {
    await train(store, 'mnist', 3, { config: fakeConfig({ dataset: 'mnist' }) });
    const r = await compareRefs(store, 'a', 'mnist');
    assert.equal(r.sameData, false);
    assert.equal(r.sameBatchesUntil, 0);
    assert.equal(r.firstDivergentStep, 1);
    assert.ok(r.summary.some((l) => l.startsWith('data different: A fake')));
  });

  test('another backend fingerprint: not promised, but bit-identical tensors are called so (F6)', async () => {
    await train(store, 'wasm5', 5);
    await train(store, 'cpu5', 5, { config: fakeConfig({ backend: 'cpu' }) });
    const r = await compareRefs(store, 'wasm5', 'cpu5');
    assert.equal(r.sameFingerprint, false);
    // wasm and cpu give the same bits: only the fingerprints (part of the ids) differ
    assert.notEqual(r.checkpoints?.a, r.checkpoints?.b);
    assert.equal(r.bitwiseIdentical, true);
    assert.ok(
      r.summary.some((l) =>
        l.startsWith('bit-identical tensors: every weight and optimizer slot is equal bit for bit'),
      ),
      r.summary.join('\n'),
    );
    assert.ok(!r.summary.some((l) => l.includes('not bitwise')));
    assert.equal(r.tolerance?.within, true);
    assert.equal(r.identical, true);
    assert.ok(r.summary.some((l) => l.includes('bitwise equality was not promised')));
  });
});
