#!/usr/bin/env node
/**
 * The `lockstep` command (package.json's `bin`). A CommonJS file, so that Node starts it without
 * booting its ES module loader: the commands that never train (`--help`, `log`, `show`, `fsck`,
 * `gc`, …) then run from the CLI bundle's CommonJS front, `out/cli/<build>/front.cjs`, and never
 * load the loader at all; every other command is handed by the front to the ES module bundle
 * (`lockstep.js` of the same build) before its action starts (src/cli/front.ts).
 *
 * The bundle (made by scripts/build-cli.mjs, which `npm install` runs) is run only when it is up
 * to date with every source file it was built from (scripts/fresh-build.cjs): the front's own
 * inputs are checked before it runs, the others before it hands a command on; a stale or missing
 * bundle is rebuilt first (about a second). If no bundle can be built, or LOCKSTEP_CLI_SOURCE=1 is
 * set, it runs the TypeScript sources through tsx instead: slower to start, same behaviour. A
 * stale bundle is never run.
 *
 * front.cjs is compiled with a V8 code cache (the v8-compile-cache technique), one per command
 * (`front.<command>.cache` next to it: what `--help` compiles is not what `log` compiles; a
 * command line whose first word is not a command uses `front.other.cache`): written after a run
 * that had none or whose cache V8 rejected, through a temporary file and a rename; used only when
 * its header matches front.cjs (size, mtime) and a 64-bit hash of its bytes (V8 itself checks its
 * own version, its flags and the source's length, not the bytes: Node 20's V8 took 199 of 200
 * caches with one flipped bit each, and aborted the process in its deserializer on another). A
 * missing, damaged, stale or rejected cache only costs the compile it would have saved, never a
 * wrong result.
 *
 * A command the front handed on (`train`, `study`, `serve`, …) leaves a marker,
 * `front.<command>.handed`, and a command line with that first word then goes straight to
 * `lockstep.js` without loading the front (~30 ms less). Neither a marker nor its absence can
 * change what a command does: both programs parse every command line the same way.
 */
'use strict';
const {
  closeSync,
  existsSync,
  fstatSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} = require('node:fs');
// the CommonJS loader's Module class (the public `node:module` would load the ES module loader's
// own module too, ~1 ms)
const Module = module.constructor;
const { join, resolve } = require('node:path');
const { pathToFileURL } = require('node:url');
const vm = require('node:vm');
const { freshFront } = require('../scripts/fresh-build.cjs');

const ROOT = resolve(__dirname, '..');

/** Says why the bundle or its cache is not used, when LOCKSTEP_DEBUG is set. */
const debug = (line) => {
  if (process.env.LOCKSTEP_DEBUG) {
    process.stderr.write(`${line}\n`);
  }
};

/** Runs this process's command line in the ES module bundle `dir` (resolves when it has run). */
const runEsm = (dir) => import(pathToFileURL(join(dir, 'lockstep.js')).href).then(() => {});

const CACHE_MAGIC = 0x3343534c; // 'LSC3', little-endian
// magic, payload length, front.cjs's size (u32 each), 4 unused, its mtimeMs (f64), hash (u64)
const HEADER_BYTES = 32;

/**
 * The WebAssembly module of {@link hashMemory} (109 bytes; its text is below). Loading node:crypto
 * for a SHA-1 cost ~7 ms of every start; this costs ~3 (most of it reading the data into the
 * module's memory and compiling the function).
 *
 *   (func (export "h") (param $n i32) (result i64)   ;; memory imported as m.m
 *     h = 0x9E3779B97F4A7C15
 *     for (i = 0; i < $n; i += 8) h = rotl64((h ^ i64.load(i)) * 0xBF58476D1CE4E5B9, 31)
 *     return h)
 */
const HASH_MODULE = Buffer.from(
  'AGFzbQEAAAABBgFgAX8BfgIIAQFtAW0CAAEDAgEABwUBAWgAAApGAUQCAX8BfkKV+Kn6l7fem55/IQICQANAIAEgAE8NASACIAEpAwCFQrnLk+fR7ZGsv39+Qh+JIQIgAUEIaiEBDAALCyACCw==',
  'base64',
);

/**
 * A zeroed WebAssembly memory for `n` bytes and `hash()`, the module's function over them as
 * little-endian 64-bit words (zero-padded: the length is in the header too), an unsigned BigInt;
 * null where WebAssembly is off (`node --jitless`: no cache is read or written then). Every step
 * is a bijection of h, so a change confined to one word always changes the hash.
 * tests/cli/startup-front.test.ts checks it against a BigInt reference.
 */
function hashMemory(n) {
  if (typeof WebAssembly !== 'object') {
    return null;
  }
  const words = (n + 7) & ~7;
  const memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(words / 65536)) });
  const hash = () => {
    const mod = new WebAssembly.Module(HASH_MODULE);
    return BigInt.asUintN(64, new WebAssembly.Instance(mod, { m: { m: memory } }).exports.h(words));
  };
  return { memory, hash };
}

/**
 * Reads cache file `path` (its V8 data straight into a {@link hashMemory}, no copy): that data
 * when the header matches the front's `stat` and the data's length and hash, else null;
 * undefined when there is no such file.
 */
function cachedData(path, stat) {
  let fd;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined; // none yet
  }
  try {
    const size = fstatSync(fd).size;
    const header = Buffer.alloc(HEADER_BYTES);
    if (size < HEADER_BYTES || readSync(fd, header, 0, HEADER_BYTES, 0) !== HEADER_BYTES) {
      return null;
    }
    const n = size - HEADER_BYTES;
    if (
      header.readUInt32LE(0) !== CACHE_MAGIC ||
      header.readUInt32LE(4) !== n ||
      header.readUInt32LE(8) !== stat.size ||
      header.readDoubleLE(16) !== stat.mtimeMs
    ) {
      return null;
    }
    // (a memory only for a header that matches)
    const h = hashMemory(n);
    if (h === null) {
      return null;
    }
    const data = new Uint8Array(h.memory.buffer, 0, n);
    for (let done = 0; done < n;) {
      const got = readSync(fd, data, done, n - done, HEADER_BYTES + done);
      if (got === 0) {
        return null;
      }
      done += got;
    }
    return header.readBigUInt64LE(24) === h.hash() ? data : null;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** Writes the cache file for front `stat` through a temporary file and a rename. */
function writeCache(path, stat, data) {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32LE(CACHE_MAGIC, 0);
  header.writeUInt32LE(data.length, 4);
  header.writeUInt32LE(stat.size, 8);
  header.writeDoubleLE(stat.mtimeMs, 16);
  const h = hashMemory(data.length);
  if (h === null) {
    return;
  }
  new Uint8Array(h.memory.buffer).set(data);
  header.writeBigUInt64LE(h.hash(), 24);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, Buffer.concat([header, data]));
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true }); // (gone after the rename)
  }
}

/** The first lowercase word of the command line (a command name, mostly: not a path), or ''. */
function firstWord() {
  return process.argv.slice(2).find((a) => /^[a-z]{1,16}$/.test(a)) ?? '';
}

/** The code cache files of `dir` a command line whose first word is `word` reads, in order. */
function cacheFiles(dir, word) {
  return word === ''
    ? [join(dir, 'front.none.cache')]
    : [join(dir, `front.${word}.cache`), join(dir, 'front.other.cache')];
}

/**
 * Loads `dir`/front.cjs as a CommonJS module compiled with its code cache; returns its exports,
 * or null when the build has no front.
 */
function loadFront(dir, word) {
  const file = join(dir, 'front.cjs');
  let source;
  let stat;
  try {
    stat = statSync(file);
    source = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  let cacheFile = null;
  let data = null;
  for (const path of cacheFiles(dir, word)) {
    const d = cachedData(path, stat);
    if (d === undefined) {
      continue; // none yet
    }
    cacheFile = path;
    data = d;
    if (data === null) {
      debug(`lockstep: ${path} does not match front.cjs; rewriting it`);
    }
    break;
  }
  const script = new vm.Script(Module.wrap(source), {
    filename: file,
    cachedData: data ?? undefined,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  if (data !== null && script.cachedDataRejected) {
    debug(`lockstep: V8 rejected ${cacheFile}; rewriting it`);
  }
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(dir);
  Module._cache[file] = mod;
  script
    .runInThisContext()
    .call(mod.exports, mod.exports, Module.createRequire(file), mod, file, dir);
  mod.loaded = true;
  // after the command, so that the cache holds the functions it compiled too: the command's own
  // file when the first word is a command name (a bounded set of files), else the shared one
  // (nothing here may throw: an exception in an exit listener would change the exit code)
  process.once('exit', () => {
    let own = join(dir, 'front.other.cache');
    try {
      if (word === '' || mod.exports.commandNames().includes(word)) {
        own = cacheFiles(dir, word)[0];
      }
      if (own === cacheFile && data !== null && !script.cachedDataRejected) {
        return; // it was used as it is
      }
      writeCache(own, stat, script.createCachedData());
    } catch (e) {
      debug(`lockstep: could not write ${own}: ${e?.message ?? e}`);
    }
  });
  return mod.exports;
}

/** A fresh build's folder, built now if stale or missing; null when none can be built. */
async function rebuilt() {
  try {
    const { ensureBuilt } = await import('../scripts/build-cli.mjs');
    return await ensureBuilt({ log: debug });
  } catch (e) {
    debug(
      `lockstep: no CLI bundle (${String(e?.message ?? e).split('\n')[0]}); running the sources`,
    );
    return null;
  }
}

/** Runs this process's command line from the TypeScript sources (through tsx). */
async function runSources() {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}

/** Runs this process's command line in the ES module bundle, or the sources when there is none. */
async function runWhole(dir) {
  if (dir === null) {
    await runSources();
  } else {
    await runEsm(dir);
  }
}

/** The marker of a first word whose command the front handed on (it is then not loaded). */
const handedOn = (dir, word) => join(dir, `front.${word}.handed`);

async function start() {
  if (process.env.LOCKSTEP_CLI_SOURCE === '1') {
    await runSources();
    return;
  }
  // the front's inputs first: a command the front runs needs no more; one it hands on checks the
  // rest of the build's inputs first, and rebuilds when one changed
  const fresh = freshFront(ROOT);
  const dir = fresh?.dir ?? (await rebuilt()); // (a build made now is fresh all through)
  const whole = async () => runWhole(fresh === null || fresh.restFresh() ? dir : await rebuilt());
  const word = firstWord();
  // a command the front handed on before (`train`, `study`, …): straight to the whole program,
  // which parses the same command line the same way (the front would only have added its start)
  if (dir === null || (word !== '' && existsSync(handedOn(dir, word)))) {
    await whole();
    return;
  }
  const front = loadFront(dir, word);
  if (front === null) {
    await whole();
    return;
  }
  await front.run(process.argv, async (command) => {
    if (command === word) {
      try {
        writeFileSync(handedOn(dir, word), '');
      } catch (e) {
        debug(`lockstep: could not write ${handedOn(dir, word)}: ${e?.message ?? e}`);
      }
    }
    await whole();
  });
}

start().catch((e) => {
  process.stderr.write(`lockstep: ${e?.message ?? e}\n`);
  process.exitCode = 2;
});
