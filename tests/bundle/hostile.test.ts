/**
 * Hostile and damaged bundles. Every bad bundle is generated here (none is downloaded): a good
 * bundle from a real run, rewritten through writeZip (so zip CRCs are consistent and only the
 * bundle's own checks can catch a change), or crafted byte by byte. Each is refused with its own
 * clear message — through the CLI, exit 2 and one line on stderr — and the store is byte-for-byte
 * unchanged.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { BundleError } from '../../src/main/bundle/errors';
import { exportBundle } from '../../src/main/bundle/export';
import { importBundle } from '../../src/main/bundle/import';
import { readBundle } from '../../src/main/bundle/read';
import { verifyBundle } from '../../src/main/bundle/verify';
import { Store } from '../../src/main/store/store';
import { craftZip, deflated, stored } from './craft-zip';
import { bundleObjects, cli, hashTree, rewriteBundle, trainSmall } from './helpers';
import { removeDir, tempDir } from '../helpers/fixtures';

let dir = '';
let storeDir = '';
let store: Store;
let good = '';
let goodEntries: Map<string, Uint8Array>;
before(async () => {
  dir = tempDir('lockstep-hostile-');
  storeDir = join(dir, 'store');
  const source = await Store.open(join(dir, 'source'));
  await trainSmall(source, 'main');
  good = join(dir, 'good.lockstep');
  await exportBundle(source, 'main', good);
  goodEntries = await bundleObjects(good);
  // the target store already has a run of its own
  store = await Store.open(storeDir);
  await trainSmall(store, 'mine');
});
after(async () => {
  removeDir(dir);
});

const manifestOf = async (): Promise<Record<string, unknown>> => {
  const b = await readBundle(good);
  return JSON.parse(JSON.stringify(b.manifest)) as Record<string, unknown>;
};
const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

test('one changed byte in any object: import refuses and names it, verify fails and names it', async () => {
  const ids = [...goodEntries.keys()];
  assert.ok(ids.length >= 10, 'manifests, blobs and traces');
  const before = await hashTree(storeDir);
  for (const id of ids) {
    const bad = join(dir, `tampered-${id.slice(0, 8)}.lockstep`);
    await rewriteBundle(good, bad, (entries) => {
      const data = Uint8Array.from(entries.get(`objects/${id}`)!);
      data[data.length >> 1] ^= 0x01;
      entries.set(`objects/${id}`, data);
    });
    await assert.rejects(importBundle(store, bad), (e: unknown) => {
      assert.ok(e instanceof BundleError, String(e));
      assert.equal(e.code, 'HASH_MISMATCH');
      assert.ok(e.message.includes(id), e.message);
      assert.equal(e.detail.object, id);
      return true;
    });
    const report = await verifyBundle(bad);
    assert.equal(report.verified, false);
    assert.ok(report.firstMismatch?.detail.includes(id), JSON.stringify(report));
    assert.ok(report.firstMismatch?.checkpoint, 'names the checkpoint that needs it');
  }
  assert.deepEqual(await hashTree(storeDir), before);
});

/** The bad bundles, each with the message the CLI must print. */
async function badBundles(): Promise<{ name: string; file: string; message: RegExp }[]> {
  const cases: { name: string; bytes: Buffer | Uint8Array; message: RegExp }[] = [];
  const manifest = Buffer.from(enc(await manifestOf()));
  const withManifest = (...more: ReturnType<typeof stored>[]) =>
    craftZip([stored('manifest.json', manifest.toString('latin1')), ...more]);
  cases.push({
    name: 'parent-escape',
    bytes: withManifest(stored('../../evil.sh', '#!/bin/sh')),
    message: /"\.\.\/\.\.\/evil\.sh" escapes the bundle/,
  });
  cases.push({
    name: 'absolute',
    bytes: withManifest(stored('/tmp/evil', 'x')),
    message: /"\/tmp\/evil" is an absolute path/,
  });
  cases.push({
    name: 'symlink',
    bytes: withManifest(
      stored('objects/link', '/etc/passwd', { externalAttr: (0o120777 << 16) >>> 0 }),
    ),
    message: /"objects\/link" is a symbolic link/,
  });
  const zeros = Buffer.alloc(1 << 20);
  cases.push({
    name: 'bigger-than-declared',
    bytes: craftZip([deflated('manifest.json', zeros, { uncompressedSize: 1000 })]),
    message: /inflates to more than its declared 1000 bytes/,
  });
  const fakeBig = deflateRawSync(Buffer.alloc(1000));
  cases.push({
    name: 'total-cap',
    bytes: craftZip([
      stored('README.txt', 'hello'),
      { name: 'objects/huge', stored: fakeBig, method: 8, crc: 0, uncompressedSize: 2 ** 31 - 1 },
    ]),
    message: /holds more than the limit of 2147483648 bytes/,
  });
  cases.push({
    name: 'entry-cap',
    bytes: craftZip([
      { name: 'objects/huge', stored: fakeBig, method: 8, crc: 0, uncompressedSize: 3e9 },
    ]),
    message: /"objects\/huge" declares 3000000000 bytes, more than the limit/,
  });
  cases.push({
    name: 'duplicate',
    bytes: withManifest(stored('manifest.json', '{}')),
    message: /"manifest\.json" appears more than once/,
  });
  const m2 = { ...(await manifestOf()), format: 'lockstep/bundle@2' };
  cases.push({
    name: 'unknown-version',
    bytes: await rezip((e) => e.set('manifest.json', enc(m2))),
    message: /bundle format 'lockstep\/bundle@2' is not known/,
  });
  const blobId = [...goodEntries.keys()][0];
  cases.push({
    name: 'hash-mismatch',
    bytes: await rezip((e) => {
      const d = Uint8Array.from(e.get(`objects/${blobId}`)!);
      d[0] ^= 0xff;
      e.set(`objects/${blobId}`, d);
    }),
    message: new RegExp(`object ${blobId} .*is damaged: its bytes hash to`),
  });
  cases.push({
    name: 'missing-object',
    bytes: await rezip((e) => e.delete(`objects/${blobId}`)),
    message: new RegExp(`lists .*${blobId}.* but does not hold it`),
  });
  const whole = await readFile(good);
  cases.push({
    name: 'truncated',
    bytes: whole.subarray(0, whole.length >> 1),
    message: /is truncated/,
  });
  cases.push({ name: 'random', bytes: randomBytes(4096), message: /is not a zip file/ });
  cases.push({ name: 'empty', bytes: Buffer.alloc(0), message: /is empty, not a zip file/ });
  cases.push({
    name: 'plain-zip',
    bytes: craftZip([stored('notes.txt', 'just a zip')]),
    message: /is a zip but not a Lockstep bundle: it has no manifest\.json/,
  });
  cases.push({
    name: 'not-a-manifest',
    bytes: craftZip([stored('manifest.json', '{"name":"some other tool"}')]),
    message: /not a Lockstep bundle: manifest\.json has no format field/,
  });
  cases.push({
    name: 'extra-entry',
    bytes: await rezip((e) => e.set('run.sh', new TextEncoder().encode('rm -rf ~'))),
    message: /entry "run\.sh" is not part of the bundle format/,
  });
  const m3 = await manifestOf();
  (m3.branches as { tip: string }[])[0].tip = 'f'.repeat(64);
  cases.push({
    name: 'bad-graph',
    bytes: await rezip((e) => e.set('manifest.json', enc(m3))),
    message: /run graph is inconsistent: the tip f{64} of branch 'main' is not in the bundle/,
  });
  const out = [];
  for (const c of cases) {
    const file = join(dir, `${c.name}.lockstep`);
    await writeFile(file, c.bytes);
    out.push({ name: c.name, file, message: c.message });
  }
  return out;
}

async function rezip(change: (e: Map<string, Uint8Array>) => void): Promise<Buffer> {
  const tmp = join(dir, `rezip-${randomBytes(4).toString('hex')}.lockstep`);
  await rewriteBundle(good, tmp, change);
  return readFile(tmp);
}

test('every crafted bad bundle: `import` exits 2 with its own one-line message; the store is unchanged', async () => {
  const cases = await badBundles();
  const before = await hashTree(storeDir);
  const messages = new Set<string>();
  // a few processes at a time
  const results: { name: string; message: RegExp; r: Awaited<ReturnType<typeof cli>> }[] = [];
  for (let i = 0; i < cases.length; i += 6) {
    const batch = cases.slice(i, i + 6);
    results.push(
      ...(await Promise.all(
        batch.map(async (c) => ({
          name: c.name,
          message: c.message,
          r: await cli(['import', c.file, '--store', storeDir]),
        })),
      )),
    );
  }
  for (const { name, message, r } of results) {
    assert.equal(r.code, 2, `${name}: exit code (stderr: ${r.stderr})`);
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    assert.equal(lines.length, 1, `${name}: one line on stderr, got ${JSON.stringify(r.stderr)}`);
    assert.match(lines[0], /^lockstep: /, name);
    assert.match(lines[0], message, `${name}: ${lines[0]}`);
    assert.equal(r.stdout, '', `${name}: nothing on stdout`);
    messages.add(lines[0].replace(/\/[^ ]*\.lockstep/g, 'FILE'));
  }
  assert.equal(messages.size, cases.length, 'each refusal has its own message');
  assert.deepEqual(await hashTree(storeDir), before, 'the store is byte-for-byte unchanged');
});

test('a bundle whose parent is neither in it nor in the store is refused before any write', async () => {
  const m = await manifestOf();
  const nodes = m.nodes as { id: string; step: number }[];
  const root = nodes[0];
  const rootObjects = new Set([root.id]);
  const bad = join(dir, 'no-root.lockstep');
  await rewriteBundle(good, bad, (e) => {
    const blob = (
      JSON.parse(new TextDecoder().decode(e.get(`objects/${root.id}`))) as {
        tensors: { blob: string };
      }
    ).tensors.blob;
    rootObjects.add(blob);
    for (const id of rootObjects) {
      e.delete(`objects/${id}`);
    }
    m.nodes = nodes.slice(1);
    m.objects = (m.objects as { id: string }[]).filter((o) => !rootObjects.has(o.id));
    e.set('manifest.json', enc(m));
  });
  // (the target store of the other tests holds the same step 0: use an empty one)
  const emptyDir = join(dir, 'empty');
  const empty = await Store.open(emptyDir);
  const before = await hashTree(emptyDir);
  await assert.rejects(importBundle(empty, bad), (e: unknown) => {
    assert.ok(e instanceof BundleError);
    assert.equal(e.code, 'MISSING_OBJECT', e.message);
    assert.match(e.message, /is neither in the bundle nor in the store/);
    return true;
  });
  assert.deepEqual(await hashTree(emptyDir), before);
  // the store that has the step-0 checkpoint accepts it: the graph closes there
  const imp = await importBundle(store, bad);
  assert.deepEqual(imp.renamed, {});
  assert.equal(imp.newCheckpoints, 0, 'same config and seed: the same checkpoints already there');
  // verify on a fresh temporary store says the same, as a failed verification
  const report = await verifyBundle(bad);
  assert.equal(report.verified, false);
  assert.match(report.firstMismatch?.detail ?? '', /neither in the bundle nor in the store/);
});

test('writeZip + the reader: a bundle rewritten unchanged is still accepted', async () => {
  const same = join(dir, 'same.lockstep');
  await rewriteBundle(good, same, () => {});
  const b = await readBundle(same);
  assert.equal(b.checkpoints.length, 4);
});
