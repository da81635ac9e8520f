/**
 * src/cli/stdout.ts: standard output written directly (fs.writeSync on fd 1) while nothing has
 * created `process.stdout`, through the stream from then on.
 *
 * - Into a pipe and into a file, output written through writeOut, process.stdout and writeOut
 *   again arrives whole and in order; the first write was direct, the last one was not.
 * - Into a pipe, `lockstep --help` and `lockstep log` (bin/lockstep.cjs, the CLI bundle's front)
 *   never load Node's net module, which creating `process.stdout` for a pipe loads, and print
 *   what they print into a file.
 * - A reader that goes away (`lockstep trace X | head -c 60`) ends the output quietly: exit 0, no
 *   EPIPE error.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { FAKE_TRAIN, ROOT, tempDir } from '../helpers/cli';

const STDOUT_TS = pathToFileURL(join(ROOT, 'src', 'cli', 'stdout.ts')).href;
const BIN = join(ROOT, 'bin', 'lockstep.cjs');
const PROBE = join(ROOT, 'tests', 'cli', 'fixtures', 'module-list.cjs');

// 200 KB lines: more than a pipe holds, so that the reader's pace matters
const SCRIPT = `
import { directStdout, writeOut } from ${JSON.stringify(STDOUT_TS)};
const line = (c) => c.repeat(200_000) + '\\n';
const before = directStdout();
writeOut(line('a'));
process.stdout.write(line('b'));
const after = directStdout();
writeOut(line('c'));
process.stderr.write(JSON.stringify({ before, after }));
`;

const expected = ['a', 'b', 'c'].map((c) => c.repeat(200_000) + '\n').join('');

test('into a pipe: direct until process.stdout exists, then the stream; all in order', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 16 << 20,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout === expected, `wrong output: ${r.stdout.length} characters`);
  assert.deepEqual(JSON.parse(r.stderr), { before: process.platform === 'linux', after: false });
});

test('into a file: the same', () => {
  const file = join(tempDir(), 'out.txt');
  const r = spawnSync(
    'sh',
    ['-c', `"${process.execPath}" --import tsx --input-type=module -e "$SCRIPT" > "${file}"`],
    { cwd: ROOT, encoding: 'utf8', env: { ...process.env, SCRIPT } },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.ok(readFileSync(file, 'utf8') === expected, 'wrong file contents');
  assert.deepEqual(JSON.parse(r.stderr), { before: process.platform === 'linux', after: false });
});

test(
  '--help and log into a pipe load no net module, and print what they print into a file',
  {
    skip: process.platform !== 'linux' && 'direct output is for Linux only',
  },
  () => {
    const dir = tempDir();
    const store = join(dir, 'store');
    const t = spawnSync(
      process.execPath,
      [BIN, 'train', '--store', store, ...FAKE_TRAIN, '--steps', '2'],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    assert.equal(t.status, 0, t.stderr);
    for (const args of [['--help'], ['log', '--store', store]]) {
      const list = join(dir, 'modules.txt');
      const piped = spawnSync(process.execPath, ['-r', PROBE, BIN, ...args], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, CI: '1', LOCKSTEP_MODULE_LIST: list },
      });
      assert.equal(piped.status, 0, piped.stderr);
      const modules = readFileSync(list, 'utf8').split('\n');
      assert.ok(!modules.includes('NativeModule net'), `${args[0]} loaded net`);
      const file = join(dir, 'out.txt');
      const toFile = spawnSync(
        'sh',
        ['-c', `"${process.execPath}" "${BIN}" "$@" > "${file}"`, 'sh', ...args],
        {
          cwd: ROOT,
          encoding: 'utf8',
          env: { ...process.env, CI: '1' },
        },
      );
      assert.equal(toFile.status, 0, toFile.stderr);
      assert.equal(piped.stdout, readFileSync(file, 'utf8'));
      assert.ok(piped.stdout.length > 100, 'no output');
    }
  },
);

test(
  'a reader that goes away: the rest of the output is dropped quietly, exit 0',
  {
    skip: process.platform !== 'linux' && 'direct output is for Linux only',
  },
  () => {
    const store = join(tempDir(), 'store');
    // 1,500 steps: a trace of ~85 KB, more than a pipe holds once its reader has gone
    const args = ['train', '--store', store, ...FAKE_TRAIN, '--steps', '1500', '--seed', '5'];
    const t = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(t.status, 0, t.stderr);
    const branch = /done: branch (\S+)/.exec(t.stdout)?.[1];
    assert.ok(branch, t.stdout);
    // bash: its PIPESTATUS gives lockstep's exit code, not head's
    const line = `"${process.execPath}" "${BIN}" trace "${branch}" --store "${store}" | head -c 60; exit "\${PIPESTATUS[0]}"`; // prettier-ignore
    const r = spawnSync('bash', ['-c', line], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, CI: '1' },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.length, 60);
    assert.equal(r.stderr, '');
  },
);
