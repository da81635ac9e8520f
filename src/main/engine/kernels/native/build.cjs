/**
 * Builds the native kernels (./kernels.c and what it includes, a Node-API addon) with the
 * machine's C compiler, once per version of the sources: `out/native/kernels-<digest>.node` of
 * the checkout, the digest over the sources, the compiler flags, the platform and the
 * architecture. A build is written to a temporary file and renamed into place, so processes
 * building at once never load half of one; then the builds of other versions are deleted (a
 * process that loaded one keeps its mapping).
 *
 * - `nativeTarget(root)`: the file the current source builds to (it may not exist yet).
 * - `buildNative(root, retry)`: builds it unless it exists; `{ file }` or `{ reason }` (no
 *   compiler, no Node-API headers, a platform without the kernels, the compiler's error, kept
 *   until a retry) — never throws.
 *
 * Where it cannot build, the wasm kernels run: same bits, slower (../native.ts).
 *
 * Run by `npm install` (the `prepare` script, with --no-fail) and by hand:
 * `node src/main/engine/kernels/native/build.cjs` (exit 1 when the build fails). CommonJS, so
 * that `prepare` runs it with plain Node.
 */
'use strict';
const { createHash } = require('node:crypto');
const { spawnSync } = require('node:child_process');
const { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } = require('node:fs');
const { dirname, join, resolve } = require('node:path');

/** The C sources (kernels.c includes the others): all of them make the digest. */
const SOURCES_C = ['kernels.c', 'tiles.inc.c'];
/**
 * Never a fused multiply-add (GCC contracts a·b + c by default in its GNU modes, clang within an
 * expression): the kernels' bits depend on it. No -ffast-math, for the same reason.
 */
const FLAGS = ['-O2', '-ffp-contract=off', '-fno-fast-math', '-fPIC', '-shared', '-Wall'];
/** Platforms whose linkers leave Node-API's symbols to the host process, and their extra flags. */
const PLATFORM_FLAGS = { linux: [], darwin: ['-undefined', 'dynamic_lookup'] };

/** This file's folder: the sources. */
const SOURCES = __dirname;

/** The checkout's root (this file is src/main/engine/kernels/native/build.cjs). */
const ROOT = resolve(SOURCES, '..', '..', '..', '..', '..');

function nativeTarget(root = ROOT) {
  const hash = createHash('sha256');
  for (const f of SOURCES_C) {
    hash.update(f).update(readFileSync(join(SOURCES, f)));
  }
  const digest = hash.update(JSON.stringify([FLAGS, process.platform, process.arch])).digest('hex').slice(0, 16);
  return join(root, 'out', 'native', `kernels-${digest}.node`);
}

/** The folder holding node_api.h: Node's own include folder, else a system one. */
function headers() {
  const candidates = [
    process.env.LOCKSTEP_NODE_HEADERS,
    join(dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ];
  return candidates.find((d) => d && existsSync(join(d, 'node_api.h'))) ?? null;
}

/**
 * `retry`: compile even where this version failed before (a failure is remembered next to the
 * build, `kernels-<digest>.failed`, so that every training process does not pay for the same
 * failed compile again; `npm run build:native` retries).
 */
function buildNative(root = ROOT, retry = false) {
  if (process.arch !== 'x64' || !(process.platform in PLATFORM_FLAGS)) {
    return { reason: `no native kernels for ${process.platform}-${process.arch} (x86-64 Linux and macOS only)` };
  }
  const file = nativeTarget(root);
  if (existsSync(file)) {
    return { file };
  }
  const failed = file.replace(/\.node$/, '.failed');
  if (!retry && existsSync(failed)) {
    return { reason: `${readFileSync(failed, 'utf8').trim()} (an earlier build; \`npm run build:native\` tries again)` };
  }
  const include = headers();
  if (include === null) {
    return { reason: "Node-API headers (node_api.h) not found; set LOCKSTEP_NODE_HEADERS to their folder" };
  }
  const cc = process.env.CC || 'cc';
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const args = [...FLAGS, ...PLATFORM_FLAGS[process.platform], '-I', include, join(SOURCES, SOURCES_C[0]), '-o', tmp];
  const r = spawnSync(cc, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    rmSync(tmp, { force: true });
    if (r.error) {
      // no compiler here (it may be installed later): nothing to remember
      return { reason: `${cc} could not run (${r.error.code ?? r.error.message})` };
    }
    const said = (r.stderr || '').trim().split('\n').slice(0, 3).join(' | ');
    const why = `${cc} failed (exit status ${r.status})${said ? `: ${said}` : ''}`;
    writeFileSync(failed, `${why}\n`);
    return { reason: why };
  }
  rmSync(failed, { force: true });
  renameSync(tmp, file);
  // earlier versions' builds: a process that loaded one keeps its mapping
  for (const old of readdirSync(dirname(file))) {
    if (/^kernels-[0-9a-f]{16}\.(node|failed)$/.test(old) && join(dirname(file), old) !== file) {
      rmSync(join(dirname(file), old), { force: true });
    }
  }
  return { file };
}

module.exports = { nativeTarget, buildNative, FLAGS };

if (require.main === module) {
  const r = buildNative(ROOT, true);
  if (r.file) {
    console.log(`native kernels: ${r.file}`);
  } else {
    console.error(`native kernels not built (the wasm kernels will run): ${r.reason}`);
    process.exitCode = process.argv.includes('--no-fail') ? 0 : 1;
  }
}
