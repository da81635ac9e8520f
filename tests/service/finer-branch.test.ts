/**
 * Review finding 11 (issue 17): a branch that retraces an existing branch's states with a finer
 * checkpoint interval used to store its in-between checkpoint as an orphan (on no branch: `show
 * <branch>@N` said "no checkpoint", gc deleted it, the timeline had no dot), because the next
 * stored checkpoint kept its coarser parent. Now the stored chain is refined through it: both
 * branches pass through it, fsck and verify agree, and gc keeps it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { continueFrom, startRun } from '../../src/main/service/train';
import { verifyRef } from '../../src/main/service/verify';
import { Store } from '../../src/main/store/store';
import { tempDir } from '../helpers/cli';
import { fakeConfig } from '../helpers/engine';

async function steps(store: Store, ref: string): Promise<number[]> {
  return (await store.lineage(await store.resolveRef(ref))).map((n) => n.step);
}

test('a finer branch over an identical coarser one keeps its new checkpoint on both lineages', async () => {
  const store = await Store.open(tempDir());
  await startRun(store, {
    config: fakeConfig(),
    steps: 60,
    checkpointEvery: 10,
    evalEvery: 20,
    branch: 'base',
  });
  await continueFrom(store, {
    from: 'base@30',
    steps: 30,
    lr: 0.3,
    checkpointEvery: 20,
    evalEvery: 20,
    branch: 'coarse',
  });
  assert.deepEqual(await steps(store, 'coarse'), [0, 10, 20, 30, 40, 60]);
  const r = await continueFrom(store, {
    from: 'base@30',
    steps: 30,
    lr: 0.3,
    checkpointEvery: 10,
    evalEvery: 20,
    branch: 'fine',
  });
  assert.equal(r.created, 1, 'step 50 is new');
  assert.equal(r.reproduced, 2, 'steps 40 and 60 already existed');
  assert.deepEqual(await steps(store, 'fine'), [0, 10, 20, 30, 40, 50, 60]);
  assert.deepEqual(await steps(store, 'coarse'), [0, 10, 20, 30, 40, 50, 60]);
  assert.equal((await store.getNode(await store.resolveRef('fine@50'))).step, 50);
  assert.equal((await store.fsck()).ok, true);
  await store.gc({ graceMs: 0 });
  assert.equal((await store.getNode(await store.resolveRef('fine@50'))).step, 50);
  const v = await verifyRef(store, 'coarse');
  assert.equal(v.verified, true, v.firstMismatch?.detail);
  // a coarser job over the finer chain changes nothing
  const c = await continueFrom(store, {
    from: 'base@30',
    steps: 30,
    lr: 0.3,
    checkpointEvery: 30,
    evalEvery: 30,
    branch: 'coarser',
  });
  assert.equal(c.created, 0);
  assert.deepEqual(await steps(store, 'coarser'), [0, 10, 20, 30, 40, 50, 60]);
});
