/**
 * Bundles end to end with real training on the `fake` dataset: export, import into an empty
 * store elsewhere, identical hashes, continuation of both stores to the same hash, verify; the
 * three kinds of bundle (branch, checkpoint, run); renames on clashes; determinism; progress and
 * abort.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, stat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { exportBundle } from '../../src/main/bundle/export';
import { importBundle } from '../../src/main/bundle/import';
import { readBundle } from '../../src/main/bundle/read';
import type { BundleManifest, ObjectKind } from '../../src/main/bundle/format';
import { verifyBundle } from '../../src/main/bundle/verify';
import { writeZip } from '../../src/main/bundle/zip-safe';
import { encodeState, parseManifest } from '../../src/main/engine/state';
import { continueFrom, startRun } from '../../src/main/service/train';
import type { TrainResult } from '../../src/shared/contract';
import { Store } from '../../src/main/store/store';
import { bundleObjects, CONFIG, hashTree, rewriteBundle, trainSmall } from './helpers';
import { removeDir, tempDir } from '../helpers/fixtures';

let dir = '';
let storeA: Store;
let run: TrainResult;
before(async () => {
  dir = tempDir('lockstep-bundle-');
  storeA = await Store.open(join(dir, 'a'));
  run = await trainSmall(storeA, 'main');
});
after(async () => {
  removeDir(dir);
});

test('export → import into an empty store → same hashes; both continue to the same hash', async () => {
  const file = join(dir, 'main.lockstep');
  const progress: [number, number][] = [];
  const res = await exportBundle(storeA, 'main', file, {
    onProgress: (d, n) => progress.push([d, n]),
  });
  assert.equal(res.bytes, (await stat(file)).size);
  const last = progress[progress.length - 1];
  assert.equal(last[0], last[1], 'progress ends at 100%');
  assert.ok(progress.every(([d, n], i) => d <= n && (i === 0 || d >= progress[i - 1][0])));

  const storeB = await Store.open(join(dir, 'b'));
  const imp = await importBundle(storeB, file);
  assert.deepEqual(imp.imported, ['main']);
  assert.deepEqual(imp.renamed, {});
  assert.equal(imp.checkpoints, 4);
  assert.equal(imp.newCheckpoints, 4);

  // the same checkpoints, each re-hashing to its id, the same objects, the same records
  const lineA = await storeA.lineage(run.checkpoint);
  const lineB = await storeB.lineage((await storeB.getBranch('main')).tip);
  assert.deepEqual(
    lineB.map((n) => [n.id, n.step, n.parent, n.trace, n.loss, n.eval]),
    lineA.map((n) => [n.id, n.step, n.parent, n.trace, n.loss, n.eval]),
  );
  for (const n of lineB) {
    assert.equal(encodeState(await storeB.readState(n.id)).id, n.id);
  }
  const objA = await readdir(join(dir, 'a', 'objects'), { recursive: true });
  const objB = await readdir(join(dir, 'b', 'objects'), { recursive: true });
  assert.deepEqual(objB.sort(), objA.sort());
  assert.deepEqual(await storeB.getRun(run.run), await storeA.getRun(run.run));
  const { createdAt: _a, updatedAt: _b, ...branchA } = await storeA.getBranch('main');
  const { createdAt: _c, updatedAt: _d, ...branchB } = await storeB.getBranch('main');
  assert.deepEqual(branchB, branchA);
  assert.equal((await storeB.fsck()).ok, true);

  // continuing the original and the imported run by the same steps gives the same state
  const contA = await continueFrom(storeA, { from: 'main', steps: 40, checkpointEvery: 40 });
  const contB = await continueFrom(storeB, { from: 'main', steps: 40, checkpointEvery: 40 });
  assert.equal(contB.step, 160);
  assert.equal(contB.stateHash, contA.stateHash);

  // verify works in a temporary store under os.tmpdir() and leaves nothing behind (a private
  // TMPDIR, so that other test files running at the same time do not count)
  const privateTmp = join(dir, 'tmp');
  await mkdir(privateTmp);
  const savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = privateTmp;
  try {
    const steps: number[] = [];
    const report = await verifyBundle(file, { onProgress: (d) => steps.push(d) });
    const { verified, checkpoints, steps: replayed, firstMismatch } = report;
    assert.deepEqual(
      { verified, checkpoints, steps: replayed, firstMismatch },
      { verified: true, checkpoints: report.checkpoints, steps: 120, firstMismatch: null },
    );
    // like a ref's report: the checkpoint verified (the bundle's tip) and where the replay began
    assert.match(report.checkpoint ?? '', /^[0-9a-f]{64}$/);
    assert.equal(report.fromStep, 0);
    assert.ok(report.checkpoints >= 3, JSON.stringify(report));
    assert.equal(steps[steps.length - 1], 120);
    assert.deepEqual(await readdir(privateTmp), []);
  } finally {
    if (savedTmp === undefined) {
      delete process.env.TMPDIR;
    } else {
      process.env.TMPDIR = savedTmp;
    }
  }
});

test('the same graph gives the same bundle bytes; the manifest carries versions and the graph', async () => {
  const one = join(dir, 'x', 'same.lockstep');
  const two = join(dir, 'y', 'same.lockstep');
  for (const p of [one, two]) {
    await mkdir(join(p, '..'), { recursive: true });
  }
  await exportBundle(storeA, `main@120`, one);
  await exportBundle(storeA, `main@120`, two);
  assert.deepEqual(await readFile(one), await readFile(two));
  const b = await readBundle(one);
  const m = b.manifest;
  assert.equal(m.format, 'lockstep/bundle@1');
  assert.equal(m.app.name, 'lockstep');
  assert.match(m.app.version, /^\d+\.\d+\.\d+/);
  assert.equal(m.engine.libraries['@tensorflow/tfjs-core'], '4.22.0');
  assert.deepEqual(m.seeds, [3]);
  assert.equal(m.datasetDigests.length, 1);
  assert.equal(m.backends[0].backend, 'wasm');
  assert.deepEqual(
    m.nodes.map((n) => n.step),
    [0, 40, 80, 120],
  );
  assert.equal(m.runs[0].id, run.run);
  assert.ok(m.objects.some((o) => o.kind === 'trace'));
  assert.ok(m.nodes.every((n) => !('verified' in n)));
});

test('a checkpoint bundle (branch@N) gets a branch of its own; continuing it reproduces the original', async () => {
  const file = join(dir, 'at80.lockstep');
  await exportBundle(storeA, 'main@80', file);
  const m = (await readBundle(file)).manifest;
  assert.equal(m.kind, 'checkpoint');
  assert.deepEqual(
    m.branches.map((b) => b.name),
    ['main-step80'],
  );
  const at80 = await storeA.resolveRef('main@80');
  assert.deepEqual(m.tips, [at80]);
  const storeC = await Store.open(join(dir, 'c'));
  const imp = await importBundle(storeC, file);
  assert.deepEqual(imp.imported, ['main-step80']);
  const cont = await continueFrom(storeC, { from: 'main-step80', steps: 40, checkpointEvery: 40 });
  assert.equal(cont.stateHash, await storeA.resolveRef('main@120'));
});

test('a run bundle (run:<id>) holds every branch of the run', async () => {
  const branched = await continueFrom(storeA, {
    from: 'main@40',
    steps: 40,
    lr: 0.1,
    branch: 'lr-0.1',
    checkpointEvery: 40,
  });
  const file = join(dir, 'run.lockstep');
  await exportBundle(storeA, `run:${run.run}`, file);
  const m = (await readBundle(file)).manifest;
  assert.equal(m.kind, 'run');
  assert.deepEqual(m.branches.map((b) => b.name).sort(), ['lr-0.1', 'main']);
  assert.equal(m.configs.length, 2, 'two learning rates');
  const storeD = await Store.open(join(dir, 'd'));
  const imp = await importBundle(storeD, file);
  assert.deepEqual(imp.imported.sort(), ['lr-0.1', 'main']);
  assert.equal((await storeD.getBranch('lr-0.1')).tip, branched.checkpoint);
  assert.equal((await storeD.getBranch('lr-0.1')).base, await storeA.resolveRef('main@40'));
  await assert.rejects(exportBundle(storeA, 'run:no-such-run', join(dir, 'n.lockstep')), {
    name: 'RefError',
  });
  await assert.rejects(exportBundle(storeA, 'nope', join(dir, 'n.lockstep')), { name: 'RefError' });
});

test('clashes: an identical branch is left alone, a different one is renamed, never overwritten', async () => {
  const file = join(dir, 'clash.lockstep');
  await exportBundle(storeA, 'main', file);
  // importing into the store it came from changes nothing
  const before = await hashTree(join(dir, 'a', 'refs'));
  const again = await importBundle(storeA, file);
  assert.deepEqual(again.imported, []);
  assert.deepEqual(again.existing, ['main']);
  assert.deepEqual(await hashTree(join(dir, 'a', 'refs')), before);

  // another store with its own 'main' (another seed): the bundle's 'main' arrives renamed
  const storeE = await Store.open(join(dir, 'e'));
  const other = await trainSmall(storeE, 'main');
  const mainBefore = await readFile(join(dir, 'e', 'refs', 'heads', 'main'));
  const imp = await importBundle(storeE, file);
  assert.deepEqual(imp.renamed, { main: 'main-imported' });
  assert.deepEqual(imp.imported, ['main-imported']);
  assert.deepEqual(await readFile(join(dir, 'e', 'refs', 'heads', 'main')), mainBefore);
  assert.equal((await storeE.getBranch('main')).tip, other.checkpoint);
  assert.equal((await storeE.getBranch('main-imported')).tip, (await storeA.getBranch('main')).tip);
  // a second import finds it already there under its new name
  const twice = await importBundle(storeE, file);
  assert.deepEqual(twice.imported, []);
  assert.deepEqual(twice.existing, ['main']);

  // the same run id with a different record: the run is imported under a new id
  const changed = join(dir, 'changed-run.lockstep');
  await rewriteBundle(file, changed, (entries) => {
    const m = JSON.parse(new TextDecoder().decode(entries.get('manifest.json'))) as {
      runs: { seedSource: string }[];
    };
    m.runs[0].seedSource = 'env';
    entries.set('manifest.json', new TextEncoder().encode(JSON.stringify(m)));
  });
  const runImp = await importBundle(storeA, changed);
  assert.deepEqual(runImp.renamed, {
    [`run:${run.run}`]: `run:${run.run}-imported`,
    main: 'main-imported',
  });
  assert.equal((await storeA.getBranch('main-imported')).run, `${run.run}-imported`);
  assert.equal((await storeA.getRun(run.run)).seedSource, 'explicit');
});

test('export honours an aborted signal and leaves no file', async () => {
  const file = join(dir, 'aborted.lockstep');
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(exportBundle(storeA, 'main', file, { signal: ac.signal }), {
    name: 'AbortError',
  });
  const ac2 = new AbortController();
  await assert.rejects(
    exportBundle(storeA, 'main', file, {
      signal: ac2.signal,
      onProgress: (d) => d > 0 && ac2.abort(),
    }),
  );
  assert.deepEqual(
    (await readdir(dir)).filter((f) => f.startsWith('aborted')),
    [],
  );
});

test('verify of a run bundle replays shared history once', async () => {
  const file = join(dir, 'run-verify.lockstep');
  await exportBundle(storeA, `run:${run.run}`, file);
  const b = await readBundle(file);
  assert.equal(b.manifest.branches.length, 2);
  const report = await verifyBundle(file);
  assert.equal(report.verified, true, JSON.stringify(report));
  // main: 0 → 160; lr-0.1 from main@40 → 80: 160 + 40 steps, nothing twice
  assert.equal(report.steps, 200);
});

test('verify of a bundle whose checkpoint is not what its parent produces fails at that step', async () => {
  // the lineage of main@40, with the step-40 checkpoint of another seed in its place
  const other = await Store.open(join(dir, 'other-seed'));
  const res = await startRun(other, {
    config: { ...CONFIG, seed: 4 },
    steps: 40,
    checkpointEvery: 40,
    evalEvery: 40,
  });
  const good = join(dir, 'at40.lockstep');
  await exportBundle(storeA, 'main@40', good);
  const b = await readBundle(good);
  const held = await bundleObjects(good);
  const m = JSON.parse(JSON.stringify(b.manifest)) as BundleManifest;
  const fake = await other.getNode(res.checkpoint);
  const root = m.nodes[0];
  m.nodes = [root, { ...fake, parent: root.id }];
  m.branches[0].tip = fake.id;
  m.tips = [fake.id];
  const objects = new Map<string, { kind: ObjectKind; data: Uint8Array }>();
  const rootManifest = parseManifest(held.get(root.id)!);
  objects.set(root.id, { kind: 'manifest', data: held.get(root.id)! });
  objects.set(rootManifest.tensors.blob, {
    kind: 'tensors',
    data: held.get(rootManifest.tensors.blob)!,
  });
  const fm = await other.getObject(fake.id);
  objects.set(fake.id, { kind: 'manifest', data: fm });
  const blob = parseManifest(fm).tensors.blob;
  objects.set(blob, { kind: 'tensors', data: await other.getObject(blob) });
  objects.set(fake.trace!, { kind: 'trace', data: await other.getObject(fake.trace!) });
  const ids = [...objects.keys()].sort();
  m.objects = ids.map((id) => ({
    id,
    kind: objects.get(id)!.kind,
    bytes: objects.get(id)!.data.length,
  }));
  const forged = join(dir, 'forged.lockstep');
  await writeZip(forged, [
    { name: 'manifest.json', data: new TextEncoder().encode(JSON.stringify(m)) },
    ...ids.map((id) => ({ name: `objects/${id}`, data: objects.get(id)!.data })),
  ]);
  const report = await verifyBundle(forged);
  assert.equal(report.verified, false);
  assert.ok(report.firstMismatch !== null, 'a mismatch is reported');
  assert.ok(report.firstMismatch.step <= 40, JSON.stringify(report.firstMismatch));
});
