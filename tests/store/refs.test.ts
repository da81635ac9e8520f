/** Refs, branches and runs: resolution forms, name validation, CAS, lineage. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RefError, StoreConflictError } from '../../src/main/store/api';
import { branchNameProblem } from '../../src/main/store/layout';
import { Store } from '../../src/main/store/store';
import { branchRecord, cleanup, enc, runRecord, tempDir, writeLine } from './helpers';

async function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
  const dir = tempDir();
  try {
    await fn(await Store.open(dir));
  } finally {
    cleanup(dir);
  }
}

test('resolveRef: full id, prefix ≥ 8, branch, branch@N, unknown', () =>
  withStore(async (store) => {
    const ids = await writeLine(store, 'r1', 'main', [0, 100, 200, 300]);
    const tip = ids[3];
    assert.equal(await store.resolveRef(tip), tip);
    assert.equal(await store.resolveRef(tip.toUpperCase()), tip);
    assert.equal(await store.resolveRef(tip.slice(0, 8)), tip);
    assert.equal(await store.resolveRef(tip.slice(0, 20)), tip);
    assert.equal(await store.resolveRef('main'), tip);
    assert.equal(await store.resolveRef('main@0'), ids[0]);
    assert.equal(await store.resolveRef('main@200'), ids[2]);
    await assert.rejects(store.resolveRef('main@150'), (e: unknown) => {
      assert.ok(e instanceof RefError);
      assert.match(e.message, /no checkpoint at step 150 on branch 'main'/);
      assert.match(e.message, /nearest stored steps: 0, 100, 200, 300/);
      return true;
    });
    await assert.rejects(store.resolveRef('main@x'), /expected <branch>@<step>/);
    await assert.rejects(store.resolveRef('nobranch@1'), /unknown branch 'nobranch'/);
    await assert.rejects(store.resolveRef('nothing'), /^RefError: unknown ref 'nothing'$/m);
    await assert.rejects(store.resolveRef(tip.slice(0, 7)), /needs at least 8 hex digits/);
    await assert.rejects(store.resolveRef('0'.repeat(64)), /unknown ref/);
    await assert.rejects(store.resolveRef(''), /empty ref/);
  }));

test('resolveRef: an ambiguous prefix lists the candidates', () =>
  withStore(async (store) => {
    const ids = [(await store.putCheckpoint(enc(0, 5), { parent: null, step: 0 })).id];
    // copy a node record under a name sharing an 8-digit prefix with ids[0] (a real collision
    // of 8 hex digits would take ~2^32 states); the manifest object must exist too
    const { copyFileSync, mkdirSync } = await import('node:fs');
    const twin = ids[0].slice(0, 8) + 'f'.repeat(56);
    mkdirSync(store.layout.objects + '/' + twin.slice(0, 2), { recursive: true });
    copyFileSync(store.layout.object(ids[0]), store.layout.object(twin));
    copyFileSync(store.layout.node(ids[0]), store.layout.node(twin));
    await assert.rejects(store.resolveRef(ids[0].slice(0, 8)), (e: unknown) => {
      assert.ok(e instanceof RefError);
      assert.match(e.message, /ambiguous ref '.{8}': it is a prefix of 2 checkpoints/);
      assert.ok(e.message.includes(ids[0]) && e.message.includes(twin));
      return true;
    });
    assert.equal(await store.resolveRef(ids[0].slice(0, 9)), ids[0]);
  }));

test('branch names are validated like git refs', () =>
  withStore(async (store) => {
    for (const ok of ['main', 'lr-0.01', 'exp/adam/b1', 'A_b.c', 'x'.repeat(100)]) {
      assert.equal(branchNameProblem(ok), null, ok);
    }
    const bad: [string, RegExp][] = [
      ['', /empty/],
      ['a..b', /'\.\.'/],
      ['-x', /starts with '-'/],
      ['a b', /whitespace/],
      ['a\tb', /whitespace or a control/],
      ['a@1', /'@'/],
      ['a~1', /'~'/],
      ['a^', /'\^'/],
      ['a:b', /':'/],
      ['a?', /'\?'/],
      ['a*', /'\*'/],
      ['a[', /'\['/],
      ['a\\b', /'\\'/],
      ['x'.repeat(101), /longer than 100/],
      ['/a', /empty/],
      ['a/', /empty/],
      ['a//b', /empty/],
      ['.hidden', /starts with '\.'/],
      ['a/.b', /starts with '\.'/],
      ['a.lock', /\.lock/],
      ['a.', /ends with '\.'/],
      ['con', /reserved device/],
    ];
    const ids = await writeLine(store, 'r1', 'main', [0]);
    for (const [name, why] of bad) {
      assert.match(branchNameProblem(name) ?? '', why, JSON.stringify(name));
      await assert.rejects(store.createBranch(branchRecord(name, 'r1', ids[0])), (e: unknown) => {
        assert.ok(e instanceof RefError, name);
        assert.match(e.message, /^invalid branch name/);
        return true;
      });
    }
  }));

test('createBranch: existing names, namespace conflicts, unknown refs; uniqueBranchName', () =>
  withStore(async (store) => {
    const ids = await writeLine(store, 'r1', 'main', [0, 10]);
    await assert.rejects(
      store.createBranch(branchRecord('main', 'r1', ids[0])),
      /branch 'main' already exists/,
    );
    await store.createBranch(branchRecord('exp/a', 'r1', ids[1], ids[0]));
    await assert.rejects(
      store.createBranch(branchRecord('exp', 'r1', ids[0])),
      /branches exist under 'exp\/'/,
    );
    await assert.rejects(
      store.createBranch(branchRecord('main/x', 'r1', ids[0])),
      /branch 'main' exists/,
    );
    await assert.rejects(
      store.createBranch(branchRecord('b', 'r1', 'c'.repeat(64))),
      /not a checkpoint/,
    );
    await assert.rejects(
      store.createBranch(branchRecord('b', 'nope', ids[0])),
      /unknown run 'nope'/,
    );
    assert.equal(await store.uniqueBranchName('fresh'), 'fresh');
    assert.equal(await store.uniqueBranchName('main'), 'main-2');
    await store.createBranch(branchRecord('main-2', 'r1', ids[0]));
    assert.equal(await store.uniqueBranchName('main'), 'main-3');
    assert.deepEqual(
      (await store.listBranches()).map((b) => b.name),
      ['exp/a', 'main', 'main-2'],
    );
    assert.equal(await store.resolveRef('exp/a'), ids[1]);
    await store.deleteBranch('main-2');
    assert.equal(await store.uniqueBranchName('main'), 'main-2');
    await assert.rejects(store.getBranch('main-2'), /unknown branch/);
  }));

test('updateBranch: compare-and-swap, status and note, refuses a tip that is not a checkpoint', () =>
  withStore(async (store) => {
    const ids = await writeLine(store, 'r1', 'main', [0, 10]);
    const { id: other } = await store.putCheckpoint(enc(20), { parent: ids[1], step: 20 });
    await assert.rejects(store.updateBranch('main', { tip: other }, ids[0]), (e: unknown) => {
      assert.ok(e instanceof StoreConflictError);
      assert.match(e.message, /branch 'main' moved/);
      return true;
    });
    assert.equal((await store.getBranch('main')).tip, ids[1]);
    const b = await store.updateBranch('main', { tip: other, status: 'done', note: 'ok' }, ids[1]);
    assert.equal(b.tip, other);
    assert.deepEqual((await store.getBranch('main')).status, 'done');
    assert.equal((await store.getBranch('main')).note, 'ok');
    await assert.rejects(
      store.updateBranch('main', { tip: 'e'.repeat(64) }),
      /is not a checkpoint/,
    );
    await assert.rejects(store.updateBranch('ghost', { status: 'done' }), /unknown branch 'ghost'/);
  }));

test('runs: create, get, list, duplicates refused', () =>
  withStore(async (store) => {
    const { id } = await store.putCheckpoint(enc(0), { parent: null, step: 0 });
    await store.createRun(runRecord('run-1', id));
    await assert.rejects(store.createRun(runRecord('run-1', id)), /run 'run-1' already exists/);
    await assert.rejects(store.createRun(runRecord('../evil', id)), /invalid run id/);
    await assert.rejects(store.createRun(runRecord('r2', 'f'.repeat(64))), /not a checkpoint/);
    assert.equal((await store.getRun('run-1')).root, id);
    assert.deepEqual(
      (await store.listRuns()).map((r) => r.id),
      ['run-1'],
    );
    await assert.rejects(store.getRun('nope'), /unknown run 'nope'/);
  }));

test('lineage and listGraph follow parents across a branch point', () =>
  withStore(async (store) => {
    const main = await writeLine(store, 'r1', 'main', [0, 10, 20]);
    const { id: fork } = await store.putCheckpoint(enc(20, 9), { parent: main[1], step: 20 });
    await store.createBranch(branchRecord('lr-high', 'r1', fork, main[1]));
    const lin = await store.lineage(fork);
    assert.deepEqual(
      lin.map((n) => n.id),
      [main[0], main[1], fork],
    );
    assert.equal(await store.resolveRef('lr-high@10'), main[1]);
    const g = await store.listGraph();
    assert.equal(g.nodes.length, 4);
    assert.deepEqual(
      g.branches.map((b) => b.name),
      ['lr-high', 'main'],
    );
    assert.equal(g.runs.length, 1);
  }));
