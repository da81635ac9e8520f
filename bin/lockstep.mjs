#!/usr/bin/env node
// The `lockstep` command. It runs the CLI bundle (out/cli/<build>/lockstep.js, made by
// scripts/build-cli.mjs, which `npm install` runs) when the bundle is up to date with every source
// file it was built from; a stale or missing bundle is rebuilt first (about a second). If no
// bundle can be built, or LOCKSTEP_CLI_SOURCE=1 is set, it runs the TypeScript sources through
// tsx instead: slower to start, same behaviour. A stale bundle is never run.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureBuilt, freshBuild } from '../scripts/build-cli.mjs';

/** Says why the bundle is not used, when LOCKSTEP_DEBUG is set (stderr stays one line otherwise). */
const debug = (line) => {
  if (process.env.LOCKSTEP_DEBUG) {
    process.stderr.write(`${line}\n`);
  }
};

let dir = null;
if (process.env.LOCKSTEP_CLI_SOURCE !== '1') {
  dir = freshBuild();
  if (dir === null) {
    try {
      dir = await ensureBuilt({ log: debug });
    } catch (e) {
      debug(
        `lockstep: no CLI bundle (${String(e?.message ?? e).split('\n')[0]}); running the sources`,
      );
    }
  }
}
if (dir !== null) {
  await import(pathToFileURL(join(dir, 'lockstep.js')).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
