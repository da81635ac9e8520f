/**
 * On-disk layout of a store and the rules for names in it.
 *
 * ```
 * <store>/lockstep-store.json    {"format":"lockstep/store@1"}: marks the folder as a store
 * <store>/objects/ab/cdef…       content-addressed objects (SHA-256 of the bytes, 2 + 62 hex)
 * <store>/nodes/ab/cdef….json    checkpoint node records (CheckpointNode), named by checkpoint id
 * <store>/runs/<run-id>.json     run records (RunRecord)
 * <store>/refs/heads/<branch>    branch records (BranchRecord, JSON); `/` in a name = subfolder
 * <store>/refs/keep/<name>       extra gc roots: object or checkpoint ids, one per line
 * <store>/lock                   the writer lock, present only while a writer holds it
 * ```
 * Temp files (`.tmp-<pid>-<random>`) live next to their final name until renamed.
 *
 * Branch and keep names follow git's ref rules, plus: no `@` (it separates `branch@N`), at most
 * 100 characters, and no Windows device names, so a name is a valid path on every platform.
 */
import path from 'node:path';
import { RefError } from './api';

export const STORE_FORMAT = 'lockstep/store@1';
export const MARKER = 'lockstep-store.json';

const HEX64 = /^[0-9a-f]{64}$/;
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;

export const MAX_NAME = 100;

export function isObjectId(s: unknown): s is string {
  return typeof s === 'string' && HEX64.test(s);
}

/** Throws RefError unless `id` is a full lowercase 64-hex id. */
export function checkObjectId(id: unknown, what = 'object id'): string {
  if (!isObjectId(id)) {
    throw new RefError(`bad ${what} '${String(id)}': expected 64 lowercase hex digits`);
  }
  return id;
}

/** Why `name` is not a valid branch (or keep) name, or null when it is valid. */
export function branchNameProblem(name: string): string | null {
  if (typeof name !== 'string' || name.length === 0) {
    return 'it is empty';
  }
  if (name.length > MAX_NAME) {
    return `it is longer than ${MAX_NAME} characters`;
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f]/.test(name)) {
    return 'it contains whitespace or a control character';
  }
  const bad = /[~^:?*[\\@]/.exec(name);
  if (bad) {
    return `it contains '${bad[0]}'`;
  }
  if (name.startsWith('-')) {
    return "it starts with '-'";
  }
  if (name.includes('..')) {
    return "it contains '..'";
  }
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//')) {
    return "it has an empty '/'-separated part";
  }
  if (name.endsWith('.')) {
    return "it ends with '.'";
  }
  for (const part of name.split('/')) {
    if (part.startsWith('.')) {
      return `its part '${part}' starts with '.'`;
    }
    if (part.endsWith('.lock')) {
      return `its part '${part}' ends with '.lock'`;
    }
    if (WINDOWS_DEVICE.test(part)) {
      return `its part '${part}' is a reserved device name on Windows`;
    }
  }
  return null;
}

/** Throws a RefError with a clear message unless `name` is a valid branch name. */
export function checkBranchName(name: string, what = 'branch name'): string {
  const problem = branchNameProblem(name);
  if (problem !== null) {
    throw new RefError(`invalid ${what} '${name}': ${problem}`);
  }
  return name;
}

/** Throws a RefError unless `id` is a valid run id ([A-Za-z0-9][A-Za-z0-9._-]*, ≤ 100). */
export function checkRunId(id: string): string {
  if (typeof id !== 'string' || !RUN_ID.test(id) || WINDOWS_DEVICE.test(id)) {
    throw new RefError(
      `invalid run id '${String(id)}': use letters, digits, '.', '_' and '-' (at most 100, not starting with '.', '_' or '-')`,
    );
  }
  return id;
}

/** Absolute paths of everything in a store rooted at `dir`. */
export class Layout {
  readonly marker: string;
  readonly objects: string;
  readonly nodes: string;
  readonly runs: string;
  readonly heads: string;
  readonly keep: string;
  readonly lock: string;

  constructor(readonly dir: string) {
    this.marker = path.join(dir, MARKER);
    this.objects = path.join(dir, 'objects');
    this.nodes = path.join(dir, 'nodes');
    this.runs = path.join(dir, 'runs');
    this.heads = path.join(dir, 'refs', 'heads');
    this.keep = path.join(dir, 'refs', 'keep');
    this.lock = path.join(dir, 'lock');
  }

  object(id: string): string {
    return path.join(this.objects, id.slice(0, 2), id.slice(2));
  }

  node(id: string): string {
    return path.join(this.nodes, id.slice(0, 2), id.slice(2) + '.json');
  }

  run(id: string): string {
    return path.join(this.runs, id + '.json');
  }

  branch(name: string): string {
    return path.join(this.heads, ...name.split('/'));
  }

  keepFile(name: string): string {
    return path.join(this.keep, ...name.split('/'));
  }

  /** A path relative to the store, with '/' separators (for messages and fsck names). */
  rel(file: string): string {
    return path.relative(this.dir, file).split(path.sep).join('/');
  }
}
