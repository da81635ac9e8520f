/**
 * Branches and keep refs (the store's named, mutable pointers), used through Store's methods.
 *
 * A branch is a record at refs/heads/<name> (a git-like name, `/` = namespace folder; see
 * ./layout.ts). Every change happens under the writer lock and replaces the record atomically.
 * A name is free only if no branch has it, no branch is a namespace prefix of it (`a` blocks
 * `a/b`) and no branch lives under it (`a/b` blocks `a`), as in git. Tips and bases must be
 * checkpoints in the store; a branch's run must exist. `updateBranch` with `expectedTip` is a
 * compare-and-swap: StoreConflictError when the tip moved.
 *
 * Keep refs (refs/keep/<name>) are lists of object or checkpoint ids that gc treats as roots:
 * the way later features (studies, imported bundles) keep what they need alive.
 */
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import { RefError, StoreConflictError, type BranchRecord, type BranchStatus } from './api';
import { errCode, exists, isTempName, listDir, readIfExists } from './fsutil';
import { checkBranchName, checkObjectId, checkRunId } from './layout';
import { decodeBranch, decodeKeep, encodeKeep, encodeRecord } from './records';
import type { Store } from './store';
/** Creates a branch; RefError when the name is invalid or taken, or a ref does not exist. */
export async function createBranch(store: Store, rec: BranchRecord): Promise<void> {
  checkBranchName(rec.name);
  await store.lock.run(async () => {
    const taken = await branchConflict(store, rec.name);
    if (taken !== null) {
      throw new RefError(taken);
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

export async function getBranch(store: Store, name: string): Promise<BranchRecord> {
  checkBranchName(name);
  const file = store.layout.branch(name);
  let bytes: Uint8Array | null;
  try {
    bytes = await readIfExists(file);
  } catch (e) {
    if (errCode(e) === 'EISDIR') {
      bytes = null;
    } else {
      throw e;
    }
  }
  if (bytes === null) {
    throw new RefError(`unknown branch '${name}'`);
  }
  return decodeBranch(bytes, store.layout.rel(file), name);
}

export async function hasBranch(store: Store, name: string): Promise<boolean> {
  try {
    return (await fsp.stat(store.layout.branch(checkBranchName(name)))).isFile();
  } catch (e) {
    if (e instanceof RefError || errCode(e) === 'ENOENT' || errCode(e) === 'ENOTDIR') {
      return false;
    }
    throw e;
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

/** `base` if free, else `base-2`, `base-3`, … (advisory: createBranch re-checks under lock). */
export async function uniqueBranchName(store: Store, base: string): Promise<string> {
  checkBranchName(base);
  if ((await branchConflict(store, base)) === null) {
    return base;
  }
  for (let i = 2; ; i++) {
    const name = checkBranchName(`${base}-${i}`);
    if ((await branchConflict(store, name)) === null) {
      return name;
    }
  }
}

/** Why a branch cannot be created under `name`, or null. */
async function branchConflict(store: Store, name: string): Promise<string | null> {
  const st = await fsp.stat(store.layout.branch(name)).catch(() => null);
  if (st?.isFile()) {
    return `branch '${name}' already exists`;
  }
  if (st?.isDirectory()) {
    return `branch name '${name}' is taken: branches exist under '${name}/'`;
  }
  const parts = name.split('/');
  for (let i = 1; i < parts.length; i++) {
    const p = parts.slice(0, i).join('/');
    if ((await fsp.stat(store.layout.branch(p)).catch(() => null))?.isFile()) {
      return `branch name '${name}' is taken: branch '${p}' exists`;
    }
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
  checkBranchName(name, 'keep name');
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
        out.set(prefix + e.name, decodeKeep(await fsp.readFile(file), store.layout.rel(file)));
      }
    }
  };
  await walk(store.layout.keep, '');
  return out;
}
