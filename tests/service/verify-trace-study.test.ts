/**
 * verify (untouched runs pass; an altered or damaged checkpoint fails, naming the step), the
 * trace view (indices recomputed from the feeder match the recorded batch digests, across the
 * epoch boundary) and a 3+3 seed study with exactly zero same-seed spread.
 */
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { encodeState, parseManifest } from '../../src/main/engine/state';
import { createDigester } from '../../src/main/engine/trace';
import { listStudies, runStudy } from '../../src/main/service/study';
import { readTrace } from '../../src/main/service/trace-view';
import { verifyRef } from '../../src/main/service/verify';
import { encodeRecord } from '../../src/main/store/records';
import { Store } from '../../src/main/store/store';
import { flipBit, N_STEPS, tempStore, train } from '../helpers/service';

let store: Store;
let dir: string;
let done: () => Promise<void>;
before(async () => {
  ({ store, dir, done } = await tempStore());
  await train(store, 'a', N_STEPS, { checkpointEvery: 20 });
});
after(() => done());

/** A copy of the store to damage. */
async function copyStore(name: string): Promise<Store> {
  const to = join(dir, name);
  await cp(store.dir, to, { recursive: true });
  return Store.open(to, { create: false });
}

describe('verify', () => {
  test('an untouched run verifies: every checkpoint and step, annotated verified', async () => {
    const r = await verifyRef(store, 'a');
    assert.equal(r.verified, true);
    assert.equal(r.firstMismatch, null);
    assert.equal(r.checkpoints, 5); // steps 0, 20, 40, 60, 70
    assert.equal(r.steps, N_STEPS);
    for (const n of await store.lineage(await store.resolveRef('a'))) {
      assert.match(n.verified ?? '', /^\d{4}-\d\d-\d\dT/);
    }
  });

  test('--from a checkpoint replays only the segment after it', async () => {
    const r = await verifyRef(store, 'a', { from: 'a@40' });
    assert.equal(r.verified, true);
    assert.equal(r.steps, 30);
    assert.equal(r.checkpoints, 2); // 60 and 70: 40 is the premise
    assert.equal(r.fromStep, 40);
  });

  test('a substituted checkpoint (one bit of one weight) fails at its step, naming the tensor', async () => {
    const s = await copyStore('substituted');
    const id40 = await s.resolveRef('a@40');
    const node40 = await s.getNode(id40);
    const bad = flipBit(await s.readState(id40), 'softmax_linear/weights', 17, 3);
    const put = await s.putCheckpoint(encodeState(bad), {
      parent: node40.parent,
      step: 40,
      trace: node40.trace,
    });
    // rewrite the next node's record so the history runs through the altered checkpoint
    const id60 = await s.resolveRef('a@60');
    const rec = JSON.parse(await readFile(s.layout.node(id60), 'utf8'));
    await writeFile(s.layout.node(id60), encodeRecord('node', { ...rec, parent: put.id }));
    const r = await verifyRef(s, 'a');
    assert.equal(r.verified, false);
    assert.equal(r.firstMismatch?.step, 40);
    assert.equal(r.firstMismatch?.checkpoint, put.id);
    assert.equal(r.firstMismatch?.tensor, 'softmax_linear/weights');
    assert.equal(r.firstMismatch?.differing, 1);
    assert.equal(r.checkpoints, 2);
  });

  test('a damaged tensor blob fails at its step', async () => {
    const s = await copyStore('damaged');
    const id60 = await s.resolveRef('a@60');
    const blob = parseManifest(await s.getObject(id60)).tensors.blob;
    const file = s.layout.object(blob);
    const bytes = await readFile(file);
    bytes[bytes.length - 5] ^= 0x10;
    await writeFile(file, bytes);
    const r = await verifyRef(s, 'a');
    assert.equal(r.verified, false);
    assert.equal(r.firstMismatch?.step, 60);
    assert.match(r.firstMismatch!.detail, /damaged/);
  });
});

describe('trace', () => {
  test('steps with indices from the feeder that match the recorded batch digests', async () => {
    const t = await readTrace(store, 'a', { from: 60, to: 66, withIndices: true });
    assert.deepEqual(
      t.steps.map((s) => s.step),
      [60, 61, 62, 63, 64, 65, 66],
    );
    assert.equal(t.missing, 0);
    assert.deepEqual(t.digests, ['xxh64']);
    const d = await createDigester();
    for (const s of t.steps) {
      assert.equal(s.indices?.length, 32);
      assert.equal(d.batch(Uint32Array.from(s.indices!)), s.batchDigest, `step ${s.step}`);
    }
    // step 63 crosses the epoch boundary: 16 examples of epoch 0, 16 of epoch 1
    const epoch0 = new Set(
      (await readTrace(store, 'a', { from: 1, to: 62, withIndices: true })).steps.flatMap(
        (s) => s.indices!,
      ),
    );
    const s63 = t.steps.find((s) => s.step === 63)!.indices!;
    assert.equal(epoch0.size, 62 * 32);
    assert.equal(s63.slice(0, 16).filter((i) => !epoch0.has(i)).length, 16);
    const full = await readTrace(store, 'a');
    assert.equal(full.steps.length, N_STEPS);
    assert.ok(full.evals.some((e) => e.step === N_STEPS));
  });
});

describe('study', () => {
  test('3 + 3 runs on fake data: the same-seed spread is exactly 0', async () => {
    const progress: number[] = [];
    const r = await runStudy(
      store,
      {
        runs: 3,
        seed: 11,
        train: {
          dataset: 'fake',
          model: 'mlp',
          hidden: [16, 8],
          optimizer: 'sgd',
          lr: 0.05,
          batchSize: 32,
          steps: 25,
          checkpointEvery: 1000,
          evalEvery: 1000,
          backend: 'wasm',
        },
      },
      { parallel: 1, onProgress: (n) => progress.push(n) },
    );
    assert.deepEqual(r.sameSeed.seeds, [11, 11, 11]);
    assert.deepEqual(r.differentSeeds.seeds, [12, 13, 14]);
    assert.equal(r.sameSeed.finalLoss.std, 0);
    assert.equal(r.sameSeed.testPrecision.std, 0);
    assert.equal(r.sameSeedShare, 0);
    assert.equal(r.determinismBug, null);
    assert.ok(r.differentSeeds.finalLoss.std > 0);
    assert.equal(
      new Set(r.results!.filter((x) => x.group === 'same').map((x) => x.checkpoint)).size,
      1,
    );
    assert.deepEqual(progress, [0, 1, 2, 3, 4, 5, 6]);
    const listed = await listStudies(store);
    assert.equal(listed.length, 1);
    assert.equal(listed[0].id, r.id);
    assert.equal(listed[0].object, r.object);
    const keeps = await store.listKeeps();
    assert.equal(keeps.get(`study/${r.id}`)?.[0], r.object);
  });
});
