/**
 * Encoding and checked decoding of the store's mutable records (node, run, branch, keep).
 *
 * Records are canonical JSON plus a newline, so equal records are equal bytes and diffs are
 * stable. Decoding checks every field the store relies on and throws a StoreCorruptError that
 * names the record's file (relative to the store) when anything is off: a damaged record is
 * refused, never guessed at.
 */
import { canonicalJson } from '../engine/canonical-json';
import type { BranchRecord, BranchStatus, CheckpointNode, RunRecord } from './api';
import { StoreCorruptError } from './api';
import { isObjectId } from './layout';

const STATUSES: readonly BranchStatus[] = ['running', 'done', 'stopped', 'diverged', 'failed'];

/** Canonical JSON + '\n'; a non-finite number is a caller bug and says where it is. */
export function encodeRecord(what: string, rec: object): Uint8Array {
  let text: string;
  try {
    text = canonicalJson(rec);
  } catch (e) {
    throw new TypeError(`cannot store ${what}: ${(e as Error).message}`);
  }
  return new TextEncoder().encode(text + '\n');
}

function parseJson(bytes: Uint8Array, name: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new StoreCorruptError(name, `record ${name} is damaged: not valid JSON`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new StoreCorruptError(name, `record ${name} is damaged: not a JSON object`);
  }
  return v as Record<string, unknown>;
}

function fail(name: string, why: string): never {
  throw new StoreCorruptError(name, `record ${name} is damaged: ${why}`);
}

const isStr = (v: unknown): v is string => typeof v === 'string';
const isObj = (v: unknown): boolean => v !== null && typeof v === 'object' && !Array.isArray(v);

export function decodeNode(bytes: Uint8Array, name: string, id: string): CheckpointNode {
  const r = parseJson(bytes, name);
  if (r.id !== id) {
    fail(name, `its id ${String(r.id)} does not match its file name`);
  }
  if (r.parent !== null && !isObjectId(r.parent)) {
    fail(name, 'parent is not a checkpoint id or null');
  }
  if (!Number.isInteger(r.step) || (r.step as number) < 0) {
    fail(name, 'step is not a non-negative integer');
  }
  if (r.trace !== undefined && !isObjectId(r.trace)) {
    fail(name, 'trace is not an object id');
  }
  if (r.loss !== undefined && typeof r.loss !== 'number') {
    fail(name, 'loss is not a number');
  }
  if (r.eval !== undefined && !isObj(r.eval)) {
    fail(name, 'eval is not an object');
  }
  if (r.verified !== undefined && !isStr(r.verified)) {
    fail(name, 'verified is not a string');
  }
  if (!isStr(r.createdAt)) {
    fail(name, 'createdAt is missing');
  }
  return r as unknown as CheckpointNode;
}

export function decodeRun(bytes: Uint8Array, name: string, id: string): RunRecord {
  const r = parseJson(bytes, name);
  if (r.id !== id) {
    fail(name, `its id ${String(r.id)} does not match its file name`);
  }
  if (!isObjectId(r.root)) {
    fail(name, 'root is not a checkpoint id');
  }
  if (
    typeof r.seed !== 'number' ||
    !isStr(r.seedSource) ||
    !isObj(r.config) ||
    !isStr(r.createdAt)
  ) {
    fail(name, 'seed, seedSource, config or createdAt is missing');
  }
  return r as unknown as RunRecord;
}

export function decodeBranch(bytes: Uint8Array, name: string, branch: string): BranchRecord {
  const r = parseJson(bytes, name);
  if (r.name !== branch) {
    fail(name, `its name ${String(r.name)} does not match its file name`);
  }
  if (!isStr(r.run)) {
    fail(name, 'run is missing');
  }
  if (!isObjectId(r.tip)) {
    fail(name, 'tip is not a checkpoint id');
  }
  if (r.base !== null && !isObjectId(r.base)) {
    fail(name, 'base is not a checkpoint id or null');
  }
  if (!STATUSES.includes(r.status as BranchStatus)) {
    fail(name, `status ${String(r.status)} is unknown`);
  }
  if (!isObj(r.config) || !isStr(r.createdAt) || !isStr(r.updatedAt)) {
    fail(name, 'config, createdAt or updatedAt is missing');
  }
  if (r.note !== undefined && !isStr(r.note)) {
    fail(name, 'note is not a string');
  }
  if (r.schedule !== undefined) {
    const sc = r.schedule as Record<string, unknown>;
    const interval = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 1;
    if (!isObj(sc) || !interval(sc.checkpointEvery) || !interval(sc.evalEvery)) {
      fail(name, 'schedule is not {checkpointEvery, evalEvery} with positive integers');
    }
  }
  if (r.origin !== undefined && r.origin !== 'fingerprint' && r.origin !== 'reachable') {
    fail(name, `origin ${String(r.origin)} is unknown`);
  }
  if (r.fingerprintFrom !== undefined && !isStr(r.fingerprintFrom)) {
    fail(name, 'fingerprintFrom is not a string');
  }
  return r as unknown as BranchRecord;
}

/** A keep file: ids one per line; blank lines and lines starting with '#' are ignored. */
export function decodeKeep(bytes: Uint8Array, name: string): string[] {
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
