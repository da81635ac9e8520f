/**
 * The CLI contract of trace, compare, verify and study: --json (the last stdout line is one JSON
 * object) and exit codes (0 yes, 1 a negative answer, 2 bad input with one line on stderr).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseManifest } from '../../src/main/engine/state';
import { Store } from '../../src/main/store/store';
import { removeDir, tempDir } from '../helpers/fixtures';

const root = join(import.meta.dirname, '..', '..');
let dir: string;
let storeDir: string;

function cli(...args: string[]): {
  code: number | null;
  json: Record<string, unknown>;
  stderr: string;
} {
  const r = spawnSync(
    process.execPath,
    [join(root, 'bin', 'lockstep.mjs'), ...args, '--store', storeDir, '--json'],
    {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, CI: '1' },
    },
  );
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return { code: r.status, json: last.startsWith('{') ? JSON.parse(last) : {}, stderr: r.stderr };
}

const TRAIN = [
  '--dataset',
  'fake',
  '--hidden',
  '16,8',
  '--batch-size',
  '32',
  '--lr',
  '0.05',
  '--seed',
  '5',
];

before(() => {
  dir = tempDir('lockstep-cli-');
  storeDir = join(dir, 'store');
  assert.equal(
    cli('train', ...TRAIN, '--steps', '30', '--checkpoint-every', '10', '--branch', 'a').code,
    0,
  );
  assert.equal(cli('continue', 'a@10', '--steps', '20', '--lr', '0.1', '--branch', 'b').code, 0);
});
after(() => removeDir(dir));

test('trace --json: steps in range with indices', () => {
  const r = cli('trace', 'a', '--from', '9', '--to', '12', '--with-indices');
  assert.equal(r.code, 0);
  const steps = r.json.steps as { step: number; indices: number[]; stateDigest: string }[];
  assert.deepEqual(
    steps.map((s) => s.step),
    [9, 10, 11, 12],
  );
  assert.equal(steps[0].indices.length, 32);
  assert.match(steps[0].stateDigest, /^[0-9a-f]{16}$/);
  const bad = cli('trace', 'nope');
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
});

test('compare --json: exit 1 with the divergence, exit 0 when identical', () => {
  const r = cli('compare', 'a', 'b');
  assert.equal(r.code, 1);
  for (const k of [
    'identical',
    'firstDivergentStep',
    'tensor',
    'differing',
    'maxAbsDiff',
    'maxUlp',
    'sameData',
    'sameBatchesUntil',
  ]) {
    assert.ok(k in r.json, k);
  }
  assert.equal(r.json.identical, false);
  assert.equal(r.json.firstDivergentStep, 11);
  assert.equal(r.json.sameBatchesUntil, 30);
  const same = cli('compare', 'a', 'a@30');
  assert.equal(same.code, 0);
  assert.equal(same.json.identical, true);
  assert.equal(cli('compare', 'a').code, 2);
});

test('verify --json: exit 0 verified, 1 on a damaged checkpoint, 2 on a bad ref or missing bundle', async () => {
  const ok = cli('verify', 'b');
  assert.equal(ok.code, 0);
  // b keeps a's --checkpoint-every 10: checkpoints 0, 10, 20, 30
  assert.deepEqual([ok.json.verified, ok.json.checkpoints, ok.json.steps], [true, 4, 30]);
  const store = await Store.open(storeDir, { create: false });
  const id = await store.resolveRef('a@20');
  const file = store.layout.object(parseManifest(await store.getObject(id)).tensors.blob);
  const bytes = readFileSync(file);
  bytes[bytes.length - 1] ^= 1;
  writeFileSync(file, bytes);
  const bad = cli('verify', 'a');
  assert.equal(bad.code, 1);
  assert.equal((bad.json.firstMismatch as { step: number }).step, 20);
  assert.equal(cli('verify', 'no-such-branch').code, 2);
  writeFileSync(join(dir, 'x.lockstep'), 'not a bundle');
  assert.equal(cli('verify', join(dir, 'x.lockstep')).code, 2);
});

test('study --json with two processes: zero same-seed spread', () => {
  const r = cli(
    'study',
    '--runs',
    '2',
    '--parallel',
    '2',
    ...TRAIN,
    '--steps',
    '15',
    '--eval-every',
    '1000',
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal((r.json.sameSeed as { finalLoss: { std: number } }).finalLoss.std, 0);
  assert.equal(r.json.sameSeedShare, 0);
  assert.equal(r.json.determinismBug, null);
  const list = spawnSync(
    process.execPath,
    [join(root, 'bin', 'lockstep.mjs'), 'study', '--list', '--store', storeDir],
    { encoding: 'utf8' },
  );
  assert.equal(list.status, 0);
  assert.match(list.stdout, new RegExp(String(r.json.id)));
  assert.equal(cli('study').code, 2);
});
