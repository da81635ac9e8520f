/**
 * A store written by the code of 2026-11-30 (before the shared record schemas and name rules;
 * tests/store/fixtures/store-2026-11, made by make-store-2026-11.ts) still reads, fscks clean,
 * verifies by replay, and exports a bundle that imports and verifies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import path from 'node:path';
import { exportBundle } from '../../src/main/bundle/export';
import { importBundle } from '../../src/main/bundle/import';
import { verifyBundle } from '../../src/main/bundle/verify';
import { graphView } from '../../src/main/service/inspect';
import { verifyRef } from '../../src/main/service/verify';
import { Store } from '../../src/main/store/store';
import { cleanup, snapshot, tempDir } from './helpers';

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'store-2026-11');

test(
  'the 2026-11 fixture store reads, fscks clean and verifies; its bundle imports and verifies',
  { timeout: 300_000 },
  async () => {
    const dir = tempDir();
    try {
      const copy = path.join(dir, 'store');
      cpSync(FIXTURE, copy, { recursive: true });
      const store = await Store.open(copy, { create: false });
      const fsck = await store.fsck();
      assert.equal(fsck.ok, true, JSON.stringify(fsck.problems));
      assert.equal(fsck.problems.length, 0);
      const graph = await store.listGraph();
      assert.deepEqual(graph.branches.map((b) => b.name).sort(), ['lr-0.2', 'main']);
      assert.equal(graph.runs.length, 1);
      const view = await graphView(store);
      assert.equal(view[0].branches.length, 2);
      assert.equal((await store.getNode(await store.resolveRef('main@40'))).step, 40);
      for (const ref of ['main', 'lr-0.2']) {
        const r = await verifyRef(store, ref);
        assert.equal(r.verified, true, `${ref}: ${JSON.stringify(r.firstMismatch)}`);
      }
      const bundle = path.join(dir, 'fixture.lockstep');
      await exportBundle(store, 'main', bundle);
      const report = await verifyBundle(bundle);
      assert.equal(report.verified, true, JSON.stringify(report.firstMismatch));
      const other = await Store.open(path.join(dir, 'other'));
      await importBundle(other, bundle);
      const again = snapshot(path.join(dir, 'other'));
      const second = await importBundle(other, bundle);
      assert.deepEqual(second.imported, []);
      assert.deepEqual(snapshot(path.join(dir, 'other')), again);
    } finally {
      cleanup(dir);
    }
  },
);
