#!/usr/bin/env node
/**
 * The CLI bundle: every entry point of src/main/entry-points.json (the CLI, the job process, the
 * bench workers) compiled by esbuild into one folder `out/cli/<build>/`, with code splitting so
 * that what a command imports lazily (tfjs, the trainer) stays a separate chunk loaded on use.
 * Dependencies are bundled too (fewer files for Node's module loader to find and read at every
 * start), except the packages that locate files of their own at run time (tfjs and its wasm
 * binaries, tfjs-node's native library: loaded with `require`, see REQUIRED), tsx and esbuild.
 *
 * Next to them, `front.cjs`: the CLI's CommonJS front (src/cli/front.ts, one file, no chunks),
 * which bin/lockstep.cjs runs so that the commands that never train start without Node's ES
 * module loader. It runs the actions of the command files src/cli/front-commands.json lists and
 * hands every other command to `lockstep.js`. A lazy import in the CLI's own modules (src/cli) is
 * left out of the front (`frontOnly`) unless a listed command file reaches that module through
 * static imports — so no action that runs in the front can reach a left-out import — and what the
 * front imports lazily from Node itself becomes a `require` (an `import()` would boot the loader).
 *
 * `out/cli/current.json` names the current build and stamps every input esbuild read (path, size,
 * mtime; an installed package's files by its package.json, see `stampedFile`): bin/lockstep.cjs
 * runs the bundle only when every input still matches (`freshBuild`, ./fresh-build.cjs), else it
 * rebuilds (`buildCli`) or falls back to the sources through tsx. A build is written to a
 * temporary folder and renamed into place, and current.json is replaced by a rename, so processes
 * starting while another builds see the old build or the new one, never half of one; a build's
 * code is never changed once renamed, so a running process keeps its lazily loaded chunks
 * (bin/lockstep.cjs adds V8 code caches of front.cjs next to it, by rename too). A superseded
 * build is kept for a week (its folder's mtime is set when it is superseded) for processes still
 * running from it (`serve` forks job processes from its own build), then deleted.
 *
 * Run by `npm install` (the `prepare` script, with --no-fail: a failed build leaves the CLI on
 * tsx) and by hand: `node scripts/build-cli.mjs` (exit 1 when the build fails).
 */
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import freshCheck from './fresh-build.cjs';

/** The repository root (this file is scripts/build-cli.mjs). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Where builds and current.json live. */
export const OUT = join(ROOT, 'out', 'cli');
const CURRENT = join(OUT, 'current.json');
const LOCK = join(OUT, 'build.lock');
/** The format of current.json (./fresh-build.cjs). */
export const STAMP_VERSION = freshCheck.STAMP_VERSION;
/** Inputs that shape the build but are not modules esbuild reads. */
const EXTRA_INPUTS = ['scripts/build-cli.mjs', 'tsconfig.node.json'];
/** Packages that stay imports from node_modules (they find files of their own at run time). */
const EXTERNAL = ['tsx', 'esbuild', 'electron'];
/**
 * tfjs (CommonJS, and it finds its wasm binaries and tfjs-node's native library at run time) stays
 * in node_modules too, but is loaded with `require`, not `import`: Node's ESM loader would run its
 * CommonJS export scanner (cjs-module-lexer) over tfjs-core's 1.2 MB at every start (~100 ms), to
 * give the same `module.exports` that `require` gives directly. Same modules, same instances (the
 * backends `require` tfjs-core themselves).
 */
const REQUIRED = /^@tensorflow\//;
const requireTfjs = {
  name: 'require-tfjs',
  setup(b) {
    b.onResolve({ filter: REQUIRED }, (args) =>
      args.namespace === 'require-tfjs'
        ? { path: args.path, external: true }
        : { path: args.path, namespace: 'require-tfjs' },
    );
    b.onLoad({ filter: /.*/, namespace: 'require-tfjs' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};
/** Bundled CommonJS packages call `require`: give every output file one (ESM has none). */
const BANNER =
  "import { createRequire as __lockstepCreateRequire } from 'node:module'; const require = __lockstepCreateRequire(import.meta.url);";
/** The front's source, and the JSON list of the command files whose actions run in it. */
const FRONT_ENTRY = 'src/cli/front.ts';
const FRONT_COMMANDS = 'src/cli/front-commands.json';
/**
 * Node builtins the front loads on first use rather than at start: `--help` never uses
 * child_process (commander's, for executable subcommands) or module (a `createRequire` for
 * cli-progress, which loads the ES module loader's own module too), no command of the front
 * uses zlib, crypto (~7 ms to load) only hashes objects and os names the default store's folder
 * and a lock's host: `log --store DIR` needs neither. A named import of a builtin becomes a
 * property read at each use (`m.spawn(…)`), so a proxy that requires the builtin on its first
 * read gives the same values; a default or namespace import reads the module when it runs (see
 * {@link builtinNamespaces}), which loads it then.
 */
const LAZY_BUILTINS = ['node:child_process', 'node:crypto', 'node:module', 'node:os', 'node:zlib'];
const LAZY_REQUIRE =
  'const __lockstepLazy = (id) => { let m; const load = () => (m ??= require(id)); return new Proxy({}, {' +
  ' get: (_, k) => load()[k], has: (_, k) => k in load(), ownKeys: () => Reflect.ownKeys(load()),' +
  ' getOwnPropertyDescriptor: (_, k) => { const d = Reflect.getOwnPropertyDescriptor(load(), k);' +
  ' return d && { ...d, configurable: true }; } }); };';

/** front.cjs's text with every `require` of a {@link LAZY_BUILTINS} builtin made lazy. */
export function lazyBuiltins(text) {
  let out = text;
  for (const id of LAZY_BUILTINS) {
    out = out.split(`require(${JSON.stringify(id)})`).join(`__lockstepLazy(${JSON.stringify(id)})`);
  }
  return out;
}

/**
 * A default or namespace import of a Node builtin (`import path from 'node:path'`,
 * `import * as fs from 'node:fs'`) is, in esbuild's CommonJS output, `__toESM(require(id), 1)`: a
 * new object with a getter for each of the module's properties (fs has ~100) — ~1.4 ms of a
 * `log` for the front's eleven such imports. Here it is an object whose prototype is the module
 * and whose `default` is the module: every read gives the module's current value, as the getters
 * did (Node's builtins read no `this` in their accessors), with nothing copied.
 */
const BUILTIN_NAMESPACE =
  'const __lockstepBuiltin = (m) => Object.create(m, { default: { value: m, enumerable: true } });';

/** front.cjs's text with every `__toESM` of a builtin's `require` made a {@link BUILTIN_NAMESPACE}. */
export function builtinNamespaces(text) {
  return text.replace(/__toESM\((require\("node:[a-z_/]+"\))(?:,1)?\)/g, '__lockstepBuiltin($1)');
}

/**
 * `text` with every character outside ASCII written as a `\u` escape. esbuild's default charset
 * escapes them in strings and templates but leaves them in regular expression literals (names.ts's
 * Windows device names hold ¹²³), where the escape means the same character. An all-ASCII
 * front.cjs is a one-byte string in V8: half the memory, and a faster read, of a two-byte one.
 */
export function asciiOnly(text) {
  return text.replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * The front's first lines. `import.meta` in the CommonJS front: `url`, `dirname` and `filename` are
 * front.cjs's own (in the ES module bundle they are those of a file of the same folder); `resolve`
 * has no CommonJS equivalent and says so if it is ever called (only the sources' branch of
 * entry-points.ts calls it). And zod (its global config, read when zod is first loaded) builds no
 * parser code with `new Function` in the front: compiling it costs a short process more than it
 * saves (~10 ms of a `log`); the results are the same (`jitless`). src/cli/front.ts removes the
 * setting before it hands a command on.
 */
const FRONT_BANNER =
  // first, so that it is the directive (the ES module bundle's code is strict code too)
  '"use strict";' +
  'globalThis.__zod_globalConfig ??= { jitless: true };' +
  LAZY_REQUIRE +
  BUILTIN_NAMESPACE +
  'const __lockstepImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' +
  'const __lockstepImportMetaResolve = (s) => { throw new Error(`import.meta.resolve(${s}) is not available in the CLI front`); };';
const FRONT_DEFINE = {
  'import.meta.url': '__lockstepImportMetaUrl',
  'import.meta.dirname': '__dirname',
  'import.meta.filename': '__filename',
  'import.meta.resolve': '__lockstepImportMetaResolve',
};

/**
 * The modules of src/cli whose lazy imports the front keeps: every src/cli module that a command
 * file of `front` (names in src/cli/commands) reaches through static imports (through any module),
 * from the ES module build's metafile (`metafile.inputs`, paths relative to the root).
 */
export function frontModules(metafile, front) {
  const seen = new Set();
  const todo = front.map((name) => `src/cli/commands/${name}.ts`);
  for (const path of todo) {
    if (!(path in metafile.inputs)) {
      throw new Error(`${FRONT_COMMANDS} names ${path}, which the CLI does not import`);
    }
  }
  while (todo.length > 0) {
    const path = todo.pop();
    if (seen.has(path)) {
      continue;
    }
    seen.add(path);
    for (const imp of metafile.inputs[path]?.imports ?? []) {
      if (imp.kind !== 'dynamic-import' && !imp.external) {
        todo.push(imp.path);
      }
    }
  }
  return new Set([...seen].filter((path) => path.startsWith('src/cli/')));
}

/**
 * The front's own resolution: a lazy import by a module of src/cli outside `keep` (see
 * {@link frontModules}) is left out — it becomes a module that fails with an internal error, which
 * no action that runs in the front can reach — and a lazy import of a Node builtin becomes a
 * `require` of it (an `import()` would boot Node's ES module loader).
 */
function frontOnly(keep) {
  return {
    name: 'front-only',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind !== 'dynamic-import') {
          return undefined;
        }
        if (args.path.startsWith('node:')) {
          return { path: args.path, namespace: 'front-builtin' };
        }
        const importer = relative(ROOT, args.importer).split(sep).join('/');
        if (importer.startsWith('src/cli/') && !keep.has(importer)) {
          return { path: `${importer} -> ${args.path}`, namespace: 'front-left-out' };
        }
        return undefined;
      });
      b.onLoad({ filter: /.*/, namespace: 'front-builtin' }, (args) => ({
        contents: `module.exports = require(${JSON.stringify(args.path)});`,
        loader: 'js',
      }));
      b.onLoad({ filter: /.*/, namespace: 'front-left-out' }, (args) => ({
        contents: `throw new Error(${JSON.stringify(`internal error: the CLI front ran a command it hands on (${args.path})`)});`,
        loader: 'js',
      }));
    },
  };
}

/** Builds superseded longer ago than this are deleted by the next build. */
const KEEP_OLD_MS = 7 * 24 * 3600 * 1000;

/** The entry points, output name → source path (src/main/entry-points.json). */
export function entryPoints(root = ROOT) {
  return JSON.parse(readFileSync(join(root, 'src', 'main', 'entry-points.json'), 'utf8'));
}

/**
 * The file whose stamp stands for input `path`: the file itself, or for a file of an installed
 * package (under node_modules/<name>/ or node_modules/@scope/<name>/, the innermost) that
 * package's package.json — which the package manager writes whenever it installs the package,
 * so one stat checks the package (zod alone is ~100 files the front's build reads; `lockstep log`
 * stats every stamp of the front before it runs). A file in node_modules changed by hand, not by
 * an install, is not noticed.
 */
export function stampedFile(path) {
  const parts = path.split(sep);
  const at = parts.lastIndexOf('node_modules');
  const name = at < 0 ? 0 : parts[at + 1]?.startsWith('@') ? 2 : 1;
  return at < 0 || at + name >= parts.length - 1
    ? path
    : [...parts.slice(0, at + 1 + name), 'package.json'].join(sep);
}

/** `[size, mtimeMs]` of a file, or null when it is missing. */
function statOf(path) {
  try {
    const s = statSync(path);
    return [s.size, s.mtimeMs];
  } catch {
    return null;
  }
}

/**
 * The current build's folder when it is up to date with every input it was built from, else
 * null (./fresh-build.cjs).
 */
export function freshBuild(root = ROOT) {
  return freshCheck.freshBuild(root);
}

/** The folder name current.json names, or null. */
function currentDir() {
  try {
    const dir = JSON.parse(readFileSync(CURRENT, 'utf8')).dir;
    return typeof dir === 'string' && statOf(join(OUT, dir)) !== null ? dir : null;
  } catch {
    return null;
  }
}

/** Writes `text` to `path` through a temp file and a rename. */
function replaceFile(path, text) {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Deletes builds other than `keep` that were superseded more than a week ago. */
function pruneOld(keep) {
  const now = Date.now();
  for (const name of readdirSync(OUT)) {
    const stamp = statOf(join(OUT, name));
    if (name === keep || !/^(b|tmp)-/.test(name) || stamp === null) {
      continue;
    }
    if (now - stamp[1] > KEEP_OLD_MS) {
      rmSync(join(OUT, name), { recursive: true, force: true });
    }
  }
}

/**
 * Builds the bundle and makes it current; returns its folder. Throws when esbuild cannot be
 * loaded or the sources do not compile (nothing is changed then).
 */
export async function buildCli({ log = () => {} } = {}) {
  const { build } = await import('esbuild');
  mkdirSync(OUT, { recursive: true });
  const id = `${Date.now().toString(36)}-${process.pid}`;
  const tmp = join(OUT, `tmp-${id}`);
  const started = Date.now();
  const entries = entryPoints();
  // every input is stamped as it was just before esbuild read it: a file changed later no longer
  // matches its stamp, so a build never passes for fresher than what it read
  const stamps = new Map(EXTRA_INPUTS.map((p) => [join(ROOT, p), statOf(join(ROOT, p))]));
  // the front's inputs: the extra ones, the list of its commands and what its build reads
  const frontInputs = new Set([...stamps.keys(), join(ROOT, FRONT_COMMANDS)]);
  const stampInputs = (into) => ({
    name: 'stamp-inputs',
    setup(b) {
      b.onLoad({ filter: /.*/ }, (args) => {
        if (args.namespace === 'file') {
          const file = stampedFile(args.path);
          if (!stamps.has(file)) {
            stamps.set(file, statOf(file));
          }
          into?.add(file);
        }
        return undefined;
      });
    },
  });
  try {
    // what both builds share
    const common = {
      absWorkingDir: ROOT,
      outdir: tmp,
      bundle: true,
      platform: 'node',
      target: 'node20.19',
      mainFields: ['module', 'main'],
      minifyWhitespace: true,
      minifySyntax: true,
      external: EXTERNAL,
      tsconfig: join(ROOT, 'tsconfig.node.json'),
      logLevel: 'silent',
    };
    const esm = await build({
      ...common,
      entryPoints: Object.fromEntries(
        Object.entries(entries).map(([name, src]) => [name, join(ROOT, src)]),
      ),
      splitting: true,
      format: 'esm',
      banner: { js: BANNER },
      chunkNames: 'chunk-[hash]',
      plugins: [stampInputs(null), requireTfjs],
      metafile: true,
    });
    const front = JSON.parse(readFileSync(join(ROOT, FRONT_COMMANDS), 'utf8'));
    stamps.set(join(ROOT, FRONT_COMMANDS), statOf(join(ROOT, FRONT_COMMANDS)));
    await build({
      ...common,
      entryPoints: { front: join(ROOT, FRONT_ENTRY) },
      outExtension: { '.js': '.cjs' },
      format: 'cjs',
      define: FRONT_DEFINE,
      banner: { js: FRONT_BANNER },
      plugins: [
        stampInputs(frontInputs),
        frontOnly(frontModules(esm.metafile, front)),
        requireTfjs,
      ],
    });
    const frontFile = join(tmp, 'front.cjs');
    writeFileSync(
      frontFile,
      asciiOnly(builtinNamespaces(lazyBuiltins(readFileSync(frontFile, 'utf8')))),
    );
    // the front's inputs first (fresh-build.cjs checks those alone before it runs the front)
    const inputs = [];
    const paths = [...stamps.keys()];
    for (const path of [
      ...paths.filter((p) => frontInputs.has(p)),
      ...paths.filter((p) => !frontInputs.has(p)),
    ]) {
      const s = stamps.get(path);
      const rel = relative(ROOT, path).split(sep).join('/');
      inputs.push(s === null ? [rel, -1, -1] : [rel, s[0], s[1]]);
    }
    const dir = `b-${id}`;
    renameSync(tmp, join(OUT, dir));
    const previous = currentDir();
    replaceFile(
      CURRENT,
      JSON.stringify({ version: STAMP_VERSION, dir, front: frontInputs.size, inputs }) + '\n',
    );
    if (previous !== null) {
      // superseded now: pruneOld counts its week from here
      const now = new Date();
      try {
        utimesSync(join(OUT, previous), now, now);
      } catch {
        // (deleted meanwhile, or not ours to touch: it is then pruned by its build time)
      }
    }
    log(`lockstep: CLI bundle built in ${Date.now() - started} ms (out/cli/${dir})`);
    pruneOld(dir);
    return join(OUT, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Waits while another process holds the build lock (up to `waitMs`), then returns its fresh build
 * if it made one; otherwise builds under the lock. Several CLIs started at once on a stale build
 * (a test run) so build once.
 */
export async function ensureBuilt({ log = () => {}, waitMs = 60_000 } = {}) {
  mkdirSync(OUT, { recursive: true });
  const deadline = Date.now() + waitMs;
  for (;;) {
    let fd = null;
    try {
      fd = openSync(LOCK, 'wx');
    } catch (e) {
      if (e.code !== 'EEXIST') {
        throw e;
      }
    }
    if (fd !== null) {
      try {
        return freshBuild() ?? (await buildCli({ log }));
      } finally {
        closeSync(fd);
        rmSync(LOCK, { force: true });
      }
    }
    const lock = statOf(LOCK);
    if (lock !== null && Date.now() - lock[1] > waitMs) {
      rmSync(LOCK, { force: true }); // left by a build that died
      continue;
    }
    if (Date.now() > deadline) {
      return buildCli({ log });
    }
    await new Promise((r) => setTimeout(r, 50));
    const dir = freshBuild();
    if (dir !== null) {
      return dir;
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const noFail = process.argv.includes('--no-fail');
  try {
    await buildCli({ log: (l) => process.stderr.write(`${l}\n`) });
  } catch (e) {
    const first = e?.errors?.[0];
    const why = first
      ? `${first.location ? `${first.location.file}:${first.location.line}: ` : ''}${first.text}`
      : (e?.message ?? String(e)).split('\n')[0];
    process.stderr.write(`lockstep: could not build the CLI bundle: ${why}\n`);
    if (noFail) {
      process.stderr.write('lockstep: the CLI runs from the TypeScript sources (tsx) instead\n');
    } else {
      process.exitCode = 1;
    }
  }
}
