/**
 * Issue 16: bin/lockstep.mjs runs the CLI bundle (scripts/build-cli.mjs) and never a stale one.
 *
 * - The stamp check (`freshBuild`) against a made-up build: a changed size, a changed mtime, a
 *   missing input or a missing build each make it stale.
 * - A copy of the checkout with no out/ (what a fresh clone is before `npm install`'s prepare
 *   step): the first start builds the bundle, the next one reuses it, and an edited source file is
 *   rebuilt before the next command runs, so the command shows the edit.
 * - In this checkout: `--help` runs from the bundle's front (no TypeScript module is loaded), the job
 *   process a study forks is the bundled `job-node.js`, and the bundled bench workers run their
 *   job when started (their "main" check knows the bundled names).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, test } from 'node:test';
import { freshBuild, STAMP_VERSION, stampedFile } from '../../scripts/build-cli.mjs';
import { BIN, checkoutCopy, editDescription, FAKE_TRAIN, ROOT, tempDir } from '../helpers/cli';
import { removeDir } from '../helpers/fixtures';

/** A root with one input file and a build stamped with it; returns the input's path. */
function madeUpBuild(root: string): string {
  const input = join(root, 'src', 'a.ts');
  mkdirSync(join(root, 'src'));
  writeFileSync(input, 'export const a = 1;\n');
  const build = join(root, 'out', 'cli', 'b-1');
  mkdirSync(build, { recursive: true });
  writeFileSync(join(build, 'lockstep.js'), '');
  const s = statSync(input);
  writeFileSync(
    join(root, 'out', 'cli', 'current.json'),
    JSON.stringify({
      version: STAMP_VERSION,
      dir: 'b-1',
      inputs: [['src/a.ts', s.size, s.mtimeMs]],
    }),
  );
  return input;
}

describe('the stamp check', () => {
  test('a build is fresh while its inputs are unchanged', (t) => {
    const root = tempDir();
    t.after(() => removeDir(root));
    madeUpBuild(root);
    assert.equal(freshBuild(root), join(root, 'out', 'cli', 'b-1'));
  });

  test('a changed size makes it stale, even with the old mtime', (t) => {
    const root = tempDir();
    t.after(() => removeDir(root));
    const input = madeUpBuild(root);
    const { atime, mtime } = statSync(input);
    writeFileSync(input, 'export const a = 12;\n');
    utimesSync(input, atime, mtime);
    assert.equal(freshBuild(root), null);
  });

  test('a changed mtime makes it stale, even with the old size', (t) => {
    const root = tempDir();
    t.after(() => removeDir(root));
    const input = madeUpBuild(root);
    const { atime, mtime } = statSync(input);
    writeFileSync(input, 'export const a = 2;\n');
    utimesSync(input, atime, new Date(mtime.getTime() + 1000));
    assert.equal(freshBuild(root), null);
  });

  // a checkout whose node_modules is elsewhere (a worktree's symlink) stamps bundled packages as
  // '../<dir>/node_modules/…': the check resolves such paths like the build did
  test('an input outside the root, stamped through ..: fresh until it changes', (t) => {
    const root = tempDir();
    t.after(() => removeDir(root));
    const outside = tempDir();
    t.after(() => removeDir(outside));
    madeUpBuild(root);
    const dep = join(outside, 'dep.js');
    writeFileSync(dep, 'module.exports = 1;\n');
    const rel = relative(root, dep).split(sep).join('/');
    assert.match(rel, /^\.\.\//);
    const stamp = (p: string): [string, number, number] => {
      const s = statSync(join(root, p));
      return [p, s.size, s.mtimeMs];
    };
    writeFileSync(
      join(root, 'out', 'cli', 'current.json'),
      JSON.stringify({
        version: STAMP_VERSION,
        dir: 'b-1',
        inputs: [stamp('src/a.ts'), stamp(rel)],
      }),
    );
    assert.equal(freshBuild(root), join(root, 'out', 'cli', 'b-1'));
    const { atime, mtime } = statSync(dep);
    writeFileSync(dep, 'module.exports = 22;\n'); // a new size, the old mtime
    utimesSync(dep, atime, mtime);
    assert.equal(freshBuild(root), null);
  });

  test("an installed package's files are stamped by its package.json", () => {
    const p = (...parts: string[]) => join(ROOT, ...parts);
    assert.equal(stampedFile(p('src', 'a.ts')), p('src', 'a.ts'));
    assert.equal(stampedFile(p('node_modules', 'zod', 'v4', 'core', 'schemas.js')), p('node_modules', 'zod', 'package.json')); // prettier-ignore
    assert.equal(stampedFile(p('node_modules', '@scope', 'pkg', 'lib', 'x.js')), p('node_modules', '@scope', 'pkg', 'package.json')); // prettier-ignore
    // the innermost package; a file of node_modules itself stands for itself
    assert.equal(stampedFile(p('node_modules', 'a', 'node_modules', 'b', 'i.js')), p('node_modules', 'a', 'node_modules', 'b', 'package.json')); // prettier-ignore
    assert.equal(stampedFile(p('node_modules', '.package-lock.json')), p('node_modules', '.package-lock.json')); // prettier-ignore
    assert.equal(stampedFile(p('node_modules', 'zod', 'package.json')), p('node_modules', 'zod', 'package.json')); // prettier-ignore
  });

  test('a missing input, a missing build or a missing stamp makes it stale', (t) => {
    const root = tempDir();
    t.after(() => removeDir(root));
    const input = madeUpBuild(root);
    removeDir(input);
    assert.equal(freshBuild(root), null);
    const other = tempDir();
    t.after(() => removeDir(other));
    madeUpBuild(other);
    removeDir(join(other, 'out', 'cli', 'b-1'));
    assert.equal(freshBuild(other), null);
    removeDir(join(other, 'out', 'cli', 'current.json'));
    assert.equal(freshBuild(other), null);
  });
});

/** The build folders of a checkout, sorted. */
const builds = (root: string): string[] =>
  readdirSync(join(root, 'out', 'cli'))
    .filter((n) => n.startsWith('b-'))
    .sort();

describe('a checkout with no bundle yet', () => {
  test('builds on first start, reuses the build, and rebuilds an edited source', (t) => {
    const root = checkoutCopy('lockstep-clone-');
    t.after(() => removeDir(root));
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [join(root, 'bin', 'lockstep.mjs'), ...args], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, LOCKSTEP_CLI_SOURCE: '' },
        timeout: 300_000,
      });
    const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;

    const first = run('--version');
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.stdout.trim(), version);
    const built = builds(root);
    assert.equal(built.length, 1);
    // the bundled packages are stamped by their package.json alone (zod is ~100 files)
    const stamped = (
      JSON.parse(readFileSync(join(root, 'out', 'cli', 'current.json'), 'utf8')) as {
        inputs: [string, number, number][];
      }
    ).inputs.map(([path]) => path);
    const packaged = stamped.filter((path) => path.includes('node_modules/'));
    assert.ok(packaged.some((path) => path.endsWith('/node_modules/zod/package.json')), String(packaged)); // prettier-ignore
    assert.deepEqual(
      packaged.filter((path) => !path.endsWith('/package.json')),
      [],
    );

    const again = run('--version');
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual(builds(root), built, 'an up-to-date bundle was rebuilt');

    // an edit of a source file: the next command runs the edited code, never the old bundle
    const marker = 'Edited after the build';
    editDescription(root, `${marker}.`);
    // a build superseded more than a week ago is deleted by the next build; the one superseded
    // now stays (a process may still run from it)
    const old = join(root, 'out', 'cli', 'b-old');
    mkdirSync(old);
    const weekAgo = new Date(Date.now() - 8 * 24 * 3600 * 1000);
    utimesSync(old, weekAgo, weekAgo);
    const help = run('--help');
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, new RegExp(marker));
    const after = builds(root);
    assert.equal(after.length, 2);
    assert.ok(after.includes(built[0]), 'the build superseded now was deleted');
    assert.ok(!after.includes('b-old'), 'a build superseded a week ago was kept');
  });
});

describe('this checkout runs the bundle', () => {
  test('--help loads no TypeScript module', (t) => {
    const dir = tempDir();
    t.after(() => removeDir(dir));
    const log = join(dir, 'imports.log');
    const hook = join(ROOT, 'tests/cli/fixtures/record-imports.mjs');
    const r = spawnSync(process.execPath, ['--import', hook, BIN, '--help'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, LOCKSTEP_IMPORT_LOG: log, LOCKSTEP_CLI_SOURCE: '' },
      timeout: 300_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const modules = readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' -> ')[1] ?? '');
    assert.ok(
      modules.some((m) => /\/out\/cli\/b-[^/]+\/front\.cjs$/.test(m)),
      "the bundle's front was not loaded",
    );
    assert.deepEqual(
      modules.filter((m) => m.endsWith('.ts')),
      [],
    );
  });

  test('a study forks the bundled job process', (t) => {
    const dir = tempDir();
    t.after(() => removeDir(dir));
    const log = join(dir, 'imports.log');
    const hook = join(ROOT, 'tests/cli/fixtures/record-imports.mjs');
    // NODE_OPTIONS reaches the forked job processes too, so the hook records their modules
    const r = spawnSync(
      process.execPath,
      [
        BIN,
        'study',
        '--runs',
        '1',
        '--parallel',
        '2',
        '--store',
        join(dir, 'store'),
        ...FAKE_TRAIN,
        '--steps',
        '2',
        '--seed',
        '3',
      ],
      {
        cwd: ROOT,
        encoding: 'utf8',
        env: {
          ...process.env,
          CI: '1',
          LOCKSTEP_IMPORT_LOG: log,
          LOCKSTEP_CLI_SOURCE: '',
          NODE_OPTIONS: `--import ${hook}`,
        },
        timeout: 300_000,
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const modules = readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' -> ')[1] ?? '');
    assert.ok(
      modules.some((m) => /\/out\/cli\/b-[^/]+\/job-node\.js$/.test(m)),
      'no bundled job process was started',
    );
    assert.deepEqual(
      modules.filter((m) => m.endsWith('.ts')),
      [],
    );
  });

  test('the bundled bench workers run as programs', () => {
    const build = freshBuild(ROOT);
    assert.ok(build !== null, 'no fresh build');
    const worker = spawnSync(
      process.execPath,
      [join(build, 'bench-worker.js'), JSON.stringify({ kind: 'checkpoint', reps: 1 })],
      { cwd: ROOT, encoding: 'utf8', timeout: 300_000 },
    );
    assert.equal(worker.status, 0, worker.stderr);
    const result = JSON.parse(worker.stdout.trim().split('\n').pop() ?? '') as {
      bytes: number;
    };
    assert.ok(result.bytes > 0);
    // a bad job: the worker says so (exit 2), where a skipped main check would exit 0 silently
    const cnn = spawnSync(process.execPath, [join(build, 'cnn-worker.js'), '{"model":"nope"}'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(cnn.status, 2, cnn.stderr);
    assert.match(cnn.stderr, /cnn bench worker: unknown model 'nope'/);
  });
});
