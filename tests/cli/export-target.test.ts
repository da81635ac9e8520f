/**
 * Issue 19: `export -o` refuses to overwrite without --force, never writes inside a store (even
 * with --force), and names a missing directory or a directory-for-a-file in one line instead of a
 * raw ENOENT / EEXIST / EISDIR. The store and the existing files are byte-identical after every
 * refusal.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { checkExportTarget } from '../../src/main/service/export-target';
import { cli, FAKE_TRAIN, tempDir, treeDigest } from '../helpers/cli';

describe('export -o', () => {
  const store = tempDir();
  const out = tempDir();
  before(() => {
    const r = cli([
      'train',
      ...FAKE_TRAIN,
      '--steps',
      '5',
      '--seed',
      '1',
      '--branch',
      'main',
      '--store',
      store,
    ]);
    assert.equal(r.code, 0, r.stderr);
  });

  const refuse = (args: string[], re: RegExp): void => {
    const storeBefore = treeDigest(store);
    const outBefore = treeDigest(out);
    const r = cli(['export', 'main', ...args, '--store', store]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /ENOENT|EEXIST|EISDIR|\.tmp-/);
    assert.deepEqual(treeDigest(store), storeBefore, 'store changed');
    assert.deepEqual(treeDigest(out), outBefore, 'output folder changed');
  };

  test('never inside a store, not even with --force', () => {
    refuse(['-o', join(store, 'refs/heads/main'), '--format', 'csv'], /inside the Lockstep store/);
    refuse(
      ['-o', join(store, 'refs/heads/main'), '--format', 'csv', '--force'],
      /inside the Lockstep store/,
    );
    refuse(['-o', join(store, 'objects', 'x.lockstep')], /inside the Lockstep store/);
    refuse(['-o', join(store, 'tb'), '--format', 'tensorboard'], /inside the Lockstep store/);
  });

  test('an existing file needs --force; then it is replaced whole', () => {
    const file = join(out, 'm.csv');
    writeFileSync(file, 'precious\n');
    refuse(['-o', file], /m\.csv already exists: pass --force to overwrite it/);
    assert.equal(readFileSync(file, 'utf8'), 'precious\n');
    const r = cli(['export', 'main', '-o', file, '--force', '--store', store]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(readFileSync(file, 'utf8'), /^step,loss/);
    assert.deepEqual(
      readdirSync(out).filter((n) => n.includes('.tmp-')),
      [],
      'no temp file left',
    );
  });

  test('a missing directory, a directory for a file, a file for a directory: one clear line', () => {
    refuse(['-o', join(out, 'no/such/dir/m.csv')], /directory .*no\/such\/dir does not exist/);
    mkdirSync(join(out, 'd.csv'));
    refuse(['-o', join(out, 'd.csv')], /d\.csv: it is a directory \(give a file name\)/);
    writeFileSync(join(out, 'plain'), 'x');
    refuse(
      ['-o', join(out, 'plain'), '--format', 'tfjs'],
      /it is a file, and --format tfjs writes a directory/,
    );
  });

  test('a folder that holds an export already needs --force', () => {
    const dir = join(out, 'tfjs');
    const r = cli(['export', 'main', '-o', dir, '--format', 'tfjs', '--store', store]);
    assert.equal(r.code, 0, r.stderr);
    refuse(['-o', dir, '--format', 'tfjs'], /already holds --format tfjs output .*--force/);
  });

  test('the rule is one reusable function (the web API uses it too)', () => {
    assert.throws(
      () => checkExportTarget(join(store, 'objects'), { kind: 'dir', format: 'tfjs' }),
      /inside the Lockstep store/,
    );
    assert.deepEqual(checkExportTarget(join(out, 'new.lockstep'), { kind: 'file' }), {
      path: join(out, 'new.lockstep'),
      exists: false,
    });
  });
});
