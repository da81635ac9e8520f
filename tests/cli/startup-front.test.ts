/**
 * Issue 16, "a CLI that starts like git": bin/lockstep.cjs and the CLI bundle's CommonJS front
 * (src/cli/front.ts, out/cli/<build>/front.cjs).
 *
 * - `--help`, `--version`, usage errors and the store readers run in the front and never load
 *   Node's ES module loader (a `-r` probe lists the builtins the process compiled: not even the
 *   loader's own module, which `node:module` loads); a training command is handed to the ES module
 *   bundle (the control: the probe sees the loader, a hook sees lockstep.js), and trains.
 * - Every help page, usage error and exit code of the front is byte-identical to the ES module
 *   bundle's (`node out/cli/<build>/lockstep.js`, the program it hands on to).
 * - The code caches, in a copy of the checkout (its own build): written per command after the
 *   first run, used as they are afterwards; a damaged, stale, foreign (V8 rejects it) or truncated
 *   cache gives the same output and is rewritten; an edited source is rebuilt, never run stale.
 * - A command the front handed on leaves a marker, and the next command line with that first word
 *   skips the front (same answers).
 * - The build: which CLI modules keep their lazy imports in the front (`frontModules`).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import path from 'node:path';
import vm from 'node:vm';
import { before, describe, test } from 'node:test';
import {
  asciiOnly,
  builtinNamespaces,
  freshBuild,
  frontModules,
} from '../../scripts/build-cli.mjs';
import { checkoutCopy, editDescription, FAKE_TRAIN, ROOT, tempDir } from '../helpers/cli';
import { removeDir } from '../helpers/fixtures';

const BIN = join(ROOT, 'bin', 'lockstep.cjs');
const PROBE = join(ROOT, 'tests', 'cli', 'fixtures', 'module-list.cjs');
const ESM_LOADER = 'NativeModule internal/modules/esm/loader';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function node(args: string[], env: Record<string, string> = {}, cwd = ROOT): Run {
  const r = spawnSync(process.execPath, args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, CI: '1', LOCKSTEP_CLI_SOURCE: '', LOCKSTEP_DEBUG: '', ...env },
    timeout: 300_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs `lockstep args…` (bin/lockstep.cjs) with the probe; returns its run and module list. */
function probed(args: string[]): Run & { modules: string[] } {
  const dir = tempDir('lockstep-probe-');
  try {
    const list = join(dir, 'modules.txt');
    const r = node(['-r', PROBE, BIN, ...args], { LOCKSTEP_MODULE_LIST: list });
    return { ...r, modules: readFileSync(list, 'utf8').split('\n').filter(Boolean) };
  } finally {
    removeDir(dir);
  }
}

test("package.json's bin is bin/lockstep.cjs (what the bench's start-up section runs)", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    bin: Record<string, string>;
  };
  assert.equal(pkg.bin.lockstep, 'bin/lockstep.cjs');
});

describe('the front runs the commands that never train without the ES module loader', () => {
  let store = '';
  before(() => {
    store = join(tempDir(), 'store');
    const r = node([BIN, 'train', '--store', store, ...FAKE_TRAIN, '--steps', '2', '--seed', '1']);
    assert.equal(r.code, 0, r.stderr);
  });

  test('control: train is handed to lockstep.js, boots the loader (the probe sees it), trains', () => {
    const r = probed(['train', '--store', store, ...FAKE_TRAIN, '--steps', '1', '--seed', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /done: branch/);
    assert.ok(r.modules.includes(ESM_LOADER), 'the probe saw no ES module loader');
    // the ES modules it ran, by the import-recording hook (an ES module itself)
    const dir = tempDir('lockstep-imports-');
    try {
      const log = join(dir, 'imports.log');
      const hook = join(ROOT, 'tests', 'cli', 'fixtures', 'record-imports.mjs');
      const args = ['train', '--store', store, ...FAKE_TRAIN, '--steps', '1', '--seed', '3'];
      const t = node(['--import', hook, BIN, ...args], {
        LOCKSTEP_IMPORT_LOG: log,
      });
      assert.equal(t.code, 0, t.stderr);
      assert.match(readFileSync(log, 'utf8'), /\/out\/cli\/b-[^/]+\/lockstep\.js\n/);
    } finally {
      removeDir(dir);
    }
  });

  const cases: [string, (s: string) => string[], number][] = [
    ['--help', () => ['--help'], 0],
    ['--version', () => ['--version'], 0],
    ['log --help', () => ['log', '--help'], 0],
    ['an unknown command', () => ['nope'], 2],
    ['an unknown option of show', () => ['show', '--bogus'], 2],
    ['log', (s) => ['--store', s, 'log'], 0],
    ['log --json', (s) => ['log', '--store', s, '--json'], 0],
    ['show', (s) => ['show', 'fake-mlp16x8-sgd-s1', '--store', s], 0],
    ['trace', (s) => ['trace', 'fake-mlp16x8-sgd-s1', '--store', s], 0],
    ['fsck', (s) => ['fsck', '--store', s], 0],
    ['gc', (s) => ['gc', '--store', s], 0],
    ['branch rm of a missing branch', (s) => ['branch', 'rm', 'nope', '--store', s], 2],
  ];
  for (const [name, args, code] of cases) {
    test(name, () => {
      const r = probed(args(store));
      assert.equal(r.code, code, r.stderr);
      assert.ok(r.modules.length > 0, 'the probe listed nothing');
      assert.ok(
        r.modules.some((m) => /\/out\/cli\/b-[^/]+\/front\.cjs$/.test(m)),
        'front.cjs was not loaded',
      );
      assert.ok(!r.modules.includes(ESM_LOADER), `${name} booted the ES module loader`);
      assert.ok(!r.modules.some((m) => m.endsWith('/lockstep.js')), `${name} ran lockstep.js`);
    });
  }
  // node:crypto (~7 ms to load) is a lazy builtin of the front: loaded on first use only
  test('log and --help load no node:crypto; fsck, which hashes every object, does', () => {
    for (const args of [['--help'], ['log', '--store', store]]) {
      const r = probed(args);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!r.modules.includes('NativeModule crypto'), `${args[0]} loaded node:crypto`);
    }
    const f = probed(['fsck', '--store', store]);
    assert.equal(f.code, 0, f.stderr);
    assert.ok(f.modules.includes('NativeModule crypto'), 'fsck hashed nothing');
  });
  // the store reads small files and folders synchronously and takes fs.promises on first use
  test('log loads no node:fs/promises or node:os; gc, which removes files through it, does', () => {
    const PROMISES = 'NativeModule internal/fs/promises';
    const r = probed(['log', '--store', store]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.modules.includes(PROMISES), 'log loaded node:fs/promises');
    assert.ok(!r.modules.includes('NativeModule os'), 'log --store DIR loaded node:os');
    const g = probed(['gc', '--store', store]);
    assert.equal(g.code, 0, g.stderr);
    assert.ok(g.modules.includes(PROMISES), 'gc did not load node:fs/promises');
  });
});

describe('the front answers like the ES module bundle, byte for byte', () => {
  const lines: string[][] = [
    [],
    ['--help'],
    ['-h'],
    ['--version'],
    ['help'],
    ['help', 'train'],
    ['nope'],
    ['trian'],
    ['train', '--bogus'],
    ['train', '--steps'],
    ['log', 'a', 'b'],
    ['--threads', '0', 'log'],
    ['data'],
    ['study', 'status'],
  ];
  const helpOf = (cmd: string[]): string[] => [...cmd, '--help'];
  const commands = [
    'bench',
    'branch',
    'branch rm',
    'compare',
    'continue',
    'data',
    'data add',
    'data ls',
    'data rm',
    'export',
    'fsck',
    'gc',
    'import',
    'log',
    'run',
    'run rm',
    'samples',
    'serve',
    'show',
    'study',
    'study collect',
    'study resubmit',
    'study status',
    'sweep',
    'trace',
    'train',
    'verify',
  ];
  for (const c of commands) {
    lines.push(helpOf(c.split(' ')));
  }
  for (const args of lines) {
    test(`lockstep ${args.join(' ')}`, () => {
      const build = freshBuild(ROOT);
      assert.ok(build !== null, 'no fresh build');
      const front = node([BIN, ...args]);
      const esm = node([join(build, 'lockstep.js'), ...args]);
      assert.deepEqual(front, esm);
    });
  }

  test('--help lists every command the test covers', () => {
    const r = node([BIN, '--help']);
    const listed = r.stdout
      .slice(r.stdout.indexOf('Commands:'))
      .split('\n')
      .filter((l) => /^ {2}[a-z]/.test(l))
      .map((l) => l.trim().split(/\s/)[0])
      .filter((n) => n !== 'help');
    for (const name of listed) {
      assert.ok(commands.includes(name), `${name} has no help-page case`);
    }
  });
});

/** Bytes before the V8 data in a cache file (bin/lockstep.cjs's format). */
const HEADER = 32;

/**
 * The hash bin/lockstep.cjs's WebAssembly function computes, written here with BigInt from its
 * definition: h = rotl64((h ^ w) · 0xBF58476D1CE4E5B9, 31) over the zero-padded little-endian
 * 64-bit words, from 0x9E3779B97F4A7C15.
 */
function referenceHash(data: Buffer): bigint {
  const words = Buffer.alloc((data.length + 7) & ~7);
  data.copy(words);
  const mask = (1n << 64n) - 1n;
  let h = 0x9e3779b97f4a7c15n;
  for (let i = 0; i < words.length; i += 8) {
    h = ((h ^ words.readBigUInt64LE(i)) * 0xbf58476d1ce4e5b9n) & mask;
    h = ((h << 31n) | (h >> 33n)) & mask;
  }
  return h;
}

describe('code caches (a copy of the checkout)', () => {
  let root = '';
  let build = '';
  let help = '';
  const run = (args: string[], env: Record<string, string> = {}): Run =>
    node([join(root, 'bin', 'lockstep.cjs'), ...args], env, root);
  const cacheOf = (name: string): string => join(build, `front.${name}.cache`);

  before(() => {
    root = checkoutCopy('lockstep-cache-');
    const first = run(['--help']);
    assert.equal(first.code, 0, first.stderr);
    help = first.stdout;
    const b = freshBuild(root);
    assert.ok(b !== null);
    build = b;
  });

  test('the first run writes its command’s cache; the next one uses it as it is', () => {
    assert.ok(existsSync(cacheOf('none')), 'no front.none.cache after --help');
    const before = readFileSync(cacheOf('none'));
    const again = run(['--help'], { LOCKSTEP_DEBUG: '1' });
    assert.equal(again.code, 0);
    assert.equal(again.stdout, help);
    assert.equal(again.stderr, '');
    assert.ok(readFileSync(cacheOf('none')).equals(before), 'a used cache was rewritten');
    // its header holds the V8 data's length and hash (the WebAssembly function = its definition)
    const data = before.subarray(HEADER);
    assert.equal(before.readUInt32LE(4), data.length);
    assert.equal(before.readBigUInt64LE(24), referenceHash(data));
    // another command has a cache of its own
    const log = run(['log', '--store', join(root, 'no-store')]);
    assert.equal(log.code, 0, log.stderr);
    assert.ok(existsSync(cacheOf('log')));
    // a first word that is not a command shares one file
    const other = run(['nope']);
    assert.equal(other.code, 2);
    assert.ok(existsSync(cacheOf('other')));
    assert.ok(!existsSync(cacheOf('nope')));
  });

  const damaged: [string, (cache: Buffer) => Buffer, RegExp][] = [
    [
      'a flipped byte in the V8 data',
      (c) => {
        const d = Buffer.from(c);
        d[HEADER + ((d.length - HEADER) >> 1)] ^= 0x10;
        return d;
      },
      /does not match front\.cjs/,
    ],
    ['a truncated file', (c) => c.subarray(0, c.length >> 1), /does not match front\.cjs/],
    ['a few bytes of garbage', () => Buffer.from('not a cache'), /does not match front\.cjs/],
    [
      "another front's cache (another size in the header)",
      (c) => {
        const d = Buffer.from(c);
        d.writeUInt32LE(d.readUInt32LE(8) + 1, 8);
        return d;
      },
      /does not match front\.cjs/,
    ],
    [
      'V8 data of another script, with a header that matches (V8 rejects it)',
      (c) => {
        const data = new vm.Script('"another script"').createCachedData();
        const d = Buffer.concat([c.subarray(0, HEADER), data]);
        d.writeUInt32LE(data.length, 4);
        d.writeBigUInt64LE(referenceHash(data), 24);
        return d;
      },
      /V8 rejected/,
    ],
  ];
  for (const [name, damage, says] of damaged) {
    test(`${name}: the same output, and the cache is rewritten`, () => {
      writeFileSync(cacheOf('none'), damage(readFileSync(cacheOf('none'))));
      const r = run(['--help'], { LOCKSTEP_DEBUG: '1' });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, help);
      assert.match(r.stderr, says);
      // rewritten: the next run uses it without a word
      const next = run(['--help'], { LOCKSTEP_DEBUG: '1' });
      assert.equal(next.stdout, help);
      assert.equal(next.stderr, '');
    });
  }

  test('no temporary cache files are left', () => {
    assert.deepEqual(
      readdirSync(build).filter((n) => n.endsWith('.tmp')),
      [],
    );
  });

  test('an edited source is rebuilt before the next command, cache and all', () => {
    const marker = 'Edited after the build';
    editDescription(root, `${marker}.`);
    const r = run(['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(marker));
    const rebuilt = freshBuild(root);
    assert.ok(rebuilt !== null && rebuilt !== build, 'not rebuilt');
    assert.ok(existsSync(join(rebuilt, 'front.none.cache')));
    assert.ok(statSync(join(rebuilt, 'front.cjs')).size > 0);
  });

  test('a source only the handed-on part reads: the front runs as it is, train rebuilds first', () => {
    const built = freshBuild(root);
    assert.ok(built !== null);
    const stamp = JSON.parse(readFileSync(join(root, 'out', 'cli', 'current.json'), 'utf8')) as {
      front: number;
      inputs: [string, number, number][];
    };
    const rest = stamp.inputs.slice(stamp.front).map(([p]) => p);
    const heavy = rest.find((p) => p === 'src/main/service/train.ts');
    assert.ok(
      heavy !== undefined,
      'service/train.ts is not among the inputs the front does not read',
    );
    assert.ok(!stamp.inputs.slice(0, stamp.front).some(([p]) => p === heavy));
    writeFileSync(join(root, heavy), readFileSync(join(root, heavy), 'utf8') + '\n// edited\n');
    const log = run(['log', '--store', join(root, 'no-store')]);
    assert.equal(log.code, 0, log.stderr);
    assert.equal(freshBuild(root), null, 'the edit is not seen as one');
    assert.equal(
      JSON.parse(readFileSync(join(root, 'out', 'cli', 'current.json'), 'utf8')).dir,
      basename(built),
      'log rebuilt the bundle',
    );
    const store = join(root, 'store');
    const train = run(['train', '--store', store, ...FAKE_TRAIN, '--steps', '1', '--seed', '4']);
    assert.equal(train.code, 0, train.stderr);
    const after = freshBuild(root);
    assert.ok(after !== null && after !== built, 'train ran without a rebuild');
  });

  test('a command the front handed on leaves a marker; the next one skips the front', () => {
    const store = join(root, 'marker-store');
    const args = ['train', '--store', store, ...FAKE_TRAIN, '--steps', '1'];
    const list = join(root, 'modules.txt');
    const probe = (more: string[]): Run & { modules: string[] } => {
      const r = node(['-r', PROBE, join(root, 'bin', 'lockstep.cjs'), ...more], {
        LOCKSTEP_MODULE_LIST: list,
      });
      return { ...r, modules: readFileSync(list, 'utf8').split('\n').filter(Boolean) };
    };
    const dir = freshBuild(root);
    assert.ok(dir !== null);
    const marker = join(dir, 'front.train.handed');
    assert.ok(!existsSync(marker), 'a marker before any train');
    const first = probe([...args, '--seed', '5']);
    assert.equal(first.code, 0, first.stderr);
    assert.ok(
      first.modules.some((m) => m.endsWith('/front.cjs')),
      'the first train skipped the front',
    );
    assert.ok(existsSync(marker), 'no marker after train was handed on');
    const second = probe([...args, '--seed', '6']);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /done: branch/);
    assert.ok(!second.modules.some((m) => m.endsWith('/front.cjs')), 'train loaded the front');
    // the same answers with the marker as without: usage errors and help of train
    const bad = run(['train', '--bogus']);
    const esm = node([join(dir, 'lockstep.js'), 'train', '--bogus'], {}, root);
    assert.deepEqual(bad, esm);
    // a store reader stays in the front
    const log = probe(['log', '--store', store]);
    assert.equal(log.code, 0, log.stderr);
    assert.ok(log.modules.some((m) => m.endsWith('/front.cjs')));
    assert.ok(!log.modules.includes(ESM_LOADER));
  });

  test('front.cjs starts with its "use strict" directive', () => {
    assert.ok(readFileSync(join(build, 'front.cjs'), 'utf8').startsWith('"use strict";'));
  });
});

describe('the build: which CLI modules keep their lazy imports in the front', () => {
  const input = (imports: [string, string][]) => ({
    imports: imports.map(([path, kind]) => ({ path, kind })),
  });
  const metafile = {
    inputs: {
      'src/cli/program.ts': input([
        ['src/cli/commands/log.ts', 'import-statement'],
        ['src/cli/commands/train.ts', 'import-statement'],
      ]),
      'src/cli/commands/log.ts': input([
        ['src/cli/context.ts', 'import-statement'],
        ['src/main/service/inspect.ts', 'dynamic-import'],
      ]),
      'src/cli/commands/train.ts': input([
        ['src/cli/context.ts', 'import-statement'],
        ['src/cli/training-options.ts', 'import-statement'],
        ['src/main/engine/trainer.ts', 'dynamic-import'],
      ]),
      'src/cli/context.ts': input([
        ['src/main/store/api.ts', 'import-statement'],
        ['src/main/store/store.ts', 'dynamic-import'],
      ]),
      'src/cli/training-options.ts': input([['src/main/engine/augment.ts', 'dynamic-import']]),
      'src/cli/lazy-helper.ts': input([]),
      'src/main/store/api.ts': input([['src/cli/lazy-helper.ts', 'import-statement']]),
    },
  };

  // (through any module: src/main importing src/cli is made up, to show the walk follows it)
  test("a listed command's own modules and the CLI modules they import, nothing else", () => {
    assert.deepEqual([...frontModules(metafile, ['log'])].sort(), [
      'src/cli/commands/log.ts',
      'src/cli/context.ts',
      'src/cli/lazy-helper.ts',
    ]);
    assert.deepEqual([...frontModules(metafile, ['log', 'train'])].sort(), [
      'src/cli/commands/log.ts',
      'src/cli/commands/train.ts',
      'src/cli/context.ts',
      'src/cli/lazy-helper.ts',
      'src/cli/training-options.ts',
    ]);
  });

  test('a listed file the CLI does not import fails the build', () => {
    assert.throws(() => frontModules(metafile, ['nope']), /names src\/cli\/commands\/nope\.ts/);
  });
});

describe('the front is all ASCII (asciiOnly)', () => {
  test('escapes what esbuild leaves in regular expressions; they match the same', () => {
    const source = String.raw`/^(com[0-9¹²³]|caf[é])$/iu`;
    const escaped = asciiOnly(source);
    assert.ok(
      [...escaped].every((c) => c.charCodeAt(0) < 0x80),
      escaped,
    );
    const [before, after] = [source, escaped].map((s) => vm.runInNewContext(s) as RegExp);
    for (const name of ['com1', 'COM¹', 'com³', 'café', 'CAFÉ', 'com4x', 'cafe', 'com']) {
      assert.equal(after.test(name), before.test(name), name);
    }
  });

  test("this checkout's built front.cjs holds no byte outside ASCII", () => {
    const dir = freshBuild(ROOT);
    assert.ok(dir !== null, 'no fresh build (run lockstep once)');
    const bytes = readFileSync(join(dir, 'front.cjs'));
    assert.ok(bytes.every((b) => b < 0x80));
  });
});

describe("the front's builtin namespaces (builtinNamespaces)", () => {
  test('a default or namespace import of a builtin copies none of its properties', () => {
    assert.equal(
      builtinNamespaces('a=__toESM(require("node:path"),1);b=__toESM(require("node:fs/promises"));c=__toESM(require_x())'), // prettier-ignore
      'a=__lockstepBuiltin(require("node:path"));b=__lockstepBuiltin(require("node:fs/promises"));c=__toESM(require_x())', // prettier-ignore
    );
    const dir = freshBuild(ROOT);
    assert.ok(dir !== null, 'no fresh build (run lockstep once)');
    const front = readFileSync(join(dir, 'front.cjs'), 'utf8');
    assert.doesNotMatch(front, /__toESM\(require\("node:/);
    assert.match(front, /__lockstepBuiltin\(require\("node:path"\)\)/);
    // what the front's modules read through one: the builtin's own values, `default` the module
    const ns = vm.runInNewContext(`${front.slice(front.indexOf('const __lockstepBuiltin'), front.indexOf(';', front.indexOf('const __lockstepBuiltin')) + 1)} __lockstepBuiltin(m)`, { m: path }); // prettier-ignore
    assert.equal(ns.join('a', 'b'), path.join('a', 'b'));
    assert.equal(ns.sep, path.sep);
    assert.equal(ns.default, path);
  });
});
