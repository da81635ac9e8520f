/**
 * readIfExists (src/main/store/fsutil.ts), the store's one way to read a file: the same answer for
 * a file read synchronously (at most SYNC_READ_BYTES) and for a larger one read through the
 * thread pool — the bytes, null for a missing file, and a StoreCorruptError naming the file for a
 * symbolic link, a folder or a file over the caller's limit.
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { StoreCorruptError } from '../../src/main/store/api';
import { readIfExists, SYNC_READ_BYTES } from '../../src/main/store/fsutil';
import { removeDir, tempDir } from '../helpers/fixtures';

test('small and large files: bytes, missing, links, folders and limits', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  for (const size of [0, 1, 4095, SYNC_READ_BYTES, SYNC_READ_BYTES + 1, 3 * SYNC_READ_BYTES]) {
    const file = join(dir, `f${size}`);
    const bytes = new Uint8Array(size).map((_, i) => (i * 7 + size) & 255);
    writeFileSync(file, bytes);
    assert.deepEqual(await readIfExists(file), bytes, `${size} bytes`);
    assert.deepEqual(await readIfExists(file, size), bytes, `${size} bytes, limit ${size}`);
    if (size > 0) {
      await assert.rejects(
        readIfExists(file, size - 1),
        (e) => e instanceof StoreCorruptError && e.message === `${file} is oversized: ${size} bytes, more than the ${size - 1} the store reads`, // prettier-ignore
      );
    }
    const link = join(dir, `link${size}`);
    symlinkSync(file, link);
    await assert.rejects(
      readIfExists(link),
      (e) => e instanceof StoreCorruptError && /is a symbolic link; a store holds no links$/.test(e.message), // prettier-ignore
    );
  }
  assert.equal(await readIfExists(join(dir, 'missing')), null);
  assert.equal(await readIfExists(join(dir, 'f1', 'below-a-file')), null);
  mkdirSync(join(dir, 'folder'));
  await assert.rejects(
    readIfExists(join(dir, 'folder')),
    (e) => e instanceof StoreCorruptError && / is not a regular file$/.test(e.message),
  );
});
