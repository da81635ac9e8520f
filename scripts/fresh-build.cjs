/**
 * The stamp check of the CLI bundle (scripts/build-cli.mjs builds it): `freshBuild(root)` is the
 * current build's folder when every input it was built from still has the size and mtime stamped
 * in `out/cli/current.json`, else null. CommonJS, so that bin/lockstep.cjs runs it without
 * booting Node's ES module loader; build-cli.mjs re-exports it.
 */
'use strict';
const { join } = require('node:path');
const { readFileSync, statSync } = require('node:fs');

/** The format of current.json; a build stamped in another format is stale (2: with front.cjs). */
const STAMP_VERSION = 2;

/**
 * The current build's folder when it is up to date with every input it was built from, else
 * null (no build, a changed, added-to or missing input, a stamp of another format).
 */
function freshBuild(root) {
  let current;
  try {
    current = JSON.parse(readFileSync(join(root, 'out', 'cli', 'current.json'), 'utf8'));
  } catch {
    return null;
  }
  if (current?.version !== STAMP_VERSION || typeof current.dir !== 'string') {
    return null;
  }
  // every start stats every input (~330 files): plain string paths (the stamps are relative,
  // '/'-separated; the system resolves their '..') and no exception for a missing file halve the
  // cost of path.join and statSync's throw path on a cold process
  const base = `${root}/`;
  for (const [path, size, mtimeMs] of current.inputs) {
    const s = statSync(base + path, { throwIfNoEntry: false });
    if (s === undefined || s.size !== size || s.mtimeMs !== mtimeMs) {
      return null;
    }
  }
  const dir = join(root, 'out', 'cli', current.dir);
  return statSync(join(dir, 'lockstep.js'), { throwIfNoEntry: false }) === undefined ? null : dir;
}

module.exports = { STAMP_VERSION, freshBuild };
