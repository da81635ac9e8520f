/**
 * The `.lockstep` bundle format, version 1 (`lockstep/bundle@1`): names, the manifest's schema
 * and its checked parsing.
 *
 * A bundle is a zip (written by ./zip-safe.ts) holding exactly:
 *   README.txt        what the file is and how to verify it (informative, not read back)
 *   manifest.json     the BundleManifest below, canonical JSON
 *   objects/<id>      every object the graph needs, named by the SHA-256 of its bytes: checkpoint
 *                     manifests (id = stateHash), their safetensors tensor blobs, trace segments
 *
 * `parseBundleManifest(bytes)` returns the manifest or throws a BundleError: NOT_A_BUNDLE (not a
 * JSON object with a `format`, or a format that is not a bundle's), UNKNOWN_VERSION (a bundle
 * format other than BUNDLE_FORMAT: written by a newer Lockstep), BAD_MANIFEST (a field missing or
 * of the wrong type, an invalid branch name or run id, a duplicate). It checks the shape of every
 * record; graph consistency (parents, tips, objects present, hashes) is ./read.ts's job.
 */
import type { BackendFingerprint, TrainingConfig } from '../engine/types';
import type { BranchRecord, CheckpointNode, RunRecord } from '../store/api';
import { seedProblem } from '../../shared/limits';
import { isObjectId, nameKey } from '../../shared/names';
import { STORED_DATASET_NAME } from '../../shared/training';
import {
  MAX_RECORD_DEPTH,
  branchSchema,
  jsonShapeProblem,
  nodeSchema,
  recordIssues,
  type RecordSchema,
  runSchema,
  trainingConfigSchema,
} from '../../shared/record-schemas';
import { BundleError } from './errors';

export const BUNDLE_FORMAT = 'lockstep/bundle@1';
export const MANIFEST_ENTRY = 'manifest.json';
export const README_ENTRY = 'README.txt';
export const OBJECTS_PREFIX = 'objects/';

export type BundleKind = 'branch' | 'checkpoint' | 'run';
export type ObjectKind = 'manifest' | 'tensors' | 'trace' | 'dataset' | 'dataset-record';

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  /** what was exported: one branch, one checkpoint's lineage, or a whole run */
  kind: BundleKind;
  /** the ref given to export (`main`, `main@40`, an id, `run:<id>`) */
  ref: string;
  app: { name: string; version: string };
  /** formats of the stored objects and the versions of the numeric libraries */
  engine: { stateFormat: string; traceFormat: string; libraries: Record<string, string> };
  /** summary for humans and tools: the distinct configs, seeds, dataset digests and backends */
  configs: TrainingConfig[];
  seeds: number[];
  datasetDigests: string[];
  backends: BackendFingerprint[];
  /** the graph: records as the store keeps them (node `verified` annotations are not exported) */
  runs: RunRecord[];
  branches: BranchRecord[];
  /** every checkpoint of the bundle, parents before children (by step, then id) */
  nodes: CheckpointNode[];
  /** checkpoints a replay certifies: the tips of the branches */
  tips: string[];
  /** every object entry, sorted by id */
  objects: { id: string; kind: ObjectKind; bytes: number }[];
  /**
   * stored datasets carried along (`export --with-data`): name, record object and data object
   * (../store/datasets.ts); absent when the bundle carries no data
   */
  datasets?: BundleDataset[];
}

/** A stored dataset a bundle carries: its name and its two objects. */
export interface BundleDataset {
  name: string;
  /** id of the dataset record object (kind `dataset-record`) */
  record: string;
  /** id of the data object (kind `dataset`): the digest the runs recorded */
  data: string;
}

const KINDS: readonly BundleKind[] = ['branch', 'checkpoint', 'run'];
const OBJECT_KINDS: readonly ObjectKind[] = [
  'manifest',
  'tensors',
  'trace',
  'dataset',
  'dataset-record',
];

/** Deepest nesting of manifest.json (records sit two levels down: `nodes[i].eval.test`). */
const MAX_MANIFEST_DEPTH = MAX_RECORD_DEPTH + 2;
/** Most values manifest.json may hold (200 000 objects and their records). */
const MAX_MANIFEST_VALUES = 20_000_000;

function bad(where: string, why: string): never {
  throw new BundleError('BAD_MANIFEST', `bundle manifest is invalid: ${where} ${why}`);
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function arrayOf(m: Record<string, unknown>, key: string): unknown[] {
  const v = m[key];
  if (!Array.isArray(v)) {
    bad(key, 'is not an array');
  }
  return v;
}

function needId(v: unknown, where: string): string {
  if (!isObjectId(v)) {
    bad(where, 'is not a 64-hex object id');
  }
  return v;
}

/** Checks `v` against one of the store's record schemas (the bundle's grammar is the store's). */
function record<T>(schema: RecordSchema, v: unknown, where: string): T {
  const res = schema.safeParse(v);
  if (!res.success) {
    bad(where, `is not a valid record: ${recordIssues(res.error)}`);
  }
  return v as T;
}

const newBranch = branchSchema(true);

function checkNode(v: unknown, i: number): CheckpointNode {
  const w = `nodes[${i}]`;
  const n = record<CheckpointNode>(nodeSchema, v, w);
  if ((n.step === 0) !== (n.parent === null)) {
    bad(w, 'must have no parent exactly when it is at step 0');
  }
  if (n.parent === n.id) {
    bad(w, 'is its own parent');
  }
  return n;
}

/**
 * Branch names of one bundle must be creatable side by side in one store: no two equal up to
 * case and Unicode form, and no name that is a namespace prefix of another (`ns` and `ns/child`).
 */
function checkNamesTogether(branches: BranchRecord[]): void {
  const keys = new Map<string, string>();
  for (const b of branches) {
    const key = nameKey(b.name);
    const other = keys.get(key);
    if (other !== undefined) {
      bad('branches', `hold '${other}' and '${b.name}', which are one file on macOS and Windows`);
    }
    keys.set(key, b.name);
  }
  for (const b of branches) {
    const parts = nameKey(b.name).split('/');
    for (let i = 1; i < parts.length; i++) {
      const prefix = keys.get(parts.slice(0, i).join('/'));
      if (prefix !== undefined) {
        bad(
          'branches',
          `hold '${prefix}' and '${b.name}': a name cannot be both a branch and a namespace of branches`,
        );
      }
    }
  }
}

function unique<T>(items: T[], key: (t: T) => string, what: string): void {
  const seen = new Set<string>();
  for (const it of items) {
    const k = key(it);
    if (seen.has(k)) {
      bad(what, `lists ${k} twice`);
    }
    seen.add(k);
  }
}

/** Parses and checks manifest.json (see the module comment for the refusals). */
export function parseBundleManifest(bytes: Uint8Array): BundleManifest {
  let m: unknown;
  try {
    m = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new BundleError('NOT_A_BUNDLE', `not a Lockstep bundle: ${MANIFEST_ENTRY} is not JSON`);
  }
  const shape = jsonShapeProblem(m, MAX_MANIFEST_DEPTH, MAX_MANIFEST_VALUES);
  if (shape !== null) {
    bad(MANIFEST_ENTRY, shape);
  }
  if (!isObj(m) || !isStr(m.format)) {
    throw new BundleError(
      'NOT_A_BUNDLE',
      `not a Lockstep bundle: ${MANIFEST_ENTRY} has no format field`,
    );
  }
  if (m.format !== BUNDLE_FORMAT) {
    if (m.format.startsWith('lockstep/bundle@')) {
      throw new BundleError(
        'UNKNOWN_VERSION',
        `bundle format '${m.format}' is not known to this Lockstep (it reads ${BUNDLE_FORMAT}); a newer version wrote it`,
      );
    }
    throw new BundleError(
      'NOT_A_BUNDLE',
      `not a Lockstep bundle: ${MANIFEST_ENTRY} has format '${m.format}'`,
    );
  }
  if (!KINDS.includes(m.kind as BundleKind)) {
    bad('kind', `'${String(m.kind)}' is not one of ${KINDS.join(', ')}`);
  }
  if (!isStr(m.ref)) {
    bad('ref', 'is not a string');
  }
  if (!isObj(m.app) || !isStr(m.app.name) || !isStr(m.app.version)) {
    bad('app', 'lacks name or version');
  }
  if (!isObj(m.engine) || !isStr(m.engine.stateFormat) || !isStr(m.engine.traceFormat)) {
    bad('engine', 'lacks stateFormat or traceFormat');
  }
  arrayOf(m, 'configs').forEach((c, i) => record(trainingConfigSchema, c, `configs[${i}]`));
  arrayOf(m, 'seeds').forEach(
    (s, i) => seedProblem(s as number) === null || bad(`seeds[${i}]`, 'is not a 32-bit seed'),
  );
  arrayOf(m, 'datasetDigests').forEach(
    (d, i) => (isStr(d) && d.length <= 256) || bad(`datasetDigests[${i}]`, 'is not a digest'),
  );
  arrayOf(m, 'backends').forEach((b, i) => isObj(b) || bad(`backends[${i}]`, 'is not an object'));
  const runs = arrayOf(m, 'runs').map((r, i) => record<RunRecord>(runSchema, r, `runs[${i}]`));
  const branches = arrayOf(m, 'branches').map((b, i) =>
    record<BranchRecord>(newBranch, b, `branches[${i}]`),
  );
  const nodes = arrayOf(m, 'nodes').map(checkNode);
  const tips = arrayOf(m, 'tips').map((t, i) => needId(t, `tips[${i}]`));
  const objects = arrayOf(m, 'objects').map((o, i) => {
    if (!isObj(o) || !OBJECT_KINDS.includes(o.kind as ObjectKind) || !isCount(o.bytes)) {
      bad(`objects[${i}]`, 'is not { id, kind, bytes }');
    }
    needId(o.id, `objects[${i}].id`);
    return o as BundleManifest['objects'][number];
  });
  unique(runs, (r) => r.id, 'runs');
  unique(branches, (b) => b.name, 'branches');
  checkNamesTogether(branches);
  unique(nodes, (n) => n.id, 'nodes');
  unique(objects, (o) => o.id, 'objects');
  if (m.datasets !== undefined) {
    const datasets = arrayOf(m, 'datasets').map((d, i) => {
      if (!isObj(d) || !isStr(d.name) || STORED_DATASET_NAME.test(d.name) === false) {
        bad(`datasets[${i}]`, "is not { name, record, data } with a stored dataset's name");
      }
      needId(d.record, `datasets[${i}].record`);
      needId(d.data, `datasets[${i}].data`);
      return d as unknown as BundleDataset;
    });
    unique(datasets, (d) => d.name, 'datasets');
  }
  if (nodes.length === 0 || tips.length === 0) {
    bad('nodes', 'and tips must not be empty');
  }
  return m as unknown as BundleManifest;
}
