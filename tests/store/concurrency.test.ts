/** Concurrency: two writer processes in one store; stale and live locks. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { utimesSync, writeFileSync, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { StoreWriteError } from '../../src/main/store/api';
import { Store } from '../../src/main/store/store';
import { branchRecord, cleanup, runRecord, enc, tempDir, writeLine } from './helpers';

const WRITER = path.join(import.meta.dirname, 'fixtures', 'writer.ts');

function runWriter(
  dir: string,
  tag: number,
  count: number,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', WRITER, dir, String(tag), String(count)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  return Number(r.stdout.trim());
}

test(
  'two processes writing into one store at once both succeed; fsck is clean',
  { timeout: 120000 },
  async () => {
    const dir = tempDir();
    try {
      const store = await Store.open(dir);
      const { id: root } = await store.putCheckpoint(enc(0, 50), { parent: null, step: 0 });
      await store.createRun(runRecord('run-shared', root));
      await store.createBranch(branchRecord('shared', 'run-shared', root));

      const COUNT = 20;
      const results = await Promise.all([runWriter(dir, 1, COUNT), runWriter(dir, 2, COUNT)]);
      for (const r of results) {
        assert.equal(r.code, 0, r.err);
      }
      const outs = results.map(
        (r) => JSON.parse(r.out.trim().split('\n').pop()!) as { tag: number; ids: string[] },
      );
      const report = await store.fsck();
      assert.deepEqual(report.problems, []);
      assert.equal(report.ok, true);
      for (const o of outs) {
        const b = await store.getBranch(`w-${o.tag}`);
        assert.equal(b.tip, o.ids[COUNT]);
        assert.equal(b.status, 'done');
        const lin = await store.lineage(b.tip);
        assert.deepEqual(
          lin.map((n) => n.id),
          o.ids,
        );
        for (const n of lin) {
          assert.ok(n.eval?.test, `annotation of ${n.id} kept`);
        }
        assert.equal((await store.readState(b.tip)).step, COUNT);
      }
      const info = await store.storeInfo();
      // nodes: shared root + common + 2 × (COUNT + 1)
      assert.equal((await store.listNodeIds()).length, 2 + 2 * (COUNT + 1));
      assert.equal(info.runs, 3);
      assert.equal(info.branches, 3);
      const shared = await store.getBranch('shared');
      assert.ok([outs[0].ids[COUNT], outs[1].ids[COUNT]].includes(shared.tip));
      assert.equal(existsSync(store.layout.lock), false, 'no lock left behind');
    } finally {
      cleanup(dir);
    }
  },
);

test('a stale lock of a dead process is recovered; fsck reports it without removing it', async () => {
  const dir = tempDir();
  try {
    const store = await Store.open(dir, { lockTimeoutMs: 2000 });
    const ids = await writeLine(store, 'r', 'main', [0, 1]);
    const pid = deadPid();
    const lock = { pid, host: hostname(), time: new Date().toISOString() };
    writeFileSync(store.layout.lock, JSON.stringify(lock));
    const report = await store.fsck();
    assert.equal(report.ok, true);
    assert.deepEqual(
      report.problems.map((p) => p.kind),
      ['lock'],
    );
    assert.match(report.problems[0].message, new RegExp(`stale writer lock left by pid ${pid}`));
    assert.equal(existsSync(store.layout.lock), true, 'fsck leaves the lock');
    const t0 = Date.now();
    await store.updateBranch('main', { tip: ids[0] });
    assert.ok(Date.now() - t0 < 1500, 'recovered without waiting for the timeout');
    assert.equal(existsSync(store.layout.lock), false);
    // an unreadable lock (crash between create and write) is stale once it is old
    writeFileSync(store.layout.lock, '');
    const old = new Date(Date.now() - 60000);
    utimesSync(store.layout.lock, old, old);
    await store.updateBranch('main', { tip: ids[1] });
    assert.equal((await store.getBranch('main')).tip, ids[1]);
  } finally {
    cleanup(dir);
  }
});

test(
  'a live lock makes a writer wait, then fail with a clear message',
  { timeout: 30000 },
  async () => {
    const dir = tempDir();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], {
      stdio: 'ignore',
    });
    try {
      const store = await Store.open(dir, { lockTimeoutMs: 300 });
      await writeLine(store, 'r', 'main', [0]);
      writeFileSync(
        store.layout.lock,
        JSON.stringify({ pid: child.pid, host: hostname(), time: 'T' }),
      );
      const t0 = Date.now();
      await assert.rejects(store.updateBranch('main', { status: 'done' }), (e: unknown) => {
        assert.ok(e instanceof StoreWriteError);
        assert.match(
          e.message,
          new RegExp(`store is locked by pid ${child.pid} on host .* since T; waited 300 ms`),
        );
        assert.match(e.message, /delete that file/);
        return true;
      });
      assert.ok(Date.now() - t0 >= 290);
      // a lock held by another host is never broken
      writeFileSync(
        store.layout.lock,
        JSON.stringify({ pid: 1, host: 'elsewhere.invalid', time: 'T' }),
      );
      await assert.rejects(
        store.updateBranch('main', { status: 'done' }),
        /locked by pid 1 on host elsewhere\.invalid/,
      );
      // once the holder is gone, the lock is stale and the next writer proceeds
      writeFileSync(
        store.layout.lock,
        JSON.stringify({ pid: child.pid, host: hostname(), time: 'T' }),
      );
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      await store.updateBranch('main', { status: 'done' });
      assert.equal((await store.getBranch('main')).status, 'done');
    } finally {
      child.kill('SIGKILL');
      cleanup(dir);
    }
  },
);

test('operations of one process on one store are serialized, not deadlocked', async () => {
  const dir = tempDir();
  try {
    const store = await Store.open(dir);
    const ids = await writeLine(store, 'r', 'main', [0]);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        i % 2 === 0
          ? store.annotateNode(ids[0], { verified: String(i) })
          : store.updateBranch('main', { note: String(i) }),
      ),
    );
    assert.equal((await store.fsck()).ok, true);
  } finally {
    cleanup(dir);
  }
});

test(
  'storeInfo, fsck and gc while another process writes: a temp file gone between the listing and its stat is skipped, not an error',
  { timeout: 60000 },
  async () => {
    const dir = tempDir();
    try {
      const store = await Store.open(dir);
      await writeLine(store, 'r', 'main', [0, 10]);
      // another process's temp files coming and going in objects/ (as a job writing checkpoints
      // makes them), in a folder of their own and beside the folders, as fast as it can
      const folder = path.join(store.layout.objects, 'ab');
      const churn = spawn(
        process.execPath,
        [
          '-e',
          `const fs = require('node:fs');
           fs.mkdirSync(${JSON.stringify(folder)}, { recursive: true });
           const names = [${JSON.stringify(folder)}, ${JSON.stringify(store.layout.objects)}]
             .map((d) => d + '/.tmp-' + process.pid + '-churn');
           const end = Date.now() + 20000;
           for (let i = 0; Date.now() < end; i++) {
             const f = names[i % 2];
             fs.writeFileSync(f, 'x');
             fs.unlinkSync(f);
           }`,
        ],
        { stdio: 'ignore' },
      );
      try {
        const errors: string[] = [];
        let reads = 0;
        const until = Date.now() + 3000;
        while (Date.now() < until) {
          for (const read of [
            () => store.storeInfo(),
            () => store.fsck(),
            () => store.gc({ graceMs: 3_600_000 }),
          ]) {
            try {
              await read();
            } catch (e) {
              errors.push(String(e));
            }
            reads++;
          }
        }
        assert.ok(reads > 30, `${reads} reads`);
        assert.deepEqual(errors.slice(0, 3), [], `${errors.length} of ${reads} reads failed`);
      } finally {
        churn.kill('SIGKILL');
      }
      assert.equal((await store.storeInfo()).runs, 1);
    } finally {
      cleanup(dir);
    }
  },
);
