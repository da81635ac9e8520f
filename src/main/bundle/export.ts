/**
 * Writing a `.lockstep` bundle (format: ./format.ts; what goes in: ./select.ts).
 *
 * `exportBundle(store, ref, path, opts)` reads every object the selected graph needs from the
 * store (each re-checked against its hash by the store; tensor blobs are hashed streaming and
 * read again, re-checked, when their entry is written, so memory holds one blob at a time),
 * builds the manifest and writes the zip
 * through writeZip: README.txt, manifest.json, then objects/<id> sorted by id, with fixed zip
 * metadata, so the same graph exported to the same file name always gives the same bytes (the
 * manifest has no export time; README.txt names the file).
 * With `withData`, the stored datasets (../store/datasets.ts) the checkpoints were trained on go
 * along (their record and data objects, listed in `datasets`), so the bundle replays where the
 * data never was; a dataset missing from the store, or holding other data than the checkpoints
 * recorded, is a RefError. Built-in datasets are never carried.
 * The file appears complete or not at all (temp file + rename). `onProgress(done, total)` counts
 * the bytes of entry data compressed into the zip (reading from the store is fast next to
 * deflate, so it is not counted); `signal` aborts
 * between objects and between 1 MB chunks of the zip with an AbortError, leaving no file.
 * Read-only on the store. Returns the path and the size of the file in bytes.
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { canonicalJson } from '../engine/canonical-json';
import { parseManifest } from '../engine/state';
import type { BackendFingerprint, TrainingConfig } from '../engine/types';
import { RefError } from '../store/api';
import { datasetObjects } from '../store/datasets';
import type { Store } from '../store/store';
import { isBuiltinDataset } from '../engine/types';
import {
  BUNDLE_FORMAT,
  MANIFEST_ENTRY,
  OBJECTS_PREFIX,
  README_ENTRY,
  type BundleDataset,
  type BundleManifest,
  type ObjectKind,
} from './format';
import { bundleReadme } from './readme';
import { selectForBundle } from './select';
import { APP, engineVersions } from './versions';
import { writeZip } from './zip-safe';

export interface ExportOptions {
  /** carry the stored datasets the exported checkpoints were trained on (`--with-data`) */
  withData?: boolean;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

function distinct<T>(items: T[]): T[] {
  const seen = new Map<string, T>();
  for (const it of items) {
    seen.set(canonicalJson(it), it);
  }
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}

export async function exportBundle(
  store: Store,
  ref: string,
  path: string,
  opts: ExportOptions = {},
): Promise<{ path: string; bytes: number }> {
  const { signal, onProgress } = opts;
  signal?.throwIfAborted();
  const sel = await selectForBundle(store, ref);
  // tensor blobs are only checked and sized here, and read again when the zip writes them, so
  // memory holds one blob at a time whatever the bundle's size
  const objects = new Map<string, { kind: ObjectKind; data?: Uint8Array; bytes: number }>();
  const configs: TrainingConfig[] = [
    ...sel.runs.map((r) => r.config),
    ...sel.branches.map((b) => b.config),
  ];
  const datasetDigests: string[] = [];
  const backends: BackendFingerprint[] = [];
  const add = async (id: string, kind: ObjectKind): Promise<Uint8Array> => {
    signal?.throwIfAborted();
    const have = objects.get(id);
    if (have?.data) {
      return have.data;
    }
    const data = await store.getObject(id);
    objects.set(id, { kind, data, bytes: data.length });
    return data;
  };
  const addLazily = async (id: string, kind: ObjectKind): Promise<void> => {
    signal?.throwIfAborted();
    if (!objects.has(id)) {
      objects.set(id, { kind, bytes: await store.objectSize(id) });
    }
  };
  for (const n of sel.nodes) {
    const m = parseManifest(await add(n.id, 'manifest'));
    await addLazily(m.tensors.blob, 'tensors');
    if (n.trace !== undefined) {
      await add(n.trace, 'trace');
    }
    configs.push(m.config);
    datasetDigests.push(m.datasetDigest);
    backends.push(m.backend);
  }
  const datasets: BundleDataset[] = [];
  if (opts.withData) {
    const used = new Map<string, string>();
    for (const n of sel.nodes) {
      const m = parseManifest(await add(n.id, 'manifest'));
      if (!isBuiltinDataset(m.config.dataset)) {
        used.set(m.config.dataset, m.datasetDigest);
      }
    }
    for (const [name, digest] of [...used].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const ids = await datasetObjects(store, name);
      if (ids === null) {
        throw new RefError(
          `dataset '${name}' is not in this store: export without --with-data, or add it (lockstep data add)`,
        );
      }
      if (ids.data !== digest) {
        throw new RefError(
          `the store's dataset '${name}' (digest ${ids.data.slice(0, 12)}) is not the data the checkpoints were trained on (digest ${digest.slice(0, 12)})`,
        );
      }
      await add(ids.record, 'dataset-record');
      await addLazily(ids.data, 'dataset');
      datasets.push({ name, record: ids.record, data: ids.data });
    }
  }
  const ids = [...objects.keys()].sort();
  const uniqueConfigs = distinct(configs);
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    kind: sel.kind,
    ref,
    app: APP,
    engine: engineVersions(),
    configs: uniqueConfigs,
    seeds: [...new Set(uniqueConfigs.map((c) => c.seed))].sort((a, b) => a - b),
    datasetDigests: [...new Set(datasetDigests)].sort(),
    backends: distinct(backends),
    runs: sel.runs,
    branches: sel.branches,
    nodes: sel.nodes,
    tips: sel.tips,
    objects: ids.map((id) => ({
      id,
      kind: objects.get(id)!.kind,
      bytes: objects.get(id)!.bytes,
    })),
    ...(opts.withData ? { datasets } : {}),
  };
  const enc = new TextEncoder();
  const entries = [
    { name: README_ENTRY, data: enc.encode(bundleReadme(manifest, basename(path))) },
    { name: MANIFEST_ENTRY, data: enc.encode(canonicalJson(manifest) + '\n') },
    ...ids.map((id) => {
      const o = objects.get(id)!;
      return o.data !== undefined
        ? { name: OBJECTS_PREFIX + id, data: o.data }
        : { name: OBJECTS_PREFIX + id, size: o.bytes, load: () => store.getObject(id) };
    }),
  ];
  await writeZip(path, entries, (done, total) => {
    signal?.throwIfAborted();
    onProgress?.(done, total);
  });
  return { path, bytes: (await stat(path)).size };
}
