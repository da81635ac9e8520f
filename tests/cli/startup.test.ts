/**
 * Issue 16, "a CLI that starts like git": commands that never train do not load tfjs or the
 * engine's backends. Each command runs as a real process with a resolve hook that records every
 * module it loads (tests/cli/fixtures/record-imports.mjs); training is the control that shows the
 * hook sees tfjs when it is loaded.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { BIN, cli, FAKE_TRAIN, ROOT, tempDir } from '../helpers/cli';

const HOOK = join(ROOT, 'tests/cli/fixtures/record-imports.mjs');

/** Runs `lockstep args…` and returns its exit code and the module URLs it resolved. */
function loaded(
  args: string[],
  env: Record<string, string> = {},
): { code: number; stderr: string; modules: string[] } {
  const log = join(tempDir('lockstep-imports-'), 'imports.log');
  const r = spawnSync(process.execPath, ['--import', HOOK, BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, CI: '1', LOCKSTEP_IMPORT_LOG: log, ...env },
    timeout: 600_000,
  });
  let text = '';
  try {
    text = readFileSync(log, 'utf8');
  } finally {
    rmSync(join(log, '..'), { recursive: true, force: true });
  }
  const modules = text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' -> ')[1] ?? '');
  return { code: r.status ?? -1, stderr: r.stderr, modules };
}

const TFJS = /@tensorflow\/tfjs/;

describe('commands that never train do not load tfjs', () => {
  let store = '';
  let control: ReturnType<typeof loaded>;
  before(() => {
    store = join(tempDir(), 'store');
    control = loaded([
      'train',
      '--store',
      store,
      ...FAKE_TRAIN,
      '--steps',
      '2',
      '--checkpoint-every',
      '1',
      '--seed',
      '1',
      '--branch',
      'b1',
    ]);
    // a branch from step 1 with another learning rate: `compare b1 b2` finds the divergence in
    // the recorded traces and stored checkpoints, with no replay
    const branch = cli([
      'continue',
      'b1@1',
      '--steps',
      '1',
      '--lr',
      '0.5',
      '--branch',
      'b2',
      '--store',
      store,
    ]);
    assert.equal(branch.code, 0, branch.stderr);
  });

  test('control: training loads tfjs, and the hook sees it', () => {
    assert.equal(control.code, 0, control.stderr);
    assert.ok(
      control.modules.some((m) => TFJS.test(m)),
      'the hook recorded no tfjs module',
    );
  });

  test('a wasm run does not load the cpu backend; a cpu run does (the hook sees it)', () => {
    const CPU = /@tensorflow\/tfjs-backend-cpu\//;
    assert.deepEqual(
      control.modules.filter((m) => CPU.test(m)),
      [],
      'the wasm run loaded tfjs-backend-cpu',
    );
    const cpu = loaded([
      'train',
      '--store',
      join(store, '..', 'cpu-store'),
      ...FAKE_TRAIN,
      '--steps',
      '1',
      '--backend',
      'cpu',
      '--seed',
      '1',
    ]);
    assert.equal(cpu.code, 0, cpu.stderr);
    assert.ok(
      cpu.modules.some((m) => CPU.test(m)),
      'the cpu run did not load tfjs-backend-cpu',
    );
  });

  // the store checks stored datasets' labels (stored-dataset.ts) without the dataset readers
  test('log loads no dataset reader (no zlib)', () => {
    const r = loaded(['log', '--store', store]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(
      r.modules.some((m) => m === 'node:fs'),
      'the hook recorded no builtin',
    );
    assert.deepEqual(
      r.modules.filter((m) => m === 'node:zlib'),
      [],
    );
  });

  const cases: [string, (store: string) => string[], number][] = [
    ['--help', () => ['--help'], 0],
    ['--version', () => ['--version'], 0],
    ['train --help', () => ['train', '--help'], 0],
    ['log', (s) => ['log', '--store', s], 0],
    ['log on no store', (s) => ['log', '--store', join(s, 'none')], 0],
    ['show --json', (s) => ['show', 'b1', '--store', s, '--json'], 0],
    ['show', (s) => ['show', 'b1', '--store', s], 0],
    ['trace', (s) => ['trace', 'b1', '--store', s], 0],
    ['trace --with-indices', (s) => ['trace', 'b2', '--with-indices', '--store', s], 0],
    ['compare of a ref with itself', (s) => ['compare', 'b1', 'b1', '--store', s], 0],
    ['compare of stored states that differ', (s) => ['compare', 'b1', 'b2', '--store', s], 1],
    ['study --list', (s) => ['study', '--list', '--store', s], 0],
    ['export', (s) => ['export', 'b1', '-o', join(s, '..', 'b1.lockstep'), '--store', s], 0],
    [
      'import of a missing file',
      (s) => ['import', join(s, '..', 'none.lockstep'), '--store', s],
      2,
    ],
    ['branch rm of a missing branch', (s) => ['branch', 'rm', 'nope', '--store', s], 2],
    ['data ls', (s) => ['data', 'ls', '--store', s], 0],
    ['fsck', (s) => ['fsck', '--store', s], 0],
    ['gc', (s) => ['gc', '--store', s], 0],
    ['study status of a missing job dir', (s) => ['study', 'status', join(s, 'no-job')], 2],
  ];
  for (const [name, args, code] of cases) {
    test(name, () => {
      const r = loaded(args(store));
      assert.equal(r.code, code, r.stderr);
      assert.ok(r.modules.length > 0, 'the hook recorded nothing');
      const tf = r.modules.filter((m) => TFJS.test(m));
      assert.deepEqual(tf, [], `${name} loaded tfjs`);
    });
  }
});

// In the bundle, the store and zod are chunks of it and not modules of their own, so this runs
// the sources (LOCKSTEP_CLI_SOURCE=1), where every module is resolved by name.
test('--help loads neither the store nor zod (the sources, module by module)', () => {
  const r = loaded(['--help'], { LOCKSTEP_CLI_SOURCE: '1' });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(
    r.modules.some((m) => m.endsWith('/src/cli/main.ts')),
    'the sources were not run',
  );
  const heavy = r.modules.filter(
    (m) => /\/node_modules\/zod\//.test(m) || m.endsWith('/src/main/store/store.ts'),
  );
  assert.deepEqual(heavy, []);
});

// main.ts sorts the command list itself (commander's sortSubcommands starts ICU's collator)
test('--help lists every command once, in name order', () => {
  const r = cli(['--help']);
  assert.equal(r.code, 0, r.stderr);
  const names = r.stdout
    .slice(r.stdout.indexOf('Commands:'))
    .split('\n')
    .slice(1)
    .filter((l) => /^ {2}[a-z]/.test(l))
    .map((l) => l.trim().split(/\s/)[0]);
  assert.ok(names.length >= 20, `only ${names.length} commands listed`);
  assert.ok(names.includes('help') && names.includes('train') && names.includes('verify'));
  assert.deepEqual(names, [...names].sort());
  assert.equal(new Set(names).size, names.length);
});
