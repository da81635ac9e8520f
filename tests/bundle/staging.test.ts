/**
 * Import's second pass (issue 20): objects are staged and committed only when all are staged, so
 * a failure before the commit leaves the store byte-identical — a disk that fills while objects
 * are staged, or a bundle file replaced between the check and the import (the objects are read
 * again and re-checked against their ids: the new bytes are refused, not imported).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BundleError } from '../../src/main/bundle/errors';
import { exportBundle } from '../../src/main/bundle/export';
import { importReadBundle } from '../../src/main/bundle/import';
import { readBundle } from '../../src/main/bundle/read';
import { StoreWriteError } from '../../src/main/store/api';
import { Store } from '../../src/main/store/store';
import { useTempDir } from '../helpers/fixtures';
import { hashTree, rewriteBundle, trainSmall } from './helpers';

test('a disk full while staging, or a bundle changed after its check: the store is unchanged', async (t) => {
  const dir = useTempDir(t, 'lockstep-staging-');
  const source = await Store.open(join(dir, 'source'));
  await trainSmall(source, 'main');
  const good = join(dir, 'good.lockstep');
  await exportBundle(source, 'main', good);

  let writes = 0;
  let failAfter = Infinity;
  const target = await Store.open(join(dir, 'target'), {
    faults: (op, file) => {
      if (op === 'write' && file.includes(`${join('objects', '.tmp-')}`) && ++writes > failAfter) {
        throw Object.assign(new Error('no space left'), { code: 'ENOSPC' });
      }
    },
  });
  const before = await hashTree(target.dir);

  writes = 0;
  failAfter = 3;
  await assert.rejects(importReadBundle(target, await readBundle(good)), StoreWriteError);
  assert.ok(writes > 3, 'objects were being staged when the disk filled');
  assert.deepEqual(await hashTree(target.dir), before, 'nothing staged is left, nothing committed');
  failAfter = Infinity;

  // the file is checked, then replaced by one with a changed blob before the objects are read
  const file = join(dir, 'swapped.lockstep');
  await copyFile(good, file);
  const checked = await readBundle(file);
  const blob = checked.checkpoints[checked.checkpoints.length - 1].blobId;
  await rewriteBundle(good, file, (entries) => {
    const data = Uint8Array.from(entries.get(`objects/${blob}`)!);
    data[data.length - 1] ^= 1;
    entries.set(`objects/${blob}`, data);
  });
  await assert.rejects(importReadBundle(target, checked), (e: unknown) => {
    assert.ok(e instanceof BundleError && e.code === 'HASH_MISMATCH', String(e));
    assert.match(e.message, /changed while it was read/);
    return true;
  });
  assert.deepEqual(await hashTree(target.dir), before);

  // and the honest import goes through
  const r = await importReadBundle(target, await readBundle(good));
  assert.deepEqual(r.imported, ['main']);
  assert.equal((await target.fsck()).ok, true);
});
