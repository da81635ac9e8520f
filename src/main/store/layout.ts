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
 * Branch and keep names, run ids and object ids follow ../../shared/names.ts (one grammar for the
 * store, bundles, the service, the CLI and the form): git's ref rules plus portable file names.
 */
import path from 'node:path';
import {
  branchNameProblem as newBranchNameProblem,
  isObjectId,
  runIdProblem,
  storedBranchNameProblem,
} from '../../shared/names';
import { RefError } from './api';

export const STORE_FORMAT = 'lockstep/store@1';
export const MARKER = 'lockstep-store.json';

export { MAX_NAME, isObjectId } from '../../shared/names';

/** Throws RefError unless `id` is a full lowercase 64-hex id. */
export function checkObjectId(id: unknown, what = 'object id'): string {
  if (!isObjectId(id)) {
    throw new RefError(
      `bad ${what} '${String(id).slice(0, 80)}': expected 64 lowercase hex digits`,
    );
  }
  return id;
}

/**
 * Why `name` is not a branch (or keep) name a store may hold, or null (the looser grammar of
 * stores written before the portable-name rules: such names are read, never created).
 */
export function branchNameProblem(name: string): string | null {
  return storedBranchNameProblem(name);
}

/** Throws a RefError unless `name` is a branch name a store may hold (reading). */
export function checkBranchName(name: string, what = 'branch name'): string {
  const problem = storedBranchNameProblem(name);
  if (problem !== null) {
    throw new RefError(`invalid ${what} '${String(name).slice(0, 120)}': ${problem}`);
  }
  return name;
}

/** Throws a RefError unless `name` may be given to a new branch or keep ref (../../shared/names.ts). */
export function checkNewBranchName(name: string, what = 'branch name'): string {
  const problem = newBranchNameProblem(name);
  if (problem !== null) {
    throw new RefError(`invalid ${what} '${String(name).slice(0, 120)}': ${problem}`);
  }
  return name;
}

/** Throws a RefError unless `id` is a valid run id ([A-Za-z0-9][A-Za-z0-9._-]*, ≤ 100). */
export function checkRunId(id: string): string {
  const problem = runIdProblem(id);
  if (problem !== null) {
    throw new RefError(`invalid run id '${String(id).slice(0, 120)}': ${problem}`);
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
