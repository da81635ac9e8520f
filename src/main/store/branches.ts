/**
 * Branches and keep refs (the store's named, mutable pointers), used through Store's methods.
 *
 * A branch is a record at refs/heads/<name> (a git-like name, `/` = namespace folder; see
 * ./layout.ts). Every change happens under the writer lock and replaces the record atomically.
 * A name is free only if no branch has it, no branch is a namespace prefix of it (`a` blocks
 * `a/b`) and no branch lives under it (`a/b` blocks `a`), as in git — and only if no existing name
 * equals it, or one of its prefixes, up to letter case and Unicode normalisation (`Main` next to
 * `main` is one file on macOS and Windows). New names follow the portable grammar of
 * ../../shared/names.ts; names an older store holds are still read. No part of a ref's path may
 * be a symbolic link: such a branch is refused (StoreCorruptError) by getBranch, absent for
 * hasBranch and listBranchNames, reported by fsck, and makes gc refuse. Tips and bases must be
 * checkpoints in the store; a branch's run must exist. `updateBranch` with `expectedTip` is a
 * compare-and-swap: StoreConflictError when the tip moved.
 *
 * Keep refs (refs/keep/<name>) are lists of object or checkpoint ids that gc treats as roots:
 * the way later features (studies, imported bundles) keep what they need alive.
 */
import * as fs from 'node:fs';
import path from 'node:path';
import { RefError, StoreConflictError, type BranchRecord, type BranchStatus } from './api';
import { branchSchema } from '../../shared/record-schemas';
import { nameKey } from '../../shared/names';
import { StoreCorruptError } from './api';
import { exists, isTempName, listDir, readIfExists } from './fsutil';
import { checkBranchName, checkNewBranchName, checkObjectId, checkRunId } from './layout';
import {
  MAX_RECORD_BYTES,
  checkRecord,
  decodeBranch,
  decodeKeep,
  encodeKeep,
  encodeRecord,
} from './records';
import type { Store } from './store';
/** Creates a branch; RefError when the name is invalid or taken, or a ref does not exist. */
export async function createBranch(store: Store, rec: BranchRecord): Promise<void> {
  checkNewBranchName(rec.name);
  checkRecord(newBranch, `branch '${rec.name}'`, rec);
  await store.lock.run(async () => {
    const taken = await branchConflict(store, rec.name);
    if (taken !== null) {
      throw new RefError(taken.message);
    }
    await store.mustBeCheckpoint(rec.tip, `tip of branch '${rec.name}'`);
    if (rec.base !== null) {
      await store.mustBeCheckpoint(rec.base, `base of branch '${rec.name}'`);
    }
    if (!(await exists(store.layout.run(checkRunId(rec.run))))) {
      throw new RefError(`branch '${rec.name}' names unknown run '${rec.run}'`);
    }
    await writeBranch(store, rec);
  });
}

const newBranch = branchSchema(true);

/** lstat of `file`, or null when it cannot be had (synchronous: one quick system call). */
function lstatOrNull(file: string): fs.Stats | null {
  try {
    return fs.lstatSync(file);
  } catch {
    return null;
  }
}

/** The first part of `file`'s path from `root` (included) that is a symbolic link, or null. */
export async function linkOnPath(root: string, file: string): Promise<string | null> {
  const parts = path.relative(root, file).split(path.sep);
  let cur = root;
  for (const p of ['', ...parts]) {
    cur = p === '' ? cur : path.join(cur, p);
    const st = lstatOrNull(cur);
    if (st === null) {
      return null;
    }
    if (st.isSymbolicLink()) {
      return cur;
    }
  }
  return null;
}

function linkError(store: Store, link: string): StoreCorruptError {
  const rel = store.layout.rel(link);
  return new StoreCorruptError(
    rel,
    `${rel} is a symbolic link: Lockstep does not follow links inside a store (see fsck)`,
  );
}

export async function getBranch(store: Store, name: string): Promise<BranchRecord> {
  checkBranchName(name);
  const file = store.layout.branch(name);
  const link = await linkOnPath(path.dirname(store.layout.heads), file);
  if (link !== null) {
    throw linkError(store, link);
  }
  const st = lstatOrNull(file);
  const bytes = st?.isFile() ? await readIfExists(file, MAX_RECORD_BYTES) : null;
  if (bytes === null) {
    throw new RefError(`unknown branch '${name}'`);
  }
  return decodeBranch(bytes, store.layout.rel(file), name);
}

export async function hasBranch(store: Store, name: string): Promise<boolean> {
  if (typeof name !== 'string' || branchNameProblemOf(name)) {
    return false;
  }
  const file = store.layout.branch(name);
  if ((await linkOnPath(path.dirname(store.layout.heads), file)) !== null) {
    return false;
  }
  return lstatOrNull(file)?.isFile() ?? false;
}

function branchNameProblemOf(name: string): boolean {
  try {
    checkBranchName(name);
    return false;
  } catch {
    return true;
  }
}

/** Names of all branch records, sorted (unchecked). */
export async function listBranchNames(store: Store): Promise<string[]> {
  const names: string[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    for (const e of await listDir(dir)) {
      if (isTempName(e.name)) {
        continue;
      }
      if (e.isDirectory()) {
        await walk(path.join(dir, e.name), prefix + e.name + '/');
      } else if (e.isFile()) {
        names.push(prefix + e.name);
      }
    }
  };
  await walk(store.layout.heads, '');
  return names.sort();
}

export async function listBranches(store: Store): Promise<BranchRecord[]> {
  const out: BranchRecord[] = [];
  for (const n of await listBranchNames(store)) {
    out.push(await getBranch(store, n));
  }
  return out;
}

/**
 * Updates a branch under the lock. With `expectedTip`, fails with StoreConflictError unless the
 * tip is still that (compare-and-swap). A new tip must be an existing checkpoint.
 */
export async function updateBranch(
  store: Store,
  name: string,
  patch: { tip?: string; status?: BranchStatus; note?: string },
  expectedTip?: string,
): Promise<BranchRecord> {
  checkBranchName(name);
  return store.lock.run(async () => {
    const cur = await getBranch(store, name);
    if (expectedTip !== undefined && cur.tip !== expectedTip) {
      throw new StoreConflictError(
        `branch '${name}' moved: expected tip ${expectedTip.slice(0, 12)}, found ${cur.tip.slice(0, 12)}`,
      );
    }
    if (patch.tip !== undefined) {
      await store.mustBeCheckpoint(patch.tip, `new tip of branch '${name}'`);
    }
    const next: BranchRecord = { ...cur, updatedAt: new Date().toISOString() };
    if (patch.tip !== undefined) {
      next.tip = patch.tip;
    }
    if (patch.status !== undefined) {
      next.status = patch.status;
    }
    if (patch.note !== undefined) {
      next.note = patch.note;
    }
    await writeBranch(store, next);
    return next;
  });
}

/** Removes a branch record (its checkpoints stay until gc finds nothing else reaches them). */
export async function deleteBranch(store: Store, name: string): Promise<void> {
  checkBranchName(name);
  await store.lock.run(async () => {
    await getBranch(store, name);
    await store.io.unlink(store.layout.branch(name));
  });
}

/** How many `base-N` candidates uniqueBranchName tries before it gives up. */
export const MAX_NAME_CANDIDATES = 1000;

/**
 * `base` if free, else `base-2`, `base-3`, … up to `base-1000` (advisory: createBranch re-checks
 * under lock). A RefError when `base` is not a valid new name, when it clashes with a namespace
 * (a branch is one of its prefixes: no `base-N` can be free either), or when no candidate is free.
 */
export async function uniqueBranchName(store: Store, base: string): Promise<string> {
  checkNewBranchName(base);
  const first = await branchConflict(store, base);
  if (first === null) {
    return base;
  }
  if (first.namespace) {
    throw new RefError(first.message);
  }
  for (let i = 2; i <= MAX_NAME_CANDIDATES; i++) {
    const name = checkNewBranchName(`${base}-${i}`);
    const c = await branchConflict(store, name);
    if (c === null) {
      return name;
    }
    if (c.namespace) {
      throw new RefError(c.message);
    }
  }
  throw new RefError(
    `no free branch name like '${base}': '${base}' and '${base}-2' … '${base}-${MAX_NAME_CANDIDATES}' are taken`,
  );
}

/**
 * Why a branch cannot be created under `name`, or null. `namespace` is true when the clash is with
 * one of the name's prefixes (so no name under the same prefix can be free).
 */
export async function branchConflict(
  store: Store,
  name: string,
): Promise<{ message: string; namespace: boolean } | null> {
  const parts = name.split('/');
  let dir = store.layout.heads;
  const link = await linkOnPath(path.dirname(dir), dir);
  if (link !== null) {
    return { message: linkError(store, link).message, namespace: true };
  }
  for (let i = 0; i < parts.length; i++) {
    const last = i === parts.length - 1;
    const prefix = parts.slice(0, i + 1).join('/');
    const key = nameKey(parts[i]);
    const twins = (await listDir(dir)).filter(
      (e) => !isTempName(e.name) && nameKey(e.name) === key,
    );
    if (twins.length === 0) {
      return null;
    }
    const same = twins.find((e) => e.name === parts[i]);
    if (same === undefined) {
      const other = parts.slice(0, i).concat(twins[0].name).join('/');
      return {
        message: `branch name '${name}' clashes with '${other}': names that differ only in letter case or Unicode form are one file on macOS and Windows`,
        namespace: !last,
      };
    }
    if (same.isSymbolicLink()) {
      return { message: linkError(store, path.join(dir, same.name)).message, namespace: !last };
    }
    if (same.isFile()) {
      return last
        ? { message: `branch '${name}' already exists`, namespace: false }
        : {
            message: `branch name '${name}' is taken: branch '${prefix}' exists, and a name cannot be both a branch and a namespace of branches (as in git)`,
            namespace: true,
          };
    }
    if (last) {
      return {
        message: `branch name '${name}' is taken: branches exist under '${name}/'`,
        namespace: false,
      };
    }
    dir = path.join(dir, same.name);
  }
  return null;
}

async function writeBranch(store: Store, rec: BranchRecord): Promise<void> {
  await store.io.writeAtomic(
    store.layout.branch(rec.name),
    encodeRecord(`branch ${rec.name}`, rec),
  );
}

// ---- keep refs (extra gc roots) ----

/**
 * Records extra gc roots under `refs/keep/<name>` (a branch-like name, e.g. `study/abc`):
 * object ids, or checkpoint ids (which keep their whole lineage). Replaces an existing list.
 */
export async function setKeep(store: Store, name: string, ids: readonly string[]): Promise<void> {
  checkNewBranchName(name, 'keep name');
  ids.forEach((id) => checkObjectId(id));
  await store.lock.run(() => store.io.writeAtomic(store.layout.keepFile(name), encodeKeep(ids)));
}

export async function removeKeep(store: Store, name: string): Promise<void> {
  checkBranchName(name, 'keep name');
  await store.lock.run(() => store.io.unlink(store.layout.keepFile(name)));
}

/** All keep refs: name → ids. */
export async function listKeeps(store: Store): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const walk = async (dir: string, prefix: string): Promise<void> => {
    for (const e of await listDir(dir)) {
      if (isTempName(e.name)) {
        continue;
      }
      const file = path.join(dir, e.name);
      if (e.isDirectory()) {
        await walk(file, prefix + e.name + '/');
      } else if (e.isFile()) {
        out.set(
          prefix + e.name,
          decodeKeep(await fs.promises.readFile(file), store.layout.rel(file)),
        );
      }
    }
  };
  await walk(store.layout.keep, '');
  return out;
}
