/**
 * Helpers for the desktop tests: an up-to-date build of the app (the preload test loads the
 * BUILT preload; the bundle test reads the built renderer), built at most once at a time.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const OUT = join(ROOT, 'out');
export const BUILT_PRELOAD = join(OUT, 'preload', 'index.cjs');
export const BUILT_RENDERER = join(OUT, 'renderer');

/** The newest modification time of any file under `dir` (0 when it does not exist). */
function newest(dir: string): number {
  if (!existsSync(dir)) {
    return 0;
  }
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) {
      t = Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs);
    }
  }
  return t;
}

/** The oldest modification time of the build's entry outputs (0 when one is missing). */
function builtAt(): number {
  const outputs = [
    BUILT_PRELOAD,
    join(BUILT_RENDERER, 'index.html'),
    join(OUT, 'main', 'index.js'),
  ];
  if (!outputs.every((f) => existsSync(f))) {
    return 0;
  }
  return Math.min(...outputs.map((f) => statSync(f).mtimeMs));
}

/**
 * Builds the app with `electron-vite build` unless out/ is newer than every source file. Test
 * files running in parallel take turns through a lock folder, so only one builds.
 */
export function ensureBuilt(): void {
  const sources = Math.max(
    newest(join(ROOT, 'src')),
    statSync(join(ROOT, 'electron.vite.config.ts')).mtimeMs,
  );
  if (builtAt() > sources) {
    return;
  }
  const lockDir = join(
    tmpdir(),
    `lockstep-build-${createHash('sha256').update(ROOT).digest('hex').slice(0, 16)}`,
  );
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lockDir);
      break;
    } catch {
      if (Date.now() > deadline) {
        throw new Error(`${lockDir} is held for more than 3 minutes; remove it if no build runs`);
      }
      spawnSync(process.execPath, ['-e', 'setTimeout(() => {}, 500)']);
    }
  }
  try {
    if (builtAt() > sources) {
      return; // another test file built it while we waited
    }
    const r = spawnSync('npx', ['electron-vite', 'build'], {
      cwd: ROOT,
      encoding: 'utf8',
      shell: process.platform === 'win32',
    });
    if (r.status !== 0) {
      throw new Error(`electron-vite build failed:\n${r.stdout}\n${r.stderr}`);
    }
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}
