/**
 * The user's own datasets in a store (`lockstep data add|ls|rm`, issue 13).
 *
 * A dataset is two objects: the data (format `lockstep/dataset@1`, ../engine/stored-dataset.ts;
 * its id is the dataset digest runs record) and a small canonical-JSON record (DatasetRecord:
 * name, format of the files it came from, shape, examples per split, digest, size), both named by
 * the keep ref `refs/keep/data/<name>` (record id, then data id). Being a keep ref, gc keeps both
 * and fsck checks both exist; nothing else in the store changes.
 *
 * Names: lowercase letters, digits, `.`, `_`, `-` (first a letter or digit), at most 64, and not a
 * built-in dataset's name; one name, one dataset: adding a name again with the same data changes
 * nothing, with other data is refused (remove it first). Records are immutable.
 *
 * Loading by name: every store opened in this process is a place `loadDataset` looks for a name
 * that is not built in (setStoredDatasetSource, synchronous reads, hash re-checked), the store
 * opened last first. A run records the digest, so data that differs under the same name is
 * reported by verify and refused by continue.
 */
import { closeSync, constants, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { canonicalJson } from '../engine/canonical-json';
import type { DatasetFileKind } from '../engine/dataset-files';
import { sha256Hex } from '../engine/state';
import {
  datasetHeader,
  setStoredDatasetSource,
  type StoredDatasetEntry,
} from '../engine/stored-dataset';
import { DATASETS } from '../engine/types';
import { RefError, StoreCorruptError } from './api';
import type { ObjectStaging } from './staging';
import type { Store } from './store';

export const DATA_KEEP_PREFIX = 'data/';
export const DATASET_RECORD_FORMAT = 'lockstep/dataset-record@1';
const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** What `data ls` shows of a stored dataset. */
export interface DatasetRecord {
  format: typeof DATASET_RECORD_FORMAT;
  name: string;
  /** the format of the files it was added from */
  kind: DatasetFileKind;
  shape: [number, number, number];
  examples: { train: number; validation: number; test: number };
  /** SHA-256 of the data object (its id): the digest runs record */
  digest: string;
  /** size of the data object */
  bytes: number;
  /** base names of the files it was added from */
  files: string[];
}

/** Why `name` cannot name a stored dataset, or null. */
export function datasetNameProblem(name: string): string | null {
  if ((DATASETS as readonly string[]).includes(name)) {
    return `'${name}' is a built-in dataset`;
  }
  if (!NAME.test(name) || name.endsWith('.') || name.includes('..')) {
    return `a dataset name is lowercase letters, digits, '.', '_' and '-' (at most 64, starting with a letter or digit), not '${name.slice(0, 80)}'`;
  }
  return null;
}

function checkName(name: string): void {
  const problem = datasetNameProblem(name);
  if (problem !== null) {
    throw new RefError(`invalid dataset name: ${problem}`);
  }
}

/** The record of a dataset's data bytes (checked: a bad object is an InputError). */
export function datasetRecord(
  name: string,
  kind: DatasetFileKind,
  data: Uint8Array,
  files: string[],
): DatasetRecord {
  const h = datasetHeader(data);
  const v = Math.floor(h.train / 10);
  return {
    format: DATASET_RECORD_FORMAT,
    name,
    kind,
    shape: h.shape,
    examples: { train: h.train - v, validation: v, test: h.test },
    digest: sha256Hex(data),
    bytes: data.length,
    files: files.map((f) => path.basename(f)),
  };
}

/**
 * Adds a dataset (its data object's bytes) under `name`. Returns the record and whether it was
 * new; RefError when the name is invalid or holds other data.
 */
export async function addDataset(
  store: Store,
  rec: DatasetRecord,
  data: Uint8Array,
): Promise<{ record: DatasetRecord; created: boolean }> {
  checkName(rec.name);
  if (sha256Hex(data) !== rec.digest) {
    throw new Error('addDataset: data does not hash to the record digest');
  }
  const old = await findDataset(store, rec.name);
  if (old !== null) {
    if (old.digest !== rec.digest) {
      throw new RefError(
        `dataset '${rec.name}' exists with other data (digest ${old.digest.slice(0, 12)}): remove it first (lockstep data rm ${rec.name})`,
      );
    }
    return { record: old, created: false };
  }
  const dataId = await store.putObject(data);
  const recordId = await store.putObject(new TextEncoder().encode(canonicalJson(rec)));
  await store.setKeep(DATA_KEEP_PREFIX + rec.name, [recordId, dataId]);
  return { record: rec, created: true };
}

/** The record of dataset `name`, or null; StoreCorruptError when its objects are damaged. */
export async function findDataset(store: Store, name: string): Promise<DatasetRecord | null> {
  checkName(name);
  const ids = (await store.listKeeps()).get(DATA_KEEP_PREFIX + name);
  return ids === undefined ? null : readRecord(store, name, ids);
}

async function readRecord(store: Store, name: string, ids: string[]): Promise<DatasetRecord> {
  if (ids.length !== 2) {
    throw new StoreCorruptError(name, `keep ref data/${name} does not name a record and its data`);
  }
  let rec: DatasetRecord;
  try {
    rec = JSON.parse(new TextDecoder().decode(await store.getObject(ids[0]))) as DatasetRecord;
  } catch (e) {
    if (e instanceof Error && e.name === 'StoreCorruptError') {
      throw e;
    }
    throw new StoreCorruptError(ids[0], `dataset '${name}': its record does not parse`);
  }
  if (rec?.format !== DATASET_RECORD_FORMAT || rec.name !== name || rec.digest !== ids[1]) {
    throw new StoreCorruptError(ids[0], `dataset '${name}': its record does not match its ref`);
  }
  return rec;
}

/**
 * Names a dataset whose two objects were staged by an import (./staging.ts): both are renamed
 * into place under the writer lock, then the keep ref is written.
 */
export async function adoptStagedDataset(
  store: Store,
  staging: ObjectStaging,
  name: string,
  recordId: string,
  dataId: string,
): Promise<void> {
  checkName(name);
  await store.lock.run(async () => {
    await staging.commit(recordId);
    await staging.commit(dataId);
  });
  await store.setKeep(DATA_KEEP_PREFIX + name, [recordId, dataId]);
}

/** Every stored dataset, by name. */
export async function listDatasets(store: Store): Promise<DatasetRecord[]> {
  const out: DatasetRecord[] = [];
  for (const [ref, ids] of await store.listKeeps()) {
    if (ref.startsWith(DATA_KEEP_PREFIX)) {
      out.push(await readRecord(store, ref.slice(DATA_KEEP_PREFIX.length), ids));
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Removes a dataset's name (its objects go at the next gc unless a bundle import re-adds it). */
export async function removeDataset(store: Store, name: string): Promise<void> {
  if ((await findDataset(store, name)) === null) {
    throw new RefError(`no dataset '${name}' in the store (lockstep data ls)`);
  }
  await store.removeKeep(DATA_KEEP_PREFIX + name);
}

/** The record and data ids of dataset `name` (for bundles), or null. */
export async function datasetObjects(
  store: Store,
  name: string,
): Promise<{ record: string; data: string } | null> {
  if (datasetNameProblem(name) !== null) {
    return null;
  }
  const ids = (await store.listKeeps()).get(DATA_KEEP_PREFIX + name);
  return ids?.length === 2 ? { record: ids[0], data: ids[1] } : null;
}

// ---- loading by name (see the module comment) ----

const openStores: string[] = [];

/** @internal Called by Store.open: the store's datasets become loadable by name. */
export function useStoreDatasets(store: Store): void {
  const i = openStores.indexOf(store.dir);
  if (i >= 0) {
    openStores.splice(i, 1);
  }
  openStores.push(store.dir);
}

function readKeepSync(dir: string, name: string): string[] | null {
  try {
    const text = readFileSync(path.join(dir, 'refs', 'keep', 'data', name), 'utf8');
    return text.split('\n').filter((l) => l !== '');
  } catch {
    return null;
  }
}

function objectFile(dir: string, id: string): string {
  return path.join(dir, 'objects', id.slice(0, 2), id.slice(2));
}

function lookup(name: string): StoredDatasetEntry | null {
  if (datasetNameProblem(name) !== null) {
    return null;
  }
  for (let i = openStores.length - 1; i >= 0; i--) {
    const ids = readKeepSync(openStores[i], name);
    if (ids === null || ids.length !== 2 || !/^[0-9a-f]{64}$/.test(ids[1])) {
      continue;
    }
    const [dir, digest] = [openStores[i], ids[1]];
    return {
      digest,
      read(): Uint8Array {
        // (a store holds no links: never follow one)
        const fd = openSync(objectFile(dir, digest), constants.O_RDONLY | constants.O_NOFOLLOW);
        let bytes: Buffer;
        try {
          bytes = readFileSync(fd);
        } finally {
          closeSync(fd);
        }
        if (sha256Hex(bytes) !== digest) {
          throw new StoreCorruptError(digest, `dataset '${name}': object ${digest} is corrupt`);
        }
        return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      },
    };
  }
  return null;
}

setStoredDatasetSource(lookup);
