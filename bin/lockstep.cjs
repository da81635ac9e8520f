#!/usr/bin/env node
/**
 * The `lockstep` command (package.json's `bin`). A CommonJS file, so that Node starts it without
 * booting its ES module loader: the commands that never train (`--help`, `log`, `show`, `fsck`,
 * `gc`, …) then run from the CLI bundle's CommonJS front, `out/cli/<build>/front.cjs`, and never
 * load the loader at all; every other command is handed by the front to the ES module bundle
 * (`lockstep.js` of the same build) before its action starts (src/cli/front.ts).
 *
 * The bundle (made by scripts/build-cli.mjs, which `npm install` runs) is run only when it is up
 * to date with every source file it was built from (scripts/fresh-build.cjs); a stale or missing
 * bundle is rebuilt first (about a second). If no bundle can be built, or LOCKSTEP_CLI_SOURCE=1 is
 * set, it runs the TypeScript sources through tsx instead: slower to start, same behaviour. A
 * stale bundle is never run.
 *
 * front.cjs is compiled with a V8 code cache, `front.cjs.cache` next to it (the v8-compile-cache
 * technique): written after a run that had none or whose cache V8 rejected, through a temporary
 * file and a rename; read only when its header matches front.cjs (size, mtime) and its checksum
 * matches its bytes (V8 itself checks its version, flags and the source's length, not the bytes).
 * A missing, corrupt, stale or rejected cache only costs the compile it would have saved.
 */
'use strict';
const { readFileSync, renameSync, statSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { join, resolve } = require('node:path');
const { pathToFileURL } = require('node:url');
const vm = require('node:vm');
const { freshBuild } = require('../scripts/fresh-build.cjs');

const ROOT = resolve(__dirname, '..');

/** Says why the bundle or its cache is not used, when LOCKSTEP_DEBUG is set. */
const debug = (line) => {
  if (process.env.LOCKSTEP_DEBUG) {
    process.stderr.write(`${line}\n`);
  }
};

/** Runs this process's command line in the ES module bundle `dir` (resolves when it has run). */
const runEsm = (dir) => import(pathToFileURL(join(dir, 'lockstep.js')).href).then(() => {});

const CACHE_MAGIC = 0x3143534c; // 'LSC1', little-endian
const HEADER_BYTES = 24; // magic, checksum, payload length (u32 each), front size (u32), mtimeMs (f64)

/** FNV-1a over 32-bit words (then the last bytes): catches a damaged cache file, cheaply. */
function checksum(bytes) {
  let h = 0x811c9dc5 | 0;
  const words = bytes.length >> 2;
  const aligned =
    bytes.byteOffset % 4 === 0 ? bytes : Buffer.from(bytes); /* a copy starts at offset 0 */
  const w = new Int32Array(aligned.buffer, aligned.byteOffset, words);
  for (let i = 0; i < words; i++) {
    h = Math.imul(h ^ w[i], 0x01000193);
  }
  for (let i = words * 4; i < bytes.length; i++) {
    h = Math.imul(h ^ bytes[i], 0x01000193);
  }
  return h >>> 0;
}

/** The V8 data of `cache` when its header matches the front's `stat` and its bytes, else null. */
function cachedData(cache, stat) {
  if (cache.length < HEADER_BYTES) {
    return null;
  }
  const data = cache.subarray(HEADER_BYTES);
  return cache.readUInt32LE(0) === CACHE_MAGIC &&
    cache.readUInt32LE(8) === data.length &&
    cache.readUInt32LE(12) === stat.size &&
    cache.readDoubleLE(16) === stat.mtimeMs &&
    cache.readUInt32LE(4) === checksum(data)
    ? data
    : null;
}

/** Writes the cache file for front `stat` through a temporary file and a rename. */
function writeCache(path, stat, data) {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32LE(CACHE_MAGIC, 0);
  header.writeUInt32LE(checksum(data), 4);
  header.writeUInt32LE(data.length, 8);
  header.writeUInt32LE(stat.size, 12);
  header.writeDoubleLE(stat.mtimeMs, 16);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, Buffer.concat([header, data]));
  renameSync(tmp, path);
}

/**
 * Loads `dir`/front.cjs as a CommonJS module compiled with its code cache; returns its exports,
 * or null when the build has no front.
 */
function loadFront(dir) {
  const file = join(dir, 'front.cjs');
  let source;
  let stat;
  try {
    stat = statSync(file);
    source = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const cacheFile = `${file}.cache`;
  let data = null;
  try {
    data = cachedData(readFileSync(cacheFile), stat);
    if (data === null) {
      debug(`lockstep: ${cacheFile} does not match front.cjs; rewriting it`);
    }
  } catch {
    // no cache yet
  }
  const script = new vm.Script(Module.wrap(source), {
    filename: file,
    cachedData: data ?? undefined,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  if (data === null || script.cachedDataRejected) {
    if (data !== null) {
      debug(`lockstep: V8 rejected ${cacheFile}; rewriting it`);
    }
    // after the command, so that the cache holds the functions it compiled too
    process.once('exit', () => {
      try {
        writeCache(cacheFile, stat, script.createCachedData());
      } catch (e) {
        debug(`lockstep: could not write ${cacheFile}: ${e?.message ?? e}`);
      }
    });
  }
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(dir);
  Module._cache[file] = mod;
  script
    .runInThisContext()
    .call(mod.exports, mod.exports, Module.createRequire(file), mod, file, dir);
  mod.loaded = true;
  return mod.exports;
}

/** The fresh bundle's folder (built now if stale or missing), or null to run the sources. */
async function bundle() {
  if (process.env.LOCKSTEP_CLI_SOURCE === '1') {
    return null;
  }
  const dir = freshBuild(ROOT);
  if (dir !== null) {
    return dir;
  }
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

async function start() {
  const dir = await bundle();
  if (dir === null) {
    const { register } = await import('tsx/esm/api');
    register();
    await import('../src/cli/main.ts');
    return;
  }
  const front = loadFront(dir);
  if (front === null) {
    debug(`lockstep: ${dir} has no front.cjs; running lockstep.js`);
    await runEsm(dir);
    return;
  }
  await front.run(process.argv, () => runEsm(dir));
}

start().catch((e) => {
  process.stderr.write(`lockstep: ${e?.message ?? e}\n`);
  process.exitCode = 2;
});
