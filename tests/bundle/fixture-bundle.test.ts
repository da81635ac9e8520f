/**
 * A bundle written before the change still imports and verifies after it. The fixture was
 * written by `lockstep export main` on 2026-11-30 (bundle and store formats of that day): fake
 * data, MLP [4], sgd 0.05, batch 32, seed 7, 20 steps with checkpoints every 10.
 *
 * - Everywhere: it imports into an empty store (manifest, records and objects check out), the
 *   branch names its recorded tip, and fsck finds the store clean.
 * - Where the backend fingerprint equals the recorded one (linux x64, tfjs 4.22, wasm simd): the
 *   bundle verifies bit-exactly, and continuing it 20→30 equals a straight 0→30 run.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { importBundle } from '../../src/main/bundle/import';
import { verifyBundle } from '../../src/main/bundle/verify';
import { canonicalJson } from '../../src/main/engine/canonical-json';
import { stateHash } from '../../src/main/engine/state';
import { Trainer } from '../../src/main/engine/trainer';
import { continueFrom } from '../../src/main/service/train';
import { Store } from '../../src/main/store/store';
import { trainFrom } from '../helpers/engine';
import { useTempDir } from '../helpers/fixtures';

const FILE = join(import.meta.dirname, 'fixtures', 'bundle-2026-11.lockstep');
const TIP = '08580a2ff8077c1b6a7dcdf672030213db7482208691017557340515715ac4a2';

test('a bundle written before the change imports; it verifies and continues where the fingerprint matches', async (t) => {
  const store = await Store.open(join(useTempDir(t, 'lockstep-fixture-'), 'store'));
  const r = await importBundle(store, FILE);
  assert.deepEqual(r.imported, ['main']);
  assert.equal(await store.resolveRef('main'), TIP);
  assert.equal((await store.fsck()).ok, true);
  const state = await store.readState(TIP);
  assert.equal(state.step, 20);
  assert.deepEqual(state.config.model, { kind: 'mlp', hidden: [4] });

  const here = await Trainer.create(state.config);
  const same = canonicalJson(here.snapshot().backend) === canonicalJson(state.backend);
  here.dispose();
  if (!same) {
    t.diagnostic('another backend fingerprint than the fixture was written on: import only');
    return;
  }
  const v = await verifyBundle(FILE);
  assert.equal(v.verified, true, v.firstMismatch?.detail);
  assert.equal(v.checkpoint, TIP);
  const cont = await continueFrom(store, { from: 'main', steps: 10, checkpointEvery: 10 });
  assert.equal(cont.stateHash, stateHash(await trainFrom(state.config, 30)));
});
