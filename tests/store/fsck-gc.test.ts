/** fsck finds damage and leftovers; gc removes what nothing reaches and keeps the rest. */
import assert from 'node:assert/strict';
import { readFileSync, unlinkSync, writeFileSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { StoreCorruptError } from '../../src/main/store/api';
import { TraceRecorder } from '../../src/main/engine/trace';
import { Store } from '../../src/main/store/store';
import { branchRecord, cleanup, enc, snapshot, tempDir, writeLine } from './helpers';

test('fsck of a healthy store is clean and counts objects and refs', async () => {
  const dir = tempDir();
  try {
    const store = await Store.open(dir);
    await writeLine(store, 'r', 'main', [0, 10, 20]);
    const r = await store.fsck();
    assert.deepEqual(r, { ok: true, objects: 6, refs: 2, problems: [] });
  } finally {
    cleanup(dir);
  }
});

test('fsck finds a corrupted object, a missing object, a ref pointing nowhere — and changes nothing', async () => {
  const dir = tempDir();
  try {
    const store = await Store.open(dir);
    const ids = await writeLine(store, 'r', 'main', [0, 10, 20]);
    const e10 = enc(10);
    const e20 = enc(20);
    // corrupt the blob of step 10
    const f = store.layout.object(e10.blobId);
    const b = readFileSync(f);
    b[20] ^= 0xff;
    writeFileSync(f, b);
    // lose the manifest of step 20
    unlinkSync(store.layout.object(e20.id));
    // a branch pointing at a checkpoint that does not exist
    const ghost = '7'.repeat(64);
    const main = JSON.parse(readFileSync(store.layout.branch('main'), 'utf8'));
    writeFileSync(
      store.layout.branch('dangling'),
      JSON.stringify({ ...main, name: 'dangling', tip: ghost }),
    );
    // a record that does not parse
    writeFileSync(store.layout.run('broken'), '{"id": "broken", ');
    const before = snapshot(dir);
    const r = await store.fsck();
    assert.equal(r.ok, false);
    const has = (kind: string, name: string, re: RegExp): void => {
      assert.ok(
        r.problems.some((p) => p.kind === kind && p.name === name && re.test(p.message)),
        `expected ${kind} ${name} ${re}; got ${JSON.stringify(r.problems, null, 1)}`,
      );
    };
    has('object', e10.blobId, /is corrupt: its bytes hash to/);
    has(
      'object',
      e10.blobId,
      new RegExp(`tensor blob ${e10.blobId} of checkpoint ${ids[1]} is corrupt`),
    );
    has('object', e20.id, /manifest object is missing/);
    has('ref', 'dangling', new RegExp(`points to ${ghost}, which is not a checkpoint`));
    has('run', 'broken', /record runs\/broken\.json is damaged: not valid JSON/);
    assert.deepEqual(snapshot(dir), before, 'fsck changed nothing');
    // gc refuses to guess on a damaged store
    await assert.rejects(store.gc({ graceMs: 0 }), (err: unknown) => {
      assert.ok(err instanceof StoreCorruptError);
      assert.match(err.message, /^gc refused: .*run fsck$/);
      return true;
    });
  } finally {
    cleanup(dir);
  }
});

test('fsck: a node whose parent or trace is missing', async () => {
  const dir = tempDir();
  try {
    const store = await Store.open(dir);
    const trace = await store.putObject(new TextEncoder().encode('steps 1..10'));
    const ids = await writeLine(store, 'r', 'main', [0]);
    const { id } = await store.putCheckpoint(enc(10), { parent: ids[0], step: 10, trace });
    await store.updateBranch('main', { tip: id });
    unlinkSync(store.layout.object(trace));
    unlinkSync(store.layout.node(ids[0]));
    const r = await store.fsck();
    assert.equal(r.ok, false);
    const msgs = r.problems.map((p) => `${p.kind} ${p.message}`).join('\n');
    assert.match(msgs, new RegExp(`object trace ${trace} of checkpoint ${id} is missing`));
    assert.match(
      msgs,
      new RegExp(`node checkpoint ${id} \\(step 10\\): parent ${ids[0]} is not in the store`),
    );
    assert.match(msgs, new RegExp(`run 'r': its root checkpoint ${ids[0]} is not in the store`));
  } finally {
    cleanup(dir);
  }
});

test('fsck lists leftover temp files of dead processes (not damage); gc removes them', async () => {
  const dir = tempDir();
  try {
    const store = await Store.open(dir);
    await writeLine(store, 'r', 'main', [0]);
    const tmp = path.join(store.layout.objects, 'ab', '.tmp-999999999-abcdef');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(path.dirname(tmp), { recursive: true });
    writeFileSync(tmp, 'half an object');
    writeFileSync(path.join(store.layout.heads, '.tmp-999999999-000000'), '{"name"');
    const r = await store.fsck();
    assert.equal(r.ok, true);
    assert.deepEqual(
      r.problems.map((p) => p.kind),
      ['temp', 'temp'],
    );
    assert.match(r.problems[0].message, /leftover temp file .*\.tmp-999999999-/);
    const g = await store.gc({ graceMs: 0 });
    assert.equal(g.removedTempFiles, 2);
    assert.equal(g.bytesFreed, 'half an object'.length + '{"name"'.length);
    assert.deepEqual((await store.fsck()).problems, []);
  } finally {
    cleanup(dir);
  }
});

test('gc removes unreachable checkpoints and objects, keeps reachable ones, reports bytes', async () => {
  const dir = tempDir();
  try {
    const store = await Store.open(dir);
    const main = await writeLine(store, 'r', 'main', [0, 10, 20]);
    // a real (tiny) trace segment: fsck checks that a checkpoint's trace is one
    const recorder = new TraceRecorder(20);
    recorder.record({
      step: 21,
      loss: 0.5,
      batchDigest: '0'.repeat(16),
      stateDigest: '1'.repeat(16),
    });
    const trace = await store.putObject(recorder.take(30)!);
    const { id: c30 } = await store.putCheckpoint(enc(30), { parent: main[2], step: 30, trace });
    await store.updateBranch('main', { tip: c30 });
    // an abandoned branch: two checkpoints, then the branch is deleted
    const { id: x1 } = await store.putCheckpoint(enc(20, 3), { parent: main[1], step: 20 });
    const { id: x2 } = await store.putCheckpoint(enc(30, 3), { parent: x1, step: 30 });
    await store.createBranch(branchRecord('abandoned', 'r', x2, main[1]));
    await store.deleteBranch('abandoned');
    // a stray object nothing names, and one a keep ref names
    const stray = await store.putObject(new TextEncoder().encode('stray'));
    const kept = await store.putObject(new TextEncoder().encode('kept by a study'));
    await store.setKeep('study/s1', [kept]);
    // a checkpoint kept only through a keep ref keeps its lineage
    const { id: k1 } = await store.putCheckpoint(enc(5, 4), { parent: null, step: 5 });
    const { id: k2 } = await store.putCheckpoint(enc(6, 4), { parent: k1, step: 6 });
    await store.setKeep('pinned', [k2]);

    const garbage = [x1, x2, enc(20, 3).blobId, enc(30, 3).blobId, stray];
    const expectedBytes =
      garbage.reduce((s, id) => s + statSync(store.layout.object(id)).size, 0) +
      [x1, x2].reduce((s, id) => s + statSync(store.layout.node(id)).size, 0);

    // within the grace period nothing is removed (a concurrent writer's objects are young)
    const young = await store.gc();
    assert.equal(young.removedObjects, 0);
    assert.equal(young.bytesFreed, 0);

    const objectsBefore = (await store.storeInfo()).objects;
    const r = await store.gc({ graceMs: 0 });
    assert.equal(r.removedObjects, 5);
    assert.equal(r.removedNodes, 2);
    assert.equal(r.bytesFreed, expectedBytes);
    assert.equal(r.keptObjects, objectsBefore - 5);
    for (const id of garbage) {
      assert.equal(await store.hasObject(id), false, id);
    }
    assert.equal(await store.hasCheckpoint(x1), false);
    for (const id of [...main, c30, k1, k2]) {
      assert.ok((await store.readState(id)).step >= 0);
    }
    assert.ok(await store.hasObject(trace));
    assert.ok(await store.hasObject(kept));
    assert.deepEqual((await store.fsck()).problems, []);
    // nothing left to remove
    const again = await store.gc({ graceMs: 0 });
    assert.equal(again.removedObjects, 0);
    assert.equal(again.bytesFreed, 0);
    // removing the keep ref releases what only it held
    await store.removeKeep('pinned');
    await store.removeKeep('study/s1');
    const r2 = await store.gc({ graceMs: 0 });
    assert.equal(r2.removedNodes, 2);
    assert.equal(r2.removedObjects, 5); // k1, k2: manifests and blobs; and the kept object
  } finally {
    cleanup(dir);
  }
});

test('gc keeps unreferenced objects younger than the grace period and ages them out', async () => {
  const dir = tempDir();
  try {
    const store = await Store.open(dir);
    const id = await store.putObject(new TextEncoder().encode('in flight'));
    assert.equal((await store.gc({ graceMs: 60000 })).removedObjects, 0);
    const old = new Date(Date.now() - 120000);
    utimesSync(store.layout.object(id), old, old);
    assert.equal((await store.gc({ graceMs: 60000 })).removedObjects, 1);
  } finally {
    cleanup(dir);
  }
});
