/**
 * The API's export and import paths (issue 20, "Also"): a page may not aim them at the store, nor
 * replace an existing file without an explicit `overwrite: true`; refusals write nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Store } from '../../src/main/store/store';
import { snapshot } from '../helpers/fs';
import { train } from '../helpers/service';
import { startService } from './helpers';

test('exportBundle refuses the store and an existing file without overwrite; importBundle refuses the store', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'lockstep-webpaths-'));
  const storeDir = path.join(dir, 'store');
  await train(await Store.open(storeDir), 'main', 5);
  const service = await startService(dir, { runner: 'inline' });
  try {
    const existing = path.join(dir, 'bashrc');
    writeFileSync(existing, 'keep me\n');
    const before = snapshot(storeDir);
    await assert.rejects(
      service.exportBundle({ ref: 'main', path: existing }),
      /already exists: confirm with overwrite: true/,
    );
    await assert.rejects(
      service.exportBundle({ ref: 'main', path: path.join(storeDir, 'refs', 'heads', 'main') }),
      /inside the Lockstep store/,
    );
    await assert.rejects(
      service.exportBundle({ ref: 'main', path: path.join(storeDir, 'objects', 'new.lockstep') }),
      /inside the Lockstep store/,
    );
    assert.equal(readFileSync(existing, 'utf8'), 'keep me\n');
    assert.deepEqual(snapshot(storeDir), before);
    // with the confirmation the same export is accepted (a job is started)
    const job = await service.exportBundle({ ref: 'main', path: existing, overwrite: true });
    assert.equal(job.kind, 'export');
    // a bundle lying inside the store is not imported from there
    const inStore = path.join(storeDir, 'x.lockstep');
    writeFileSync(inStore, 'PK');
    await assert.rejects(service.importBundle({ path: inStore }), /inside the Lockstep store/);
  } finally {
    await service.close();
    await rm(dir, { recursive: true, force: true });
  }
});
