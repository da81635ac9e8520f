/**
 * The stamp check of the CLI bundle (scripts/build-cli.mjs builds it). `out/cli/current.json`
 * names the current build and stamps every input it was built from (path, size, mtime), the
 * inputs of its CommonJS front first (`front` of them: front.cjs is made from those alone).
 *
 * - `freshBuild(root)`: the current build's folder when every input still matches, else null.
 * - `freshFront(root)`: when the front's inputs still match, the folder and `restFresh()`, the
 *   check of the other inputs — bin/lockstep.cjs runs the front after the first check (a front
 *   made from unchanged inputs is the front a rebuild would make) and calls the second only for
 *   a command it hands to the rest of the build (`lockstep.js`), rebuilding first when it fails.
 *
 * CommonJS, so that bin/lockstep.cjs runs it without booting Node's ES module loader;
 * build-cli.mjs re-exports it.
 */
'use strict';
const { join } = require('node:path');
const { readFileSync, statSync } = require('node:fs');

/** The format of current.json; a build stamped in another format is stale (3: `front`). */
const STAMP_VERSION = 3;

/** current.json of `root`, or null when there is none or it is of another format. */
function current(root) {
  let c;
  try {
    c = JSON.parse(readFileSync(join(root, 'out', 'cli', 'current.json'), 'utf8'));
  } catch {
    return null;
  }
  return c?.version === STAMP_VERSION && typeof c.dir === 'string' && Array.isArray(c.inputs)
    ? c
    : null;
}

/** Whether inputs [from, to) still have their stamped size and mtime. */
function unchanged(root, inputs, from, to) {
  // plain string paths (the stamps are relative, '/'-separated; the system resolves their '..')
  // and no exception for a missing file halve the cost of path.join and statSync's throw path
  const base = `${root}/`;
  for (let i = from; i < to; i++) {
    const [path, size, mtimeMs] = inputs[i];
    const s = statSync(base + path, { throwIfNoEntry: false });
    if (s === undefined || s.size !== size || s.mtimeMs !== mtimeMs) {
      return false;
    }
  }
  return true;
}

/** The build's folder when `file` is in it, else null. */
function folder(root, c, file) {
  const dir = join(root, 'out', 'cli', c.dir);
  return statSync(join(dir, file), { throwIfNoEntry: false }) === undefined ? null : dir;
}

/**
 * The current build's folder when it is up to date with every input it was built from, else
 * null (no build, a changed, added-to or missing input, a stamp of another format).
 */
function freshBuild(root) {
  const c = current(root);
  return c !== null && unchanged(root, c.inputs, 0, c.inputs.length)
    ? folder(root, c, 'lockstep.js')
    : null;
}

/**
 * `{ dir, restFresh }` when the current build's front (front.cjs) is up to date with its inputs,
 * else null; `restFresh()` says whether the other inputs are unchanged too.
 */
function freshFront(root) {
  const c = current(root);
  const n = c?.front;
  if (c === null || !Number.isInteger(n) || n < 0 || n > c.inputs.length) {
    return null;
  }
  const dir = unchanged(root, c.inputs, 0, n) ? folder(root, c, 'front.cjs') : null;
  return dir === null
    ? null
    : { dir, restFresh: () => unchanged(root, c.inputs, n, c.inputs.length) };
}

module.exports = { STAMP_VERSION, freshBuild, freshFront };
