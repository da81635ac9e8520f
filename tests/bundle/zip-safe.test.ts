/**
 * The hostile-input-safe zip reader and the deterministic writer. Every bad archive is crafted
 * here byte by byte (libraries refuse to write them) and must be refused with its own code.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, readdir, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { createDeflateRaw } from 'node:zlib';
import { craftZip, deflated, stored } from './craft-zip';
import {
  BundleError,
  checkEntryName,
  readZipSafely,
  writeZip,
  type BundleErrorCode,
  type ZipLimits,
} from '../../src/main/bundle/zip-safe';
import { removeDir, tempDir } from '../helpers/fixtures';

let dir = '';
before(async () => {
  dir = tempDir('lockstep-zip-');
});
after(async () => {
  removeDir(dir);
});

const LIMITS: ZipLimits = { maxEntries: 100, maxTotalBytes: 10 << 20, maxEntryBytes: 4 << 20 };

let counter = 0;
async function zipFile(bytes: Buffer | string): Promise<string> {
  const p = join(dir, `case-${counter++}.zip`);
  await writeFile(p, bytes);
  return p;
}

async function refused(
  bytes: Buffer | string,
  code: BundleErrorCode,
  message: RegExp,
  limits = LIMITS,
) {
  const p = await zipFile(bytes);
  await assert.rejects(readZipSafely(p, limits), (e: unknown) => {
    assert.ok(e instanceof BundleError, `expected a BundleError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

// ---- the helper itself makes valid zips -------------------------------------------------------

test('the hand-written assembler makes archives the reader accepts', async () => {
  const p = await zipFile(
    craftZip([
      stored('a.txt', 'alpha'),
      deflated('dir/b.bin', Buffer.alloc(5000, 7)),
      stored('c/', ''),
    ]),
  );
  const m = await readZipSafely(p, LIMITS);
  assert.deepEqual([...m.keys()], ['a.txt', 'dir/b.bin']);
  assert.equal(Buffer.from(m.get('a.txt')!).toString(), 'alpha');
  assert.deepEqual(Buffer.from(m.get('dir/b.bin')!), Buffer.alloc(5000, 7));
});

// ---- each hostile archive, each with its own refusal -----------------------------------------

test('not a zip, empty, truncated, corrupt', async () => {
  await refused('just some text, not an archive at all', 'NOT_A_ZIP', /not a zip file/);
  await refused(Buffer.alloc(0), 'NOT_A_ZIP', /is empty/);
  const good = craftZip([stored('a.txt', 'x'.repeat(1000)), stored('b.txt', 'y'.repeat(1000))]);
  await refused(good.subarray(0, 1500), 'TRUNCATED', /truncated/);
  const missing = await zipFile(good);
  await truncate(missing, good.length - 10);
  await assert.rejects(readZipSafely(missing, LIMITS), { code: 'TRUNCATED' });
  // a central directory that claims an entry whose data runs past the end of the file
  await refused(
    craftZip([stored('a.txt', 'abc', { compressedSize: 100000, uncompressedSize: 100000 })]),
    'TRUNCATED',
    /a\.txt.*truncated/,
  );
  // deflate data that is not deflate
  await refused(
    craftZip([
      {
        name: 'bad.bin',
        stored: Buffer.from([0xff, 0xff, 0xff, 0xff]),
        method: 8,
        uncompressedSize: 10,
      },
    ]),
    'CORRUPT',
    /bad\.bin.*damaged/,
  );
});

test('path escapes and bad names', async () => {
  await refused(
    craftZip([stored('/etc/passwd')]),
    'ABSOLUTE_PATH',
    /"\/etc\/passwd" is an absolute path/,
  );
  await refused(craftZip([stored('../evil.sh')]), 'PARENT_SEGMENT', /"\.\.\/evil\.sh" escapes/);
  await refused(craftZip([stored('objects/../../evil')]), 'PARENT_SEGMENT', /escapes/);
  await refused(craftZip([stored('objects\\..\\evil')]), 'BACKSLASH', /backslash/);
  await refused(craftZip([stored('C:/Windows/evil.dll')]), 'DRIVE_LETTER', /drive letter/);
  await refused(craftZip([stored(Buffer.from('ok\0.txt'))]), 'NUL_IN_NAME', /NUL/);
  await refused(craftZip([stored('a//b')]), 'BAD_NAME', /empty or "\." path segment/);
  await refused(craftZip([stored('./a')]), 'BAD_NAME', /empty or "\."/);
  await refused(craftZip([stored('bell\u0007')]), 'BAD_NAME', /control character/);
  await refused(craftZip([stored(Buffer.from([0x61, 0xff, 0x62]))]), 'BAD_NAME', /not valid UTF-8/);
  await refused(
    craftZip([stored(Buffer.from([0x61, 0xe9]), 'x', { flags: 0 })]),
    'BAD_NAME',
    /not flagged as UTF-8/,
  );
});

test('symlinks, special files, duplicates, overlaps, encryption, methods', async () => {
  await refused(
    craftZip([stored('link', '/etc/passwd', { externalAttr: (0o120777 << 16) >>> 0 })]),
    'SYMLINK',
    /"link" is a symbolic link/,
  );
  await refused(
    craftZip([stored('fifo', '', { externalAttr: (0o010644 << 16) >>> 0 })]),
    'SPECIAL_FILE',
    /not a regular file/,
  );
  await refused(
    craftZip([stored('same.txt', 'one'), stored('same.txt', 'two')]),
    'DUPLICATE_ENTRY',
    /"same\.txt" appears more than once/,
  );
  await refused(
    craftZip([stored('a.txt', 'data'), stored('b.txt', 'data', { sameLocalHeaderAs: 0 })]),
    'OVERLAPPING_ENTRIES',
    /"b\.txt" shares its data/,
  );
  await refused(
    craftZip([stored('secret.txt', 'xxxxxxxxxxxxhello', { flags: 0x801 })]),
    'ENCRYPTED',
    /"secret\.txt" is encrypted/,
  );
  await refused(
    craftZip([stored('bz.txt', 'hello', { method: 12 })]),
    'UNSUPPORTED_COMPRESSION',
    /method 12/,
  );
  await refused(
    craftZip([stored('crc.txt', 'hello', { crc: 0x12345678 })]),
    'CRC_MISMATCH',
    /"crc\.txt" is damaged: its CRC-32/,
  );
});

test('sizes that lie and limits', async () => {
  const data = Buffer.alloc(10000, 1);
  await refused(
    craftZip([deflated('big.bin', data, { uncompressedSize: 100 })]),
    'SIZE_MISMATCH',
    /inflates to more than its declared 100 bytes/,
  );
  await refused(
    craftZip([deflated('short.bin', data, { uncompressedSize: 20000 })]),
    'SIZE_MISMATCH',
    /has 10000 bytes but declares 20000/,
  );
  await refused(
    craftZip([stored('s.txt', 'hello', { uncompressedSize: 3 })]),
    'SIZE_MISMATCH',
    /stored with 5 bytes but declares 3/,
  );
  const five = ['a', 'b', 'c', 'd', 'e'].map((n) => stored(n));
  await refused(craftZip(five), 'TOO_MANY_ENTRIES', /5 entries, more than the limit of 4/, {
    ...LIMITS,
    maxEntries: 4,
  });
  await refused(
    craftZip([deflated('huge.bin', data)]),
    'ENTRY_TOO_LARGE',
    /"huge\.bin" declares 10000 bytes/,
    {
      ...LIMITS,
      maxEntryBytes: 9999,
    },
  );
  await refused(
    craftZip([deflated('x1', data), deflated('x2', data), deflated('x3', data)]),
    'TOTAL_TOO_LARGE',
    /more than the limit of 25000 bytes \(at entry "x3"\)/,
    { ...LIMITS, maxTotalBytes: 25000 },
  );
});

test('a 200 MB zip bomb with a small declared size is refused fast, without inflating it', async (t) => {
  // 200 MB of zeros, deflated in 1 MB pieces so the test itself never holds 200 MB
  const deflater = createDeflateRaw({ level: 9 });
  const out: Buffer[] = [];
  deflater.on('data', (c: Buffer) => out.push(c));
  const zeros = Buffer.alloc(1 << 20);
  for (let i = 0; i < 200; i++) {
    if (!deflater.write(zeros)) {
      await once(deflater, 'drain');
    }
  }
  deflater.end();
  await once(deflater, 'end');
  const bomb = Buffer.concat(out);
  assert.ok(bomb.length < 1 << 20, `bomb is ${bomb.length} bytes`);
  const entry = {
    name: 'objects/aa/bomb',
    stored: bomb,
    method: 8,
    crc: 0,
    uncompressedSize: 1000,
  };

  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2);
  const t0 = performance.now();
  try {
    await refused(
      craftZip([entry]),
      'SIZE_MISMATCH',
      /"objects\/aa\/bomb" inflates to more than its declared 1000 bytes/,
      {
        maxEntries: 10,
        maxTotalBytes: 1 << 30,
        maxEntryBytes: 1 << 30,
      },
    );
    // declared honestly, it is refused by the per-entry limit before any inflating
    await refused(
      craftZip([{ ...entry, uncompressedSize: 200 << 20 }]),
      'ENTRY_TOO_LARGE',
      /declares 209715200 bytes/,
    );
  } finally {
    clearInterval(sampler);
  }
  const ms = performance.now() - t0;
  peak = Math.max(peak, process.memoryUsage().rss);
  t.diagnostic(
    `refused in ${ms.toFixed(0)} ms, rss grew by ${((peak - rss0) / 2 ** 20).toFixed(1)} MB`,
  );
  assert.ok(ms < 2000, `took ${ms} ms`);
  assert.ok(peak - rss0 < 64 << 20, `rss grew by ${(peak - rss0) >> 20} MB`);
});

// ---- the writer -------------------------------------------------------------------------------

function lcgBytes(n: number, seed: number): Uint8Array {
  let s = seed >>> 0;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

const sampleEntries = () => [
  { name: 'README.md', data: new TextEncoder().encode('# a bundle\n') },
  { name: 'manifest.json', data: new TextEncoder().encode('{"version":1}') },
  { name: 'objects/ab/cdef', data: lcgBytes(3 << 20, 1) },
  { name: 'objects/00/zeros', data: new Uint8Array(100000) },
  { name: 'empty', data: new Uint8Array(0) },
];

test('writeZip round-trips, reports progress and is deterministic', async () => {
  const entries = sampleEntries();
  const a = join(dir, 'a.zip');
  const b = join(dir, 'b.zip');
  const progress: [number, number][] = [];
  await writeZip(a, entries, (done, total) => progress.push([done, total]));
  const total = entries.reduce((n, e) => n + e.data.length, 0);
  assert.deepEqual(progress[0], [0, total]);
  assert.deepEqual(progress.at(-1), [total, total]);
  assert.ok(progress.every(([d], i) => i === 0 || d >= progress[i - 1][0]));
  assert.ok(progress.length > 3);

  const m = await readZipSafely(a, LIMITS);
  assert.deepEqual(
    [...m.keys()],
    entries.map((e) => e.name),
  );
  for (const e of entries) {
    assert.deepEqual(Buffer.from(m.get(e.name)!), Buffer.from(e.data));
  }

  // same inputs, same bytes — also in another time zone
  const tz = process.env.TZ;
  process.env.TZ = 'Pacific/Kiritimati';
  try {
    await writeZip(b, sampleEntries());
  } finally {
    if (tz === undefined) {
      delete process.env.TZ;
    } else {
      process.env.TZ = tz;
    }
  }
  assert.deepEqual(await readFile(b), await readFile(a));
  // no temp files are left behind
  assert.deepEqual(
    (await readdir(dir)).filter((f) => f.includes('.tmp-')),
    [],
  );
  // overwrite is atomic-by-rename: the old file is replaced whole
  await writeZip(a, [{ name: 'x', data: new Uint8Array(3) }]);
  assert.deepEqual([...(await readZipSafely(a, LIMITS)).keys()], ['x']);
});

test('an independent reader (python3 zipfile) reads what writeZip wrote', async (t) => {
  const probe = spawnSync('python3', ['-c', 'import zipfile'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    t.skip('python3 is not available');
    return;
  }
  const p = join(dir, 'py.zip');
  const entries = sampleEntries();
  await writeZip(p, entries);
  const script = [
    'import sys, zipfile, hashlib, json',
    'z = zipfile.ZipFile(sys.argv[1])',
    'assert z.testzip() is None',
    'print(json.dumps([[i.filename, i.date_time[0], i.external_attr >> 16, hashlib.sha256(z.read(i)).hexdigest()] for i in z.infolist()]))',
  ].join('\n');
  const r = spawnSync('python3', ['-c', script, p], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as [string, number, number, string][];
  const { createHash } = await import('node:crypto');
  assert.deepEqual(
    rows,
    entries.map((e) => [e.name, 1980, 0o100644, createHash('sha256').update(e.data).digest('hex')]),
  );
});

test('writeZip refuses names the reader would refuse, and leaves nothing behind', async () => {
  const p = join(dir, 'bad-names.zip');
  await assert.rejects(writeZip(p, [{ name: '../x', data: new Uint8Array(1) }]), {
    code: 'PARENT_SEGMENT',
  });
  await assert.rejects(
    writeZip(p, [
      { name: 'a', data: new Uint8Array(1) },
      { name: 'a', data: new Uint8Array(1) },
    ]),
    { code: 'DUPLICATE_ENTRY' },
  );
  await assert.rejects(stat(p), { code: 'ENOENT' });
  assert.doesNotThrow(() => checkEntryName('objects/ab/cdef0123'));
});

test('a file that is not there', async () => {
  await assert.rejects(readZipSafely(join(dir, 'nope.zip'), LIMITS), {
    code: 'NOT_A_ZIP',
    message: /cannot open .*ENOENT/,
  });
  await assert.rejects(readZipSafely(dir, LIMITS), { code: 'NOT_A_ZIP', message: /EISDIR/ });
});
