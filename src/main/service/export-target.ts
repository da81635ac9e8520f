/**
 * Where an export may write: one rule for the CLI (`export -o`) and the service (web API).
 *
 * checkExportTarget(path, { kind, force, format }) resolves the path and refuses, with one clear
 * line (InputError), before anything is written:
 * - a path inside a Lockstep store (any folder with a store marker above it, symlinks resolved):
 *   exports never write into a store, whatever `force` says;
 * - a parent directory that does not exist or is not a directory;
 * - for a file: an existing directory, or an existing file without `force`;
 * - for a directory (tfjs, tensorboard): an existing file, or a directory that already holds that
 *   format's output (model.json / weights.bin, an events file) without `force`.
 * With `force`, the writer replaces the old output (a tensorboard export removes the folder's
 * older events files, so TensorBoard does not mix two runs' curves). Writers write through a temp
 * file and a rename, so a target appears complete or not at all.
 * describeFsError turns a raw ENOENT / EEXIST / EISDIR / ENOTDIR / EACCES into such a line.
 */
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../engine/types';
import { MARKER } from '../store/layout';

export interface ExportTargetOptions {
  /** a single file, or a directory the format fills */
  kind: 'file' | 'dir';
  /** replace an existing output */
  force?: boolean;
  /** the format, for messages and for what counts as an existing output in a directory */
  format?: string;
}

export interface ExportTarget {
  /** absolute path */
  path: string;
  /** the target exists (and `force` allowed replacing it) */
  exists: boolean;
}

/** Output files a directory format writes, to tell "already holds an export" (see module doc). */
export function isFormatOutput(format: string | undefined, name: string): boolean {
  if (format === 'tfjs') {
    return name === 'model.json' || name === 'weights.bin';
  }
  if (format === 'tensorboard') {
    return name.startsWith('events.out.tfevents.');
  }
  return false;
}

/** The Lockstep store `dir` is in (a folder holding the store marker), or null. */
export function enclosingStore(dir: string): string | null {
  let cur = dir;
  for (;;) {
    if (existsSync(path.join(cur, MARKER))) {
      return cur;
    }
    const up = path.dirname(cur);
    if (up === cur) {
      return null;
    }
    cur = up;
  }
}

/** Checks an export target (see the module doc); throws InputError, writes nothing. */
export function checkExportTarget(target: string, opts: ExportTargetOptions): ExportTarget {
  if (typeof target !== 'string' || target.length === 0) {
    throw new InputError('no output path given');
  }
  const abs = path.resolve(target);
  const parent = path.dirname(abs);
  const pst = statSync(parent, { throwIfNoEntry: false });
  if (pst === undefined) {
    throw new InputError(`cannot write ${target}: directory ${parent} does not exist`);
  }
  if (!pst.isDirectory()) {
    throw new InputError(`cannot write ${target}: ${parent} is not a directory`);
  }
  const realParent = realpathSync(parent);
  const store = enclosingStore(realParent);
  const st = statSync(abs, { throwIfNoEntry: false });
  // a path that is itself a store (or a symlink into one) counts too
  const realTarget =
    st !== undefined ? realpathSync(abs) : path.join(realParent, path.basename(abs));
  const inside = store ?? (st?.isDirectory() ? enclosingStore(realTarget) : null);
  if (inside !== null) {
    throw new InputError(
      `refusing to write ${target}: it is inside the Lockstep store ${inside} (export outside the store)`,
    );
  }
  const what = opts.format !== undefined ? `--format ${opts.format}` : 'this export';
  if (st === undefined) {
    return { path: abs, exists: false };
  }
  if (opts.kind === 'file') {
    if (st.isDirectory()) {
      throw new InputError(`cannot write ${target}: it is a directory (give a file name)`);
    }
    if (!opts.force) {
      throw new InputError(`${target} already exists: pass --force to overwrite it`);
    }
    return { path: abs, exists: true };
  }
  if (!st.isDirectory()) {
    throw new InputError(`cannot write ${target}: it is a file, and ${what} writes a directory`);
  }
  const old = readdirSync(abs).filter((n) => isFormatOutput(opts.format, n));
  if (old.length > 0 && !opts.force) {
    throw new InputError(
      `${target} already holds ${what} output (${old.slice(0, 2).join(', ')}): pass --force to replace it`,
    );
  }
  return { path: abs, exists: old.length > 0 };
}

/** One line for a file-system error on an export path (null when `e` is not one). */
export function describeFsError(e: unknown, target: string): string | null {
  const code = (e as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ENOENT':
      return `cannot write ${target}: a directory on its path does not exist`;
    case 'EEXIST':
      return `cannot write ${target}: something is already there`;
    case 'EISDIR':
      return `cannot write ${target}: it is a directory`;
    case 'ENOTDIR':
      return `cannot write ${target}: a part of its path is a file, not a directory`;
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return `cannot write ${target}: permission denied`;
    case 'ENOSPC':
      return `cannot write ${target}: the disk is full`;
    default:
      return null;
  }
}
