/**
 * Bundles that carry a dataset (`export --with-data`) are untrusted input like any other: a
 * changed byte in the data, a record that does not name its data, data no checkpoint was trained
 * on, or a record whose size lies are refused before anything is written (the store stays
 * byte-identical); the honest bundle imports the dataset under its name, and importing it again
 * changes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { exportBundle } from '../../src/main/bundle/export';
import { importBundle } from '../../src/main/bundle/import';
import { BundleError } from '../../src/main/bundle/errors';
import { canonicalJson } from '../../src/main/engine/canonical-json';
import { sha256Hex } from '../../src/main/engine/state';
import { addDatasetFromFiles } from '../../src/main/service/datasets';
import { startRun } from '../../src/main/service/train';
import { listDatasets } from '../../src/main/store/datasets';
import { Store } from '../../src/main/store/store';
import { hashTree, rewriteBundle } from '../bundle/helpers';
import { fakeConfig, useTempDir } from '../helpers/fixtures';
import { writeCsv } from './helpers';

test(
  'a bundle carrying a dataset: hostile variants refused byte-identically, the honest one imported',
  {
    timeout: 300_000,
  },
  async (t) => {
    const dir = useTempDir(t, 'lockstep-data-bundle-');
    const A = await Store.open(join(dir, 'A'));
    const { record } = await addDatasetFromFiles(A, 'digits', writeCsv(join(dir, 'csv')));
    await startRun(A, {
      config: fakeConfig({ dataset: 'digits', batchSize: 20, seed: 2, backend: 'cpu' }),
      steps: 20,
      checkpointEvery: 10,
      evalEvery: 20,
      branch: 'd',
    });
    const good = join(dir, 'good.lockstep');
    await exportBundle(A, 'd', good, { withData: true });
    const plain = join(dir, 'plain.lockstep');
    await exportBundle(A, 'd', plain);

    const B = await Store.open(join(dir, 'B'));
    const before = await hashTree(B.dir);
    const refuse = async (
      name: string,
      change: Parameters<typeof rewriteBundle>[2],
      code: string,
      re: RegExp,
    ) => {
      const file = join(dir, `${name}.lockstep`);
      await rewriteBundle(good, file, change);
      await assert.rejects(importBundle(B, file), (e: unknown) => {
        assert.ok(e instanceof BundleError, String(e));
        assert.equal(e.code, code, e.message);
        assert.match(e.message, re);
        assert.ok(!e.message.includes('\n'));
        return true;
      });
      assert.deepEqual(await hashTree(B.dir), before, `${name} changed the store`);
    };
    const manifestOf = (entries: Map<string, Uint8Array>) =>
      JSON.parse(new TextDecoder().decode(entries.get('manifest.json')!)) as {
        datasets: { name: string; record: string; data: string }[];
        objects: { id: string; kind: string; bytes: number }[];
        nodes: unknown[];
      };
    const dataEntry = `objects/${record.digest}`;

    await refuse(
      'flipped',
      (e) => {
        const d = Uint8Array.from(e.get(dataEntry)!);
        d[d.length - 3] ^= 1;
        e.set(dataEntry, d);
      },
      'HASH_MISMATCH',
      new RegExp(`dataset object ${record.digest}`),
    );
    await refuse(
      'record-lies',
      (e) => {
        const m = manifestOf(e);
        const recId = m.datasets[0].record;
        const rec = JSON.parse(new TextDecoder().decode(e.get(`objects/${recId}`)!));
        const forged = new TextEncoder().encode(canonicalJson({ ...rec, name: 'other' }));
        const id = sha256Hex(forged);
        e.delete(`objects/${recId}`);
        e.set(`objects/${id}`, forged);
        m.datasets[0].record = id;
        m.objects = m.objects
          .map((o) => (o.id === recId ? { ...o, id, bytes: forged.length } : o))
          .sort((x, y) => (x.id < y.id ? -1 : 1));
        e.set('manifest.json', new TextEncoder().encode(JSON.stringify(m)));
      },
      'BAD_OBJECT',
      /dataset 'digits' in the bundle is invalid: its record does not name it/,
    );
    await refuse(
      'unused',
      (e) => {
        const m = manifestOf(e);
        m.datasets[0].name = 'unused';
        e.set('manifest.json', new TextEncoder().encode(JSON.stringify(m)));
      },
      'BAD_OBJECT',
      /dataset 'unused' in the bundle is invalid/,
    );
    await refuse(
      'size-lies',
      (e) => {
        const m = manifestOf(e);
        const recId = m.datasets[0].record;
        const rec = JSON.parse(new TextDecoder().decode(e.get(`objects/${recId}`)!));
        const forged = new TextEncoder().encode(canonicalJson({ ...rec, bytes: rec.bytes * 1000 }));
        const id = sha256Hex(forged);
        e.delete(`objects/${recId}`);
        e.set(`objects/${id}`, forged);
        m.datasets[0].record = id;
        m.objects = m.objects
          .map((o) => (o.id === recId ? { ...o, id, bytes: forged.length } : o))
          .sort((x, y) => (x.id < y.id ? -1 : 1));
        e.set('manifest.json', new TextEncoder().encode(JSON.stringify(m)));
      },
      'SIZE_MISMATCH',
      /its record says/,
    );

    // a bundle without data imports too, and needs nothing of the dataset to be read
    const r0 = await importBundle(B, plain);
    assert.deepEqual(r0.imported, ['d']);
    assert.deepEqual(await listDatasets(B), []);
    const r = await importBundle(B, good);
    assert.deepEqual(r.existing, ['d']);
    assert.deepEqual(
      (await listDatasets(B)).map((d) => [d.name, d.digest]),
      [['digits', record.digest]],
    );
    const again = await hashTree(B.dir);
    await importBundle(B, good);
    assert.deepEqual(await hashTree(B.dir), again, 'a repeated import changes nothing');
    assert.equal((await B.fsck()).ok, true);
  },
);
