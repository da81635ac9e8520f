/**
 * Issue 19, "the CLI's answers": verify's exit codes (1 = the answer is no, damaged store
 * included; 2 = could not answer), bundles recognised by content, one JSON object for every
 * command, "no runs yet" on a store that does not exist, trace past the end, taken branch names,
 * typo hints in the one-line error, `branch rm` / `run rm` followed by gc. Refusals leave the
 * store byte-identical.
 */
import assert from 'node:assert/strict';
import {
  copyFileSync,
  cpSync,
  existsSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { cli, FAKE_TRAIN, tempDir, treeDigest } from '../helpers/cli';

const lastJson = (stdout: string): unknown => JSON.parse(stdout.trim().split('\n').pop()!);

describe('a store that does not exist yet', () => {
  test('listing commands say "no runs yet" and exit 0; ref commands exit 2; nothing is created', () => {
    const dir = join(tempDir(), 'none');
    const log = cli(['log', '--store', dir]);
    assert.equal(log.code, 0, log.stderr);
    assert.match(log.stdout, /no runs yet: start one with `lockstep train`/);
    const json = cli(['log', '--store', dir, '--json']);
    assert.deepEqual(json.json, { runs: [] });
    const studies = cli(['study', '--list', '--store', dir, '--json']);
    assert.equal(studies.code, 0, studies.stderr);
    assert.deepEqual(studies.json, { studies: [] });
    const show = cli(['show', 'main', '--store', dir]);
    assert.equal(show.code, 2);
    assert.match(
      show.stderr,
      /^lockstep: no runs yet: start one with `lockstep train` \(no store at /,
    );
    assert.equal(existsSync(dir), false, 'a read-only command created the store');
  });
});

describe('answers on a real store', () => {
  const store = tempDir();
  let bundleZip = '';
  before(() => {
    const r = cli([
      'train',
      ...FAKE_TRAIN,
      '--steps',
      '20',
      '--seed',
      '2',
      '--checkpoint-every',
      '10',
      '--branch',
      'main',
      '--store',
      store,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const file = join(tempDir(), 'run.lockstep');
    const e = cli(['export', 'main', '-o', file, '--store', store]);
    assert.equal(e.code, 0, e.stderr);
    bundleZip = file.replace(/\.lockstep$/, '.zip');
    copyFileSync(file, bundleZip);
  });

  test('typos keep commander’s "did you mean" hint in the one line', () => {
    const r = cli(['trian']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, "lockstep: unknown command 'trian' (Did you mean train?)\n");
  });

  test('verify: a bundle renamed .zip is a bundle; its report names the checkpoint and timing', () => {
    const r = cli(['verify', bundleZip, '--store', store, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = r.json as Record<string, unknown>;
    assert.equal(j.verified, true);
    assert.match(String(j.checkpoint), /^[0-9a-f]{64}$/);
    assert.equal(j.fromStep, 0);
    assert.equal(typeof j.msPerStep, 'number');
    const human = cli(['verify', bundleZip, '--store', store]);
    assert.doesNotMatch(human.stdout, /undefined/);
    assert.match(human.stdout, /^verified: .*run\.zip \([0-9a-f]{12}\)/);
  });

  test('verify: a missing bundle path is a file error (exit 2)', () => {
    const r = cli(['verify', join(store, '..', 'nope.lockstep'), '--store', store]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^lockstep: no such file: .*nope\.lockstep\n$/);
  });

  test('verify: a damaged store is a negative answer (exit 1), like a damaged bundle', () => {
    const copy = tempDir();
    cpSync(store, copy, { recursive: true });
    // flip one byte of a checkpoint's manifest (the object named by a node record)
    const d = readdirSync(join(copy, 'nodes'))[0];
    const f = readdirSync(join(copy, 'nodes', d))[0].replace(/\.json$/, '');
    const manifest = join(copy, 'objects', d, f);
    const bytes = readFileSync(manifest);
    bytes[5] ^= 1;
    writeFileSync(manifest, bytes);
    const r = cli(['verify', 'main', '--store', copy, '--json']);
    assert.equal(r.code, 1, r.stderr);
    const j = r.json as { verified: boolean; firstMismatch: { detail: string } };
    assert.equal(j.verified, false);
    assert.match(j.firstMismatch.detail, /damaged|corrupt/);
  });

  test('trace past the end says where the history ends', () => {
    const r = cli(['trace', 'main', '--from', '50', '--to', '60', '--store', store]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ends at step 20, before step 50/);
  });

  test('an explicit --branch that exists: exit 2 with a suggestion, store untouched', () => {
    const before = treeDigest(store);
    const r = cli([
      'train',
      ...FAKE_TRAIN,
      '--steps',
      '5',
      '--seed',
      '9',
      '--branch',
      'main',
      '--store',
      store,
    ]);
    assert.equal(r.code, 2, r.stdout);
    assert.match(
      r.stderr,
      /branch 'main' already exists: pick another name with --branch \(e\.g\. 'main-2'\)/,
    );
    const c = cli(['continue', 'main', '--steps', '5', '--branch', 'main', '--store', store]);
    assert.equal(c.code, 2, c.stdout);
    const bad = cli([
      'train',
      ...FAKE_TRAIN,
      '--steps',
      '5',
      '--branch',
      '../evil',
      '--store',
      store,
    ]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, '', 'nothing (no drawn seed) printed before the refusal');
    assert.deepEqual(treeDigest(store), before);
  });

  test('branch rm and run rm, then gc frees their objects', () => {
    const s = tempDir();
    cpSync(store, s, { recursive: true });
    const side = cli([
      'continue',
      'main@10',
      '--steps',
      '10',
      '--lr',
      '0.3',
      '--store',
      s,
      '--json',
    ]);
    assert.equal(side.code, 0, side.stderr);
    const sideBranch = (side.json as { branch: string }).branch;
    const rm = cli(['branch', 'rm', sideBranch, '--store', s, '--json']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.deepEqual((rm.json as { branches: string[] }).branches, [sideBranch]);
    const gc1 = cli(['gc', '--grace', '0', '--store', s, '--json']);
    assert.ok((gc1.json as { removedObjects: number }).removedObjects >= 2, gc1.stdout);
    const log = cli(['log', '--store', s, '--json']).json as { runs: { id: string }[] };
    assert.equal(log.runs.length, 1);
    const rmRun = cli(['run', 'rm', log.runs[0].id, '--store', s]);
    assert.equal(rmRun.code, 0, rmRun.stderr);
    cli(['gc', '--grace', '0', '--store', s]);
    const objects = readdirSync(join(s, 'objects')).flatMap((d) =>
      readdirSync(join(s, 'objects', d)),
    );
    assert.deepEqual(objects, [], 'gc freed every object of the removed run');
    const missing = cli(['branch', 'rm', 'no-such', '--store', s]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /unknown branch 'no-such'/);
    assert.deepEqual(lastJson(cli(['log', '--store', s, '--json']).stdout), { runs: [] });
  });
});
