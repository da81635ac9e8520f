/** Store objects and checkpoints: round trip, dedupe, hash re-check on read, missing objects. */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, unlinkSync } from 'node:fs';
import { test } from 'node:test';
import { sha256Hex } from '../../src/main/engine/state';
import { RefError, StoreCorruptError } from '../../src/main/store/api';
import { Store } from '../../src/main/store/store';
import { cleanup, enc, makeState, snapshot, tempDir } from './helpers';

test('putObject/getObject round trip; a second put adds no files', async () => {
  const dir = tempDir();
  try {
    const store = await Store.open(dir);
    const bytes = new TextEncoder().encode('hello lockstep');
    const id = await store.putObject(bytes);
    assert.equal(id, sha256Hex(bytes));
    assert.deepEqual(await store.getObject(id), new Uint8Array(bytes));
    assert.equal(await store.hasObject(id), true);
    const before = snapshot(dir);
    assert.equal(await store.putObject(bytes), id);
    assert.deepEqual(snapshot(dir), before);
  } finally {
    cleanup(dir);
  }
});

test('checkpoint round trip is bit-exact; re-putting it is a no-op (dedupe)', async () => {
  const dir = tempDir();
  try {
    const store = await Store.open(dir);
    const e = enc(0);
    const r1 = await store.putCheckpoint(e, { parent: null, step: 0 });
    assert.deepEqual(r1, { id: e.id, created: true });
    const state = await store.readState(e.id);
    const orig = makeState(0);
    assert.equal(state.step, 0);
    assert.deepEqual(state.config, orig.config);
    for (const [name, t] of Object.entries(orig.tensors)) {
      assert.deepEqual(state.tensors[name].shape, t.shape);
      assert.deepEqual(
        new Uint8Array(state.tensors[name].data.buffer),
        new Uint8Array(t.data.buffer),
      );
    }
    const node = await store.getNode(e.id);
    assert.equal(node.parent, null);
    assert.equal(node.step, 0);
    const before = snapshot(dir);
    const r2 = await store.putCheckpoint(enc(0), { parent: null, step: 0 });
    assert.deepEqual(r2, { id: e.id, created: false });
    assert.deepEqual(snapshot(dir), before, 'dedupe wrote nothing');
  } finally {
    cleanup(dir);
  }
});

test('a flipped byte in an object file is refused, naming the object', async () => {
  const dir = tempDir();
  try {
    const store = await Store.open(dir);
    const e = enc(3);
    await store.putCheckpoint(e, { parent: null, step: 3 });
    const file = store.layout.object(e.blobId);
    const b = readFileSync(file);
    b[b.length - 1] ^= 0x01;
    writeFileSync(file, b);
    await assert.rejects(store.getObject(e.blobId), (err: unknown) => {
      assert.ok(err instanceof StoreCorruptError);
      assert.equal(err.object, e.blobId);
      assert.match(err.message, new RegExp(`object ${e.blobId} is corrupt`));
      return true;
    });
    await assert.rejects(store.readState(e.id), (err: unknown) => {
      assert.ok(err instanceof StoreCorruptError);
      assert.equal(err.object, e.blobId);
      return true;
    });
    // writing the same checkpoint's blob again repairs the damaged copy
    await store.putObject(e.blobBytes);
    assert.equal((await store.readState(e.id)).step, 3);
  } finally {
    cleanup(dir);
  }
});

test('missing objects: plain RefError; referenced by the graph: StoreCorruptError naming it', async () => {
  const dir = tempDir();
  try {
    const store = await Store.open(dir);
    await assert.rejects(store.getObject('0'.repeat(64)), (err: unknown) => {
      assert.ok(err instanceof RefError);
      assert.match(err.message, /object 0{64} is not in the store/);
      return true;
    });
    await assert.rejects(store.getObject('nothex'), RefError);
    await assert.rejects(store.readState('1'.repeat(64)), /unknown checkpoint/);
    const e = enc(5);
    await store.putCheckpoint(e, { parent: null, step: 5 });
    unlinkSync(store.layout.object(e.blobId));
    await assert.rejects(store.readState(e.id), (err: unknown) => {
      assert.ok(err instanceof StoreCorruptError);
      assert.equal(err.object, e.blobId);
      assert.match(err.message, /tensor blob of checkpoint .* is missing/);
      return true;
    });
    unlinkSync(store.layout.object(e.id));
    assert.equal(await store.hasCheckpoint(e.id), false);
    await assert.rejects(store.readState(e.id), (err: unknown) => {
      assert.ok(err instanceof StoreCorruptError);
      assert.equal(err.object, e.id);
      assert.match(err.message, /manifest of checkpoint/);
      return true;
    });
  } finally {
    cleanup(dir);
  }
});

test('putCheckpoint refuses a parent or trace that is not in the store', async () => {
  const dir = tempDir();
  try {
    const store = await Store.open(dir);
    await assert.rejects(
      store.putCheckpoint(enc(1), { parent: 'a'.repeat(64), step: 1 }),
      RefError,
    );
    await assert.rejects(
      store.putCheckpoint(enc(1), { parent: null, step: 1, trace: 'b'.repeat(64) }),
      /trace object b{64} is not in the store/,
    );
    const trace = await store.putObject(new TextEncoder().encode('trace segment'));
    const r = await store.putCheckpoint(enc(1), { parent: null, step: 1, trace });
    assert.equal((await store.getNode(r.id)).trace, trace);
  } finally {
    cleanup(dir);
  }
});

test('open: creates the layout; opening an existing store writes nothing; create:false', async () => {
  const dir = tempDir();
  try {
    await assert.rejects(Store.open(dir + '/nope', { create: false }), /no Lockstep store at/);
    await Store.open(dir);
    const before = snapshot(dir);
    const store = await Store.open(dir, {
      faults: (op, file) => {
        throw new Error(`open wrote: ${op} ${file}`);
      },
    });
    assert.deepEqual(snapshot(dir), before);
    assert.deepEqual(await store.storeInfo(), {
      dir: store.dir,
      objects: 0,
      bytes: 0,
      branches: 0,
      runs: 0,
    });
    writeFileSync(store.layout.marker, '{"format":"something-else"}');
    await assert.rejects(Store.open(dir), StoreCorruptError);
  } finally {
    cleanup(dir);
  }
});

test('annotateNode sets eval and verified, keeping the rest', async () => {
  const dir = tempDir();
  try {
    const store = await Store.open(dir);
    const { id } = await store.putCheckpoint(enc(2), { parent: null, step: 2, loss: 0.5 });
    const evalResult = { test: { precision: 0.9, correct: 9, examples: 10 } };
    await store.annotateNode(id, { eval: evalResult });
    await store.annotateNode(id, { verified: '2025-01-01T00:00:00.000Z' });
    const node = await store.getNode(id);
    assert.deepEqual(node.eval, evalResult);
    assert.equal(node.verified, '2025-01-01T00:00:00.000Z');
    assert.equal(node.loss, 0.5);
    assert.equal(node.step, 2);
  } finally {
    cleanup(dir);
  }
});
