/**
 * Encoding and checked decoding of the store's mutable records (node, run, branch, keep).
 *
 * Records are canonical JSON plus a newline, so equal records are equal bytes and diffs are
 * stable. Decoding checks every record against the shared schemas of src/shared/
 * record-schemas.ts (the same ones a bundle's manifest is checked with) after a shape check
 * (size, depth, finite numbers) and throws a StoreCorruptError that names the record's file
 * (relative to the store) when anything is off: a damaged record is refused, never guessed at.
 * `checkRecord` is the same check for a record about to be written, as a RefError: the store
 * never writes a record it could not read back.
 */
import { canonicalJson } from '../engine/canonical-json';
import {
  branchSchema,
  jsonShapeProblem,
  nodeSchema,
  recordIssues,
  type RecordSchema,
  runSchema,
} from '../../shared/record-schemas';
import type { BranchRecord, CheckpointNode, RunRecord } from './api';
import { RefError, StoreCorruptError } from './api';
import { isObjectId } from './layout';

/** Largest record file read (a node, run or branch record is a few kB). */
export const MAX_RECORD_BYTES = 1 << 20;

/** Canonical JSON + '\n'; a value that cannot be stored is a RefError saying where it is. */
export function encodeRecord(what: string, rec: object): Uint8Array {
  const problem = jsonShapeProblem(rec);
  if (problem !== null) {
    throw new RefError(`cannot store ${what}: ${problem}`);
  }
  let text: string;
  try {
    text = canonicalJson(rec);
  } catch (e) {
    throw new RefError(
      `cannot store ${what}: ${(e as Error).message.replace(/^canonicalJson: /, '')}`,
    );
  }
  return new TextEncoder().encode(text + '\n');
}

function parseJson(bytes: Uint8Array, name: string): Record<string, unknown> {
  if (bytes.length > MAX_RECORD_BYTES) {
    fail(name, `it is larger than ${MAX_RECORD_BYTES} bytes`);
  }
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new StoreCorruptError(name, `record ${name} is damaged: not valid JSON`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new StoreCorruptError(name, `record ${name} is damaged: not a JSON object`);
  }
  const problem = jsonShapeProblem(v);
  if (problem !== null) {
    fail(name, problem);
  }
  return v as Record<string, unknown>;
}

function fail(name: string, why: string): never {
  throw new StoreCorruptError(name, `record ${name} is damaged: ${why}`);
}

function checked<T>(schema: RecordSchema, r: unknown, name: string): T {
  const res = schema.safeParse(r);
  if (!res.success) {
    fail(name, recordIssues(res.error));
  }
  return r as T;
}

/** Throws a RefError unless `rec` passes `schema` (a record about to be written). */
export function checkRecord<T>(schema: RecordSchema, what: string, rec: T): T {
  const problem = jsonShapeProblem(rec);
  if (problem !== null) {
    throw new RefError(`cannot store ${what}: ${problem}`);
  }
  const res = schema.safeParse(rec);
  if (!res.success) {
    throw new RefError(`cannot store ${what}: ${recordIssues(res.error)}`);
  }
  return rec;
}

export function decodeNode(bytes: Uint8Array, name: string, id: string): CheckpointNode {
  const r = parseJson(bytes, name);
  if (r.id !== id) {
    fail(name, `its id ${String(r.id).slice(0, 80)} does not match its file name`);
  }
  return checked<CheckpointNode>(nodeSchema, r, name);
}

export function decodeRun(bytes: Uint8Array, name: string, id: string): RunRecord {
  const r = parseJson(bytes, name);
  if (r.id !== id) {
    fail(name, `its id ${String(r.id).slice(0, 80)} does not match its file name`);
  }
  return checked<RunRecord>(runSchema, r, name);
}

const storedBranch = branchSchema(false);

export function decodeBranch(bytes: Uint8Array, name: string, branch: string): BranchRecord {
  const r = parseJson(bytes, name);
  if (r.name !== branch) {
    fail(name, `its name ${String(r.name).slice(0, 120)} does not match its file name`);
  }
  return checked<BranchRecord>(storedBranch, r, name);
}

/** A keep file: ids one per line; blank lines and lines starting with '#' are ignored. */
export function decodeKeep(bytes: Uint8Array, name: string): string[] {
  if (bytes.length > 64 * MAX_RECORD_BYTES) {
    fail(name, `it is larger than ${64 * MAX_RECORD_BYTES} bytes`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    fail(name, 'not UTF-8 text');
  }
  const ids: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) {
      continue;
    }
    if (!isObjectId(t)) {
      fail(name, `line '${line.trim().slice(0, 80)}' is not an object id`);
    }
    ids.push(t);
  }
  return ids;
}

export function encodeKeep(ids: readonly string[]): Uint8Array {
  return new TextEncoder().encode(ids.map((id) => id + '\n').join(''));
}
