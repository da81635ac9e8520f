/**
 * Bundle memory (issue 20): `verify` of a bundle holding one honestly declared 600 MiB entry (a
 * 600 KiB file: deflated zeros with a true CRC) stays far below the entry's size, because the
 * central directory is checked against manifest.json before any object is inflated. Measured in
 * a child process (its peak RSS), so the test process's own heap does not count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, crc32, createDeflateRaw } from 'node:zlib';
import { craftZip, stored } from './craft-zip';
import { ROOT } from './helpers';

const SIZE = 600 * 2 ** 20;

/** Deflates SIZE zero bytes in 1 MiB chunks; returns the compressed bytes and their CRC-32. */
async function deflatedZeros(): Promise<{ data: Buffer; crc: number }> {
  const chunk = Buffer.alloc(2 ** 20);
  let crc = 0;
  const out: Buffer[] = [];
  const z = createDeflateRaw({ level: 1, strategy: constants.Z_DEFAULT_STRATEGY });
  z.on('data', (b: Buffer) => out.push(b));
  const done = new Promise<void>((resolve, reject) => {
    z.on('end', resolve);
    z.on('error', reject);
  });
  for (let i = 0; i < SIZE / chunk.length; i++) {
    crc = crc32(chunk, crc);
    if (!z.write(chunk)) {
      await new Promise((r) => z.once('drain', r));
    }
  }
  z.end();
  await done;
  return { data: Buffer.concat(out), crc: crc >>> 0 };
}

test(
  'verify of a bundle with a 600 MiB entry the manifest does not list stays under 300 MB RSS',
  { timeout: 300_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lockstep-memory-'));
    try {
      const { data, crc } = await deflatedZeros();
      const id = 'a'.repeat(64);
      const manifest = JSON.stringify({ format: 'lockstep/bundle@1' });
      const file = join(dir, 'big.lockstep');
      await writeFile(
        file,
        craftZip([
          { name: `objects/${id}`, stored: data, method: 8, crc, uncompressedSize: SIZE },
          stored('manifest.json', manifest),
        ]),
      );
      const script = `
      const { verifyBundle } = await import(${JSON.stringify(join(ROOT, 'src/main/bundle/verify.ts'))});
      let outcome;
      try { outcome = await verifyBundle(${JSON.stringify(file)}); } catch (e) { outcome = e.code + ': ' + e.message; }
      console.log(JSON.stringify({ outcome, maxRssKiB: process.resourceUsage().maxRSS }));
    `;
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        {
          cwd: ROOT,
          encoding: 'utf8',
          timeout: 240_000,
        },
      );
      const line = r.stdout.trim().split('\n').pop() ?? '';
      const out = JSON.parse(line) as { outcome: unknown; maxRssKiB: number };
      assert.match(String(out.outcome), /^(NOT_A_BUNDLE|BAD_MANIFEST|UNEXPECTED_ENTRY)/, line);
      assert.ok(out.maxRssKiB < 300 * 1024, `peak RSS ${Math.round(out.maxRssKiB / 1024)} MB`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
