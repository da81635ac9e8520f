/**
 * The programs this checkout starts as processes of their own, and where they are.
 *
 * Each entry point is a source file (./entry-points.json, also read by scripts/build-cli.mjs,
 * which bundles every one of them next to each other into `out/cli/<build>/<name>.js`). Code that
 * runs from such a bundle starts the bundled sibling with plain Node; code that runs from the
 * TypeScript sources (tsx, the tests) or from another build (electron-vite's out/main) starts the
 * source file through tsx. Either way `entryPoint(name)` gives the script and the Node options.
 *
 * `startedAs(name)` tells an entry point's module that it is the program this process runs (its
 * "main" check), under either name.
 *
 * `repoRoot()` is the folder of this checkout's package.json (found by walking up from this
 * module, so it is right from src/main, from out/cli/<build> and from out/main alike).
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ENTRY_POINTS from './entry-points.json' with { type: 'json' };

export { ENTRY_POINTS };
export type EntryName = keyof typeof ENTRY_POINTS;

/** How to start one entry point: `node ...execArgv script ...args`. */
export interface EntryCommand {
  script: string;
  execArgv: string[];
}

const here = dirname(fileURLToPath(import.meta.url));
let root: string | null = null;

/** The checkout's root: the nearest folder above this module whose package.json is Lockstep's. */
export function repoRoot(): string {
  if (root === null) {
    for (let dir = here; ; dir = dirname(dir)) {
      const pkg = join(dir, 'package.json');
      if (existsSync(pkg) && isLockstep(pkg)) {
        root = dir;
        break;
      }
      if (dirname(dir) === dir) {
        throw new Error(`lockstep's package.json not found above ${here}`);
      }
    }
  }
  return root;
}

function isLockstep(pkg: string): boolean {
  try {
    return (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'lockstep';
  } catch {
    return false;
  }
}

/** Whether this module runs from the CLI bundle (its entry points are its siblings). */
export function runningFromBundle(): boolean {
  return import.meta.url.endsWith('.js') && existsSync(join(here, 'lockstep.js'));
}

/** The script and Node options that start entry point `name` from this build or the sources. */
export function entryPoint(name: EntryName): EntryCommand {
  if (runningFromBundle()) {
    return { script: join(here, `${name}.js`), execArgv: [] };
  }
  return {
    script: join(repoRoot(), ENTRY_POINTS[name]),
    execArgv: ['--import', import.meta.resolve('tsx')],
  };
}

/** The real path of a file, or the path itself when it does not resolve. */
function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/**
 * Whether this process was started as entry point `name`: `node <its source file>` (through
 * tsx), or `node <a build>/<name>.js` of the CLI bundle.
 */
export function startedAs(name: EntryName): boolean {
  const script = process.argv[1];
  if (script === undefined) {
    return false;
  }
  const file = real(resolve(script));
  if (basename(file) === `${name}.js` && existsSync(join(dirname(file), 'lockstep.js'))) {
    return true;
  }
  return file === real(join(repoRoot(), ENTRY_POINTS[name]));
}
