/**
 * Faults: a read-only store and a full disk. Writes fail with a clear StoreWriteError naming
 * the path, leave no temp file and no partial object or record, and the store stays readable
 * and fsck-clean.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { sha256Hex } from '../../src/main/engine/state';
import { StoreWriteError } from '../../src/main/store/api';
import type { FaultHook, FsOp } from '../../src/main/store/fsutil';
import { Store } from '../../src/main/store/store';
import { cleanup, enc, osError, snapshot, tempDir, tempFiles, writeLine } from './helpers';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** The read-only checks, on a store whose every write fails. */
async function checkReadOnly(store: Store, ids: string[]): Promise<void> {
  // reading works: log, show, resolve, fsck
  const g = await store.listGraph();
  assert.equal(g.nodes.length, ids.length);
  assert.equal((await store.readState(ids[1])).step, 10);
  assert.equal(await store.resolveRef('main@0'), ids[0]);
  const report = await store.fsck();
  assert.deepEqual(report.problems, []);
  assert.equal(report.ok, true);
  // an existing checkpoint is found without writing
  assert.deepEqual(await store.putCheckpoint(enc(10), { parent: ids[0], step: 10 }), {
    id: ids[1],
    created: false,
  });
  // writing fails clearly
  const readOnly = (e: unknown): boolean => {
    assert.ok(e instanceof StoreWriteError, String(e));
    assert.match(e.message, /^store is read-only: cannot write .*\b(EACCES|EROFS|EPERM)\b/);
    assert.ok(e.message.includes(store.dir), 'names the path');
    return true;
  };
  await assert.rejects(store.putCheckpoint(enc(20), { parent: ids[1], step: 20 }), readOnly);
  await assert.rejects(store.updateBranch('main', { status: 'done' }), readOnly);
  await assert.rejects(store.putObject(new Uint8Array([1, 2, 3])), readOnly);
  await assert.rejects(store.gc(), readOnly);
  assert.deepEqual(tempFiles(store.dir), []);
}

for (const code of ['EROFS', 'EACCES']) {
  test(`read-only store via injected ${code} on every write: readable, writes fail clearly`, async () => {
    const dir = tempDir();
    try {
      const ids = await writeLine(await Store.open(dir), 'r', 'main', [0, 10]);
      const before = snapshot(dir);
      const store = await Store.open(dir, {
        faults: (_op, file) => {
          throw osError(code, file);
        },
      });
      await checkReadOnly(store, ids);
      assert.deepEqual(snapshot(dir), before);
    } finally {
      cleanup(dir);
    }
  });
}

test(
  'read-only store via chmod -R a-w',
  {
    skip: isRoot
      ? 'running as root, where chmod does not stop writes: covered by the injected EROFS/EACCES tests'
      : false,
  },
  async () => {
    const dir = tempDir();
    try {
      const ids = await writeLine(await Store.open(dir), 'r', 'main', [0, 10]);
      const before = snapshot(dir);
      execFileSync('chmod', ['-R', 'a-w', dir]);
      await checkReadOnly(await Store.open(dir), ids);
      assert.deepEqual(snapshot(dir), before);
    } finally {
      execFileSync('chmod', ['-R', 'u+w', dir]);
      cleanup(dir);
    }
  },
);

test('open: a store that cannot be created gives a clear StoreWriteError', async () => {
  const dir = tempDir();
  try {
    await assert.rejects(
      Store.open(path.join(dir, 'new-store'), {
        faults: (_op, file) => {
          throw osError('EACCES', file);
        },
      }),
      /^StoreWriteError: store is read-only: cannot write .*new-store/,
    );
    await assert.rejects(
      Store.open(path.join(dir, 'other'), {
        faults: (op, file) => {
          if (op === 'write') {
            throw osError('ENOSPC', file);
          }
        },
      }),
      /disk full while writing .*lockstep-store\.json/,
    );
    assert.deepEqual(tempFiles(dir), []);
  } finally {
    cleanup(dir);
  }
});

// fsync of a folder after a rename is best effort (the change is already visible), so a fault
// there is not a write failure and is not injected here
const WRITE_OPS = new Set<FsOp>(['mkdir', 'open', 'write', 'fsync', 'rename']);

/** Fails the nth disk-changing operation with ENOSPC; `hits` counts the operations seen. */
function enospcAt(n: number): { hook: FaultHook; seen: () => number } {
  let count = 0;
  return {
    hook: (op, file) => {
      if (WRITE_OPS.has(op) && ++count === n) {
        throw osError('ENOSPC', file);
      }
    },
    seen: () => count,
  };
}

/** Every file present before is unchanged; new files are only complete objects or a readable checkpoint. */
async function assertConsistent(
  dir: string,
  before: Map<string, string>,
  newId: string,
): Promise<boolean> {
  const store = await Store.open(dir);
  assert.deepEqual(tempFiles(dir), [], 'no temp file left');
  const after = snapshot(dir);
  for (const [f, h] of before) {
    assert.equal(after.get(f), h, `${f} unchanged`);
  }
  let nodeWritten = false;
  for (const f of after.keys()) {
    if (before.has(f)) {
      continue;
    }
    if (f.startsWith('objects' + path.sep)) {
      const id = f.split(path.sep).slice(1).join('');
      assert.equal(sha256Hex(readFileSync(path.join(dir, f))), id, `new object ${f} is complete`);
    } else if (f === path.relative(dir, store.layout.node(newId))) {
      nodeWritten = true;
      assert.equal((await store.readState(newId)).step, 20, 'a written node is fully readable');
    } else {
      assert.fail(`unexpected new file ${f}`);
    }
  }
  const report = await store.fsck();
  assert.deepEqual(report.problems, []);
  assert.equal(report.ok, true);
  return nodeWritten;
}

test('full disk: ENOSPC at every write position of putCheckpoint', async () => {
  const base = tempDir();
  const dirs: string[] = [];
  try {
    const ids = await writeLine(await Store.open(base), 'r', 'main', [0, 10]);
    const before = snapshot(base);
    const e = enc(20);
    let positions = 0;
    for (let n = 1; ; n++) {
      const dir = tempDir();
      dirs.push(dir);
      cpSync(base, dir, { recursive: true });
      const f = enospcAt(n);
      const store = await Store.open(dir, { faults: f.hook });
      let failed = false;
      try {
        await store.putCheckpoint(e, { parent: ids[1], step: 20 });
      } catch (err) {
        failed = true;
        assert.ok(err instanceof StoreWriteError, String(err));
        assert.match(err.message, /^disk full while writing .*\(ENOSPC\)$/);
        assert.ok(err.message.includes(dir), 'names the path');
      }
      if (f.seen() < n) {
        assert.equal(failed, false);
        break;
      }
      assert.equal(failed, true, `fault at position ${n} surfaced`);
      positions++;
      const nodeWritten = await assertConsistent(dir, before, e.id);
      // the write can be retried once there is space, and the result is the same checkpoint
      const again = await (await Store.open(dir)).putCheckpoint(e, { parent: ids[1], step: 20 });
      assert.deepEqual(again, { id: e.id, created: !nodeWritten });
      assert.equal((await (await Store.open(dir)).readState(e.id)).step, 20);
      cleanup(dir);
    }
    assert.ok(positions >= 12, `covered ${positions} write positions`);
  } finally {
    cleanup(base);
    dirs.forEach(cleanup);
  }
});

test('full disk: ENOSPC at every write position of updateBranch leaves the old or the new record', async () => {
  const dir = tempDir();
  try {
    const ids = await writeLine(await Store.open(dir), 'r', 'main', [0, 10]);
    for (let n = 1; ; n++) {
      const f = enospcAt(n);
      const store = await Store.open(dir, { faults: f.hook });
      const ok = await store.updateBranch('main', { tip: ids[0] }).then(
        () => true,
        (err: unknown) => {
          assert.match(String(err), /^StoreWriteError: disk full while writing/);
          return false;
        },
      );
      const clean = await Store.open(dir);
      assert.equal((await clean.getBranch('main')).tip, ok ? ids[0] : ids[1]);
      assert.deepEqual(tempFiles(dir), []);
      assert.equal(existsSync(clean.layout.lock), false, 'lock released');
      assert.equal((await clean.fsck()).ok, true);
      if (f.seen() < n) {
        break;
      }
      await clean.updateBranch('main', { tip: ids[1] });
    }
  } finally {
    cleanup(dir);
  }
});
