/**
 * Stores and bundles written before a change still read and verify after it. The fixtures were
 * written by `lockstep train` / `continue` / `export` on 2026-11-30 (store format
 * `lockstep/store@1`, trace format 2): fake data, MLP [4], sgd 0.05, batch 32, seed 7, 20 steps
 * with checkpoints every 10 on `main`, and `main-lr0.1` branched at step 10 with lr 0.1.
 *
 * - Everywhere: the store opens, fsck finds it clean, the graph and checkpoints read back (every
 *   read re-checks the hash), and the bundle's manifest and objects check out on import.
 * - Where the backend fingerprint equals the recorded one (linux x64, tfjs 4.22, wasm simd):
 *   verify replays both branches bit-exactly, the bundle verifies, and continuing `main` 20→30
 *   equals a straight 0→30 run (I2 across the change).
 */
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { importBundle } from '../../src/main/bundle/import';
import { verifyBundle } from '../../src/main/bundle/verify';
import { canonicalJson } from '../../src/main/engine/canonical-json';
import { stateHash } from '../../src/main/engine/state';
import { Trainer } from '../../src/main/engine/trainer';
import { continueFrom } from '../../src/main/service/train';
import { verifyRef } from '../../src/main/service/verify';
import { Store } from '../../src/main/store/store';
import { trainFrom } from '../helpers/engine';
import { useTempDir } from '../helpers/fixtures';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const MAIN_TIP = '08580a2ff8077c1b6a7dcdf672030213db7482208691017557340515715ac4a2';
const BRANCH_TIP = 'f6057d425b791b42978d3c08bd24822526e66236e26d6931ed441f8f5f22b1e1';

/** A private copy of the fixture store (verify annotates checkpoints; the fixture stays as is). */
async function fixtureStore(t: Parameters<typeof useTempDir>[0]): Promise<Store> {
  const dir = join(useTempDir(t, 'lockstep-fixture-'), 'store');
  cpSync(join(FIXTURES, 'store-2026-11'), dir, { recursive: true });
  return Store.open(dir, { create: false });
}

/** Whether this machine's fingerprint for the fixture's config equals the recorded one. */
async function sameFingerprint(store: Store): Promise<boolean> {
  const state = await store.readState(MAIN_TIP);
  const here = await Trainer.create(state.config);
  try {
    return canonicalJson(here.snapshot().backend) === canonicalJson(state.backend);
  } finally {
    here.dispose();
  }
}

test('a store written before the change reads back whole and fsck finds it clean', async (t) => {
  const store = await fixtureStore(t);
  const report = await store.fsck();
  assert.equal(report.ok, true, JSON.stringify(report.problems));
  assert.deepEqual((await store.listBranches()).map((b) => [b.name, b.tip, b.status]).sort(), [
    ['main', MAIN_TIP, 'done'],
    ['main-lr0.1', BRANCH_TIP, 'done'],
  ]);
  assert.equal(await store.resolveRef('main'), MAIN_TIP);
  assert.equal(await store.resolveRef('main@10'), await store.resolveRef('main-lr0.1@10'));
  const state = await store.readState(MAIN_TIP);
  assert.equal(state.step, 20);
  assert.equal(stateHash(state), MAIN_TIP);
  assert.deepEqual(state.config.model, { kind: 'mlp', hidden: [4] });
  const branched = await store.readState(BRANCH_TIP);
  assert.equal(branched.config.optimizer.lr, 0.1);
});

test('the old store verifies bit-exactly and continues as a straight run would', async (t) => {
  const store = await fixtureStore(t);
  if (!(await sameFingerprint(store))) {
    t.skip('another backend fingerprint than the fixture was written on');
    return;
  }
  for (const ref of ['main', 'main-lr0.1']) {
    const v = await verifyRef(store, ref);
    assert.equal(v.verified, true, `${ref}: ${v.firstMismatch?.detail}`);
    assert.equal(v.steps, 20, 'both branches replay from step 0 to step 20');
  }
  const cont = await continueFrom(store, { from: 'main', steps: 10, checkpointEvery: 10 });
  const config = (await store.readState(MAIN_TIP)).config;
  assert.equal(cont.stateHash, stateHash(await trainFrom(config, 30)));
});

test('a bundle written before the change imports, and verifies where the fingerprint matches', async (t) => {
  const file = join(FIXTURES, 'bundle-2026-11.lockstep');
  const store = await Store.open(join(useTempDir(t, 'lockstep-fixture-'), 'store'));
  const r = await importBundle(store, file);
  assert.deepEqual(r.imported, ['main']);
  assert.equal(await store.resolveRef('main'), MAIN_TIP);
  assert.equal((await store.fsck()).ok, true);
  if (await sameFingerprint(store)) {
    const v = await verifyBundle(file);
    assert.equal(v.verified, true, v.firstMismatch?.detail);
    assert.equal(v.checkpoint, MAIN_TIP);
  }
});
