/**
 * A stored dataset in a job directory (issue 13). Each task of a job trains into its own fresh
 * store, where the name of a dataset the user added with `lockstep data add` means nothing; so a
 * job whose config trains on a stored dataset carries the dataset itself:
 *
 *   job.json             `dataset: { name, digest, bytes }` (the name every task's config uses)
 *   datasets/<digest>    the store's data object, byte for byte (format lockstep/dataset@1),
 *                        written once with temp + fsync + rename before job.json
 *
 * and task.sh adds it to the task's store with `lockstep data add NAME datasets/<digest> --digest
 * <digest>` before training, so every run records the digest of the data the user's store holds
 * (and a copy changed after the job was written fails the task in one line, trains nothing).
 *
 * Promises: `writeJobDataset` refuses bytes that do not hash to the digest; `checkJobDataset`
 * (every read of a job directory) refuses a missing, resized or changed copy with one InputError
 * line naming the file; `storedJobDataset` reads the dataset from the store (hash re-checked) or
 * answers null for a built-in dataset, and refuses a name the store does not hold.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex } from '../engine/state';
import { InputError, isBuiltinDataset } from '../engine/types';
import { findDataset } from '../store/datasets';
import type { Store } from '../store/store';

/** What job.json says of the stored dataset its tasks train on. */
export interface JobDataset {
  /** the dataset's name in every task config (and in the tasks' stores) */
  name: string;
  /** SHA-256 of the data object: the digest every run on it records */
  digest: string;
  /** size of the data object */
  bytes: number;
}

export const JOB_DATASETS_DIR = 'datasets';

/** Where a job directory keeps its copy of the dataset with this digest. */
export const jobDatasetPath = (dir: string, digest: string): string =>
  join(dir, JOB_DATASETS_DIR, digest);

/**
 * The stored dataset `name` for a job (its record and checked bytes), or null when `name` is a
 * built-in dataset (every node has those). InputError when the store has no such dataset.
 */
export async function storedJobDataset(
  store: Store,
  name: string,
): Promise<{ info: JobDataset; data: Uint8Array } | null> {
  if (isBuiltinDataset(name)) {
    return null;
  }
  const rec = await findDataset(store, name);
  if (rec === null) {
    throw new InputError(`no dataset '${name}' in the store (lockstep data ls)`);
  }
  const data = await store.getObject(rec.digest); // hash re-checked on read
  return { info: { name, digest: rec.digest, bytes: data.length }, data };
}

/** Writes the dataset copy of a new job directory (temp + fsync + rename). */
export async function writeJobDataset(
  dir: string,
  info: JobDataset,
  data: Uint8Array,
): Promise<void> {
  if (data.length !== info.bytes || sha256Hex(data) !== info.digest) {
    throw new Error(`writeJobDataset: the data of '${info.name}' is not its digest's`);
  }
  await mkdir(join(dir, JOB_DATASETS_DIR), { recursive: true });
  const path = jobDatasetPath(dir, info.digest);
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** InputError (one line) unless the job directory holds the dataset copy job.json names. */
export async function checkJobDataset(dir: string, info: JobDataset): Promise<void> {
  const path = jobDatasetPath(dir, info.digest);
  const where = `${JOB_DATASETS_DIR}/${info.digest.slice(0, 12)}…`;
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) {
      throw new Error('not a file');
    }
    size = st.size;
  } catch {
    throw new InputError(
      `the job directory lacks its copy of dataset '${info.name}' (${where}): it cannot run or be collected`,
    );
  }
  const bad = (why: string): never => {
    throw new InputError(
      `the job directory's copy of dataset '${info.name}' (${where}) ${why}: refused`,
    );
  };
  if (size !== info.bytes) {
    bad(`has ${size} bytes, job.json says ${info.bytes}`);
  }
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
  }
  const got = hash.digest('hex');
  if (got !== info.digest) {
    bad(`does not match its digest (it hashes to ${got.slice(0, 12)}…)`);
  }
}
