/**
 * Reading and validating a `.lockstep` bundle without any store (used by import and verify).
 *
 * `readBundle(path, limits?)` returns the checked manifest and the decoded checkpoint manifests
 * (not the objects' bytes), or throws a BundleError naming what is wrong — it never touches a
 * store. Memory is bounded whatever the bundle's size: at most about twice the largest object
 * (one entry inflated, and a tensor blob decoded against its manifest) plus the checkpoint
 * manifests and manifest.json, which are small. Checks, in order:
 *  1. the zip's central directory through openZipSafely (path escapes, symlinks, duplicates,
 *     declared sizes against the caps; see ./zip-safe.ts) with BUNDLE_LIMITS, then — before any
 *     object is inflated — every entry against the format and manifest.json: listed, with the
 *     size the manifest gives it, checkpoint manifests and traces within their caps, and tensor
 *     blobs with the size their checkpoint manifests' shapes give them (SIZE_MISMATCH). Entries
 *     are then inflated one at a time (sizes that lie, truncation, CRCs), hashed, checked for
 *     their kind (a blob decodes to its manifests' tensors, a trace parses) and dropped: only
 *     checkpoint manifests are kept;
 *  2. NOT_A_BUNDLE without manifest.json; UNEXPECTED_ENTRY for any entry other than README.txt,
 *     manifest.json and objects/<64-hex id>; the manifest's schema (./format.ts: NOT_A_BUNDLE,
 *     UNKNOWN_VERSION, BAD_MANIFEST);
 *  3. every object: HASH_MISMATCH when its bytes do not hash to its name (detail: the object and
 *     the checkpoint that needs it), MISSING_OBJECT when the manifest lists it but it is absent,
 *     UNEXPECTED_ENTRY when it is present but unlisted or needed by no checkpoint; BAD_OBJECT
 *     when a checkpoint manifest does not parse, is not at its node's step, or its tensor blob
 *     does not decode to the tensors it names;
 *  4. the graph: BAD_GRAPH unless parents come at earlier steps, each branch's base is an
 *     ancestor of its tip, tips are bundle checkpoints, a run's root is at step 0, and a branch's
 *     lineage starts at its run's root. Parents, traces and runs may be absent from the bundle
 *     only if the store that imports it has them: they are returned in `external` for the
 *     importer to check.
 * `openBundleObjects(bundle)` is the second pass: it opens the file again and hands out one
 * object at a time, re-checked against its id (a file changed since the first pass is refused
 * with HASH_MISMATCH or the zip's own errors), so an importer can stream the objects into a
 * store's staging area without ever holding them all.
 */
import { safetensorsLayout } from '../engine/safetensors';
import { sha256Hex, parseManifest, type StateManifest } from '../engine/state';
import type { CheckpointNode } from '../store/api';
import { datasetHeader } from '../engine/stored-dataset';
import { DATASET_RECORD_FORMAT, datasetNameProblem, type DatasetRecord } from '../store/datasets';
import { objectKindProblem } from '../store/kinds';
import { BundleError, type BundleErrorDetail } from './errors';
import {
  MANIFEST_ENTRY,
  OBJECTS_PREFIX,
  README_ENTRY,
  parseBundleManifest,
  type BundleManifest,
  type ObjectKind,
} from './format';
import { openZipSafely, type ZipLimits } from './zip-safe';

/** 2 GiB in all (one entry may use all of it), at most 200 000 entries. */
export const BUNDLE_LIMITS: ZipLimits = {
  maxEntries: 200_000,
  maxTotalBytes: 2 ** 31,
  maxEntryBytes: 2 ** 31,
};

export interface CheckedCheckpoint {
  node: CheckpointNode;
  manifest: StateManifest;
  manifestBytes: Uint8Array;
  blobId: string;
}

export interface ReadBundle {
  /** the file it was read from (the second pass reads the objects from it again) */
  path: string;
  limits: ZipLimits;
  manifest: BundleManifest;
  /** every object the bundle holds: id → its kind */
  objects: Map<string, ObjectKind>;
  /** every checkpoint of the bundle, parents first */
  checkpoints: CheckedCheckpoint[];
  /** the stored datasets it carries (`export --with-data`) */
  datasets: CheckedDataset[];
  /** what the bundle refers to but does not hold: the importing store must have it */
  external: { checkpoints: Map<string, string>; objects: Map<string, string>; runs: Set<string> };
}

const OBJECT_ENTRY = /^objects\/([0-9a-f]{64})$/;

/** Largest manifest.json read (a 200 000-object bundle's manifest is ~60 MB). */
const MAX_MANIFEST_ENTRY = 256 * 2 ** 20;
/** Largest checkpoint manifest or trace segment object. */
const MAX_SMALL_OBJECT: Record<Exclude<ObjectKind, 'tensors' | 'dataset'>, number> = {
  manifest: 64 * 2 ** 20,
  trace: 512 * 2 ** 20,
  'dataset-record': 2 ** 20,
};
/** Room a safetensors header may take beyond the tensor data it describes. */
const HEADER_SLACK = 2 ** 20;

export async function readBundle(path: string, limits = BUNDLE_LIMITS): Promise<ReadBundle> {
  const zip = await openZipSafely(path, limits);
  let manifest: BundleManifest;
  /** what pass 1 saw of each present object (bytes kept for checkpoint manifests only) */
  const present = new Map<string, Seen>();
  /** checkpoint manifests (by id) that name each tensor blob */
  const blobUsers = new Map<string, Map<string, StateManifest>>();
  try {
    if (!zip.names.includes(MANIFEST_ENTRY)) {
      throw new BundleError(
        'NOT_A_BUNDLE',
        `${path} is a zip but not a Lockstep bundle: it has no ${MANIFEST_ENTRY}`,
      );
    }
    // 1. the central directory against the format, then against the manifest: nothing but
    //    manifest.json is inflated until every entry is known and its size is what it must be
    const objectNames = new Map<string, string>();
    for (const name of zip.names) {
      const m = OBJECT_ENTRY.exec(name);
      if (m) {
        objectNames.set(m[1], name);
      } else if (name !== MANIFEST_ENTRY && name !== README_ENTRY) {
        throw new BundleError(
          'UNEXPECTED_ENTRY',
          `bundle entry ${JSON.stringify(name)} is not part of the bundle format`,
        );
      }
    }
    if (zip.declared(MANIFEST_ENTRY) > MAX_MANIFEST_ENTRY) {
      throw new BundleError(
        'BAD_MANIFEST',
        `bundle manifest is invalid: ${MANIFEST_ENTRY} declares ${zip.declared(MANIFEST_ENTRY)} bytes, more than ${MAX_MANIFEST_ENTRY}`,
      );
    }
    manifest = parseBundleManifest(await zip.read(MANIFEST_ENTRY));
    const listedObjects = new Map(manifest.objects.map((o) => [o.id, o]));
    for (const [id, name] of objectNames) {
      const o = listedObjects.get(id);
      if (o === undefined) {
        throw new BundleError(
          'UNEXPECTED_ENTRY',
          `bundle entry objects/${id} is not listed in the manifest`,
        );
      }
      if (zip.declared(name) !== o.bytes) {
        throw new BundleError(
          'BAD_MANIFEST',
          `bundle manifest is invalid: it lists ${o.kind} object ${id} with ${o.bytes} bytes, but its entry declares ${zip.declared(name)}`,
        );
      }
      if (o.kind !== 'tensors' && o.kind !== 'dataset' && o.bytes > MAX_SMALL_OBJECT[o.kind]) {
        throw new BundleError(
          'ENTRY_TOO_LARGE',
          `${o.kind} object ${id} declares ${o.bytes} bytes, more than the ${MAX_SMALL_OBJECT[o.kind]} such an object may have`,
        );
      }
    }
    // 2. checkpoint manifests (small) first: a tensor blob must have the size its manifest's
    //    shapes give it before it is inflated
    const expected = new Map<string, number>();
    for (const o of manifest.objects) {
      const name = objectNames.get(o.id);
      if (o.kind !== 'manifest' || name === undefined) {
        continue;
      }
      const bytes = await zip.read(name);
      present.set(o.id, { hash: sha256Hex(bytes), bytes });
      try {
        const m = parseManifest(bytes);
        if (typeof m.tensors?.blob === 'string') {
          const users = blobUsers.get(m.tensors.blob) ?? new Map<string, StateManifest>();
          users.set(o.id, m);
          blobUsers.set(m.tensors.blob, users);
        }
        const floats = Object.values(m.tensors?.shapes ?? {}).reduce(
          (n, shape) => n + (Array.isArray(shape) ? shape.reduce((a, d) => a * Number(d), 1) : 0),
          0,
        );
        if (typeof m.tensors?.blob === 'string' && Number.isFinite(floats)) {
          expected.set(m.tensors.blob, Math.max(expected.get(m.tensors.blob) ?? 0, floats * 4));
        }
      } catch {
        // reported with its checkpoint below
      }
    }
    for (const o of manifest.objects) {
      const name = objectNames.get(o.id);
      if (o.kind !== 'tensors' || name === undefined) {
        continue;
      }
      const want = expected.get(o.id);
      if (want !== undefined && (o.bytes < want || o.bytes > want + HEADER_SLACK)) {
        throw new BundleError(
          'SIZE_MISMATCH',
          `tensor blob ${o.id} declares ${o.bytes} bytes, but its checkpoint's tensors take ${want}`,
          { object: o.id },
        );
      }
    }
    // dataset records (small) before their data: the data must have the size its record gives
    for (const o of manifest.objects) {
      const name = objectNames.get(o.id);
      if (o.kind !== 'dataset-record' || name === undefined) {
        continue;
      }
      const bytes = await zip.read(name);
      present.set(o.id, { hash: sha256Hex(bytes), bytes });
      let rec: Partial<DatasetRecord> | null = null;
      try {
        rec = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
      } catch {
        // reported with its dataset below
      }
      const data = typeof rec?.digest === 'string' ? objectNames.get(rec.digest) : undefined;
      if (data !== undefined && zip.declared(data) !== rec?.bytes) {
        throw new BundleError(
          'SIZE_MISMATCH',
          `dataset ${rec?.digest} declares ${zip.declared(data)} bytes, but its record says ${rec?.bytes}`,
          { object: rec?.digest },
        );
      }
    }
    // 3. the rest, one entry at a time: hashed and checked for its kind, then dropped
    const kinds = new Map(manifest.objects.map((o) => [o.id, o.kind]));
    for (const [id, name] of objectNames) {
      if (present.has(id)) {
        continue;
      }
      let bytes: Uint8Array | null = await zip.read(name);
      const seen: Seen = { hash: sha256Hex(bytes) };
      if (seen.hash === id && kinds.get(id) === 'tensors') {
        seen.decoded = new Map();
        for (const [user, m] of blobUsers.get(id) ?? []) {
          try {
            checkBlob(m, bytes);
            seen.decoded.set(user, null);
          } catch (e) {
            seen.decoded.set(user, (e as Error).message);
          }
        }
      } else if (seen.hash === id && kinds.get(id) === 'trace') {
        seen.kindProblem = objectKindProblem('trace', bytes);
      } else if (seen.hash === id && kinds.get(id) === 'dataset') {
        try {
          datasetHeader(bytes);
          seen.kindProblem = null;
        } catch (e) {
          seen.kindProblem = (e as Error).message;
        }
      }
      bytes = null;
      present.set(id, seen);
    }
  } finally {
    zip.close();
  }
  const listed = new Map(manifest.objects.map((o) => [o.id, o.kind]));

  const used = new Set<string>();
  const external = {
    checkpoints: new Map<string, string>(),
    objects: new Map<string, string>(),
    runs: new Set<string>(),
  };
  /** What pass 1 saw of an object after checking its hash; null when neither listed nor present. */
  const object = (id: string, kind: ObjectKind, detail: BundleErrorDetail): Seen | null => {
    const data = present.get(id);
    const what = `${kind} object ${id}${detail.checkpoint ? ` (of checkpoint ${detail.checkpoint.slice(0, 12)} at step ${detail.step})` : ''}`;
    if (data === undefined) {
      if (listed.has(id)) {
        throw new BundleError('MISSING_OBJECT', `the bundle lists ${what} but does not hold it`, {
          ...detail,
          object: id,
        });
      }
      return null;
    }
    if (listed.get(id) !== kind) {
      throw new BundleError('BAD_MANIFEST', `the manifest lists ${what} as ${listed.get(id)}`);
    }
    const actual = data.hash;
    if (actual !== id) {
      throw new BundleError('HASH_MISMATCH', `${what} is damaged: its bytes hash to ${actual}`, {
        ...detail,
        object: id,
      });
    }
    used.add(id);
    return data;
  };

  const checkpoints: CheckedCheckpoint[] = [];
  const byId = new Map<string, CheckpointNode>();
  const nodeIds = new Set(manifest.nodes.map((n) => n.id));
  for (const node of manifest.nodes) {
    const detail = { checkpoint: node.id, step: node.step };
    const mBytes = object(node.id, 'manifest', detail)?.bytes ?? null;
    if (mBytes === null) {
      throw new BundleError(
        'MISSING_OBJECT',
        `the bundle does not hold the manifest of checkpoint ${node.id} (step ${node.step})`,
        { ...detail, object: node.id },
      );
    }
    let m: StateManifest;
    try {
      const kind = objectKindProblem('manifest', mBytes);
      if (kind !== null) {
        throw new Error(kind);
      }
      m = parseManifest(mBytes);
    } catch (e) {
      throw badObject(node, (e as Error).message);
    }
    if (m.step !== node.step) {
      throw badObject(node, `its manifest is at step ${m.step}`);
    }
    const blobId = m.tensors?.blob;
    if (typeof blobId !== 'string' || !/^[0-9a-f]{64}$/.test(blobId)) {
      throw badObject(node, 'its manifest names no tensor blob');
    }
    const blob = object(blobId, 'tensors', detail);
    if (blob === null) {
      throw new BundleError(
        'MISSING_OBJECT',
        `the bundle does not hold tensor blob ${blobId} of checkpoint ${node.id} (step ${node.step})`,
        { ...detail, object: blobId },
      );
    }
    const decoded = blob.decoded?.get(node.id);
    if (decoded !== null) {
      throw badObject(node, decoded ?? 'its tensor blob was not checked against its manifest');
    }
    if (node.trace !== undefined) {
      const trace = object(node.trace, 'trace', detail);
      if (trace === null) {
        external.objects.set(node.trace, `trace of checkpoint ${node.id.slice(0, 12)}`);
      } else {
        const kind = trace.kindProblem ?? null;
        if (kind !== null) {
          throw badObject(node, `its trace ${node.trace} is not a trace segment: ${kind}`);
        }
      }
    }
    if (node.parent !== null) {
      const parent = byId.get(node.parent);
      if (parent === undefined) {
        if (nodeIds.has(node.parent)) {
          throw graph(`checkpoint ${node.id} comes before its parent ${node.parent}`);
        }
        external.checkpoints.set(node.parent, `parent of checkpoint ${node.id.slice(0, 12)}`);
      } else if (parent.step >= node.step) {
        throw graph(
          `checkpoint ${node.id} (step ${node.step}) has a parent at step ${parent.step}`,
        );
      }
    }
    byId.set(node.id, node);
    checkpoints.push({ node, manifest: m, manifestBytes: mBytes, blobId });
  }
  const datasets = checkDatasets(manifest, checkpoints, object);
  for (const id of listed.keys()) {
    if (!used.has(id)) {
      throw new BundleError(
        'UNEXPECTED_ENTRY',
        `bundle object ${id} is needed by no checkpoint of the bundle`,
      );
    }
  }

  /** Bundle lineage of a checkpoint, tip first (stops at a checkpoint outside the bundle). */
  const lineage = (id: string): CheckpointNode[] => {
    const out: CheckpointNode[] = [];
    for (let n = byId.get(id); n; n = n.parent === null ? undefined : byId.get(n.parent)) {
      out.push(n);
    }
    return out;
  };
  const runIds = new Set(manifest.runs.map((r) => r.id));
  const runsById = new Map(manifest.runs.map((r) => [r.id, r]));
  for (const r of manifest.runs) {
    const root = byId.get(r.root);
    if (root === undefined) {
      external.checkpoints.set(r.root, `root of run '${r.id}'`);
    } else if (root.step !== 0) {
      throw graph(`run '${r.id}' has its root ${r.root} at step ${root.step}, not 0`);
    }
  }
  for (const b of manifest.branches) {
    if (!byId.has(b.tip)) {
      throw graph(`the tip ${b.tip} of branch '${b.name}' is not in the bundle`);
    }
    const line = lineage(b.tip);
    if (b.base !== null && !line.some((n) => n.id === b.base)) {
      throw graph(`the base of branch '${b.name}' is not an ancestor of its tip`);
    }
    if (!runIds.has(b.run)) {
      external.runs.add(b.run);
    }
    const first = line[line.length - 1];
    const run = runsById.get(b.run);
    if (run && first.parent === null && first.id !== run.root) {
      throw graph(`branch '${b.name}' does not start at the root of its run '${b.run}'`);
    }
  }
  for (const t of manifest.tips) {
    if (!byId.has(t)) {
      throw graph(`tip ${t} is not a checkpoint of the bundle`);
    }
  }
  return { path, limits, manifest, objects: listed, checkpoints, external, datasets };
}

/** A stored dataset a bundle carries, checked (`export --with-data`). */
export interface CheckedDataset {
  name: string;
  record: DatasetRecord;
  recordId: string;
  recordBytes: Uint8Array;
  /** id of the data object = the digest runs on it recorded */
  data: string;
}

/**
 * The bundle's datasets: each record parses, names its dataset and data object, the data object
 * is a stored dataset of the size the record gives, and some checkpoint of the bundle was trained
 * on that name and digest (a bundle carries no data that none of its runs used).
 */
function checkDatasets(
  manifest: BundleManifest,
  checkpoints: CheckedCheckpoint[],
  object: (id: string, kind: ObjectKind, detail: BundleErrorDetail) => Seen | null,
): CheckedDataset[] {
  const out: CheckedDataset[] = [];
  for (const d of manifest.datasets ?? []) {
    const bad = (why: string): never => {
      throw new BundleError('BAD_OBJECT', `dataset '${d.name}' in the bundle is invalid: ${why}`, {
        object: d.data,
      });
    };
    const rec = object(d.record, 'dataset-record', {});
    const data = object(d.data, 'dataset', {});
    if (rec?.bytes === undefined || data === null) {
      throw new BundleError(
        'MISSING_OBJECT',
        `the bundle lists dataset '${d.name}' but does not hold its ${rec === null ? 'record' : 'data'}`,
        { object: rec === null ? d.record : d.data },
      );
    }
    let record: DatasetRecord;
    try {
      record = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(rec.bytes));
    } catch {
      return bad('its record is not JSON');
    }
    if (
      record?.format !== DATASET_RECORD_FORMAT ||
      record.name !== d.name ||
      record.digest !== d.data ||
      datasetNameProblem(record.name) !== null
    ) {
      bad('its record does not name it and its data');
    }
    if (data.kindProblem !== null) {
      bad(data.kindProblem ?? 'its data was not checked');
    }
    const used = checkpoints.some(
      (c) => c.manifest.config.dataset === d.name && c.manifest.datasetDigest === d.data,
    );
    if (!used) {
      bad('no checkpoint of the bundle was trained on it');
    }
    out.push({ name: d.name, record, recordId: d.record, recordBytes: rec.bytes, data: d.data });
  }
  return out;
}

/**
 * What decodeState checks of a blob against its manifest (layout, names; its hash is the
 * manifest's blob id, checked by the caller) without copying the tensors: pass 1 holds one blob.
 */
function checkBlob(m: StateManifest, blob: Uint8Array): void {
  const names = Object.keys(safetensorsLayout(blob).entries).sort();
  const expected = Object.keys(m.tensors.shapes).sort();
  if (names.join('\n') !== expected.join('\n')) {
    throw new Error('tensor blob names do not match the manifest');
  }
}

/** What pass 1 saw of one object of the bundle. */
interface Seen {
  /** SHA-256 of its bytes */
  hash: string;
  /** kept for checkpoint manifests only */
  bytes?: Uint8Array;
  /** tensor blobs: per checkpoint manifest naming it, null or why it does not decode */
  decoded?: Map<string, string | null>;
  /** traces: why it is not a trace segment, or null */
  kindProblem?: string | null;
}

/** The second pass over a bundle readBundle accepted: its objects, one at a time. */
export interface BundleObjects {
  /** an object's bytes, re-checked against its id; a BundleError if the file changed */
  read(id: string): Promise<Uint8Array>;
  close(): void;
}

/** Opens a checked bundle's file again to read its objects one at a time (see the header). */
export async function openBundleObjects(b: ReadBundle): Promise<BundleObjects> {
  const zip = await openZipSafely(b.path, b.limits);
  const names = new Set(zip.names);
  return {
    async read(id) {
      const name = OBJECTS_PREFIX + id;
      if (!b.objects.has(id) || !names.has(name)) {
        throw new BundleError(
          'MISSING_OBJECT',
          `${b.path} changed while it was read: it no longer holds object ${id}`,
          { object: id },
        );
      }
      const bytes = await zip.read(name);
      const actual = sha256Hex(bytes);
      if (actual !== id) {
        throw new BundleError(
          'HASH_MISMATCH',
          `${b.path} changed while it was read: object ${id} now hashes to ${actual}`,
          { object: id },
        );
      }
      return bytes;
    },
    close: () => zip.close(),
  };
}

function badObject(node: CheckpointNode, why: string): BundleError {
  return new BundleError(
    'BAD_OBJECT',
    `checkpoint ${node.id} (step ${node.step}) in the bundle is invalid: ${why}`,
    { checkpoint: node.id, step: node.step, object: node.id },
  );
}

function graph(why: string): BundleError {
  return new BundleError('BAD_GRAPH', `the bundle's run graph is inconsistent: ${why}`);
}
