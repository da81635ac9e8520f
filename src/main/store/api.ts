/**
 * The checkpoint store's public API (implemented in ./store.ts). See DESIGN.md "Store".
 *
 * Content-addressed objects (SHA-256, fanned out objects/ab/cdef…) hold checkpoint manifests,
 * tensor blobs (safetensors) and trace segments. A checkpoint's id is the SHA-256 of its
 * manifest = its stateHash. Mutable records (branch heads, runs, node annotations) are small files
 * replaced by lock + rename. Every read re-checks the hash.
 */
import type { BranchStatus } from '../../shared/contract';
import { LockstepError } from '../../shared/errors';
import type { EvalResult, TrainingConfig } from '../engine/types';

/** One checkpoint in the run graph. Immutable except for `eval` / `verified` annotations. */
export interface CheckpointNode {
  /** stateHash of the checkpoint = id of its manifest object */
  id: string;
  /** previous stored checkpoint on the lineage (null for step 0) */
  parent: string | null;
  step: number;
  /** object id of the trace segment that leads from `parent` to this checkpoint, if recorded */
  trace?: string;
  /** evaluation at this checkpoint, if computed */
  eval?: EvalResult;
  /** mean training loss of the last step that produced this checkpoint */
  loss?: number;
  /** a gan's discriminator and generator losses of that step (`loss` is dLoss) */
  dLoss?: number;
  gLoss?: number;
  /** ISO time when this checkpoint was first written */
  createdAt: string;
  /** set by verification (e.g. the ISO time of the replay that reproduced this checkpoint) */
  verified?: string;
}

export type { BranchStatus };

/** A named line of checkpoints: its tip, and where it forked (`base`). */
export interface BranchRecord {
  name: string;
  run: string;
  /** latest checkpoint id */
  tip: string;
  /** checkpoint this branch started from (null for a run's first branch, which starts at step 0) */
  base: string | null;
  /** training config in force on this branch */
  config: TrainingConfig;
  status: BranchStatus;
  /** human-readable detail for diverged/failed (e.g. "loss became NaN at step 412") */
  note?: string;
  /**
   * the checkpoint and evaluation intervals of the job that created the branch: a `continue` of
   * the branch keeps them unless it overrides them (absent in records written before 2026-11-30)
   */
  schedule?: { checkpointEvery: number; evalEvery: number };
  /**
   * why the branch exists when no hyperparameter or name asked for it: `fingerprint` (continued on
   * another backend fingerprint, see `fingerprintFrom`), `reachable` (a continue from a middle
   * checkpoint ended between the branch's checkpoints, so its result is kept on its own branch)
   */
  origin?: 'fingerprint' | 'reachable';
  /** with origin `fingerprint`: the fingerprint of the checkpoint it was continued from, one line */
  fingerprintFrom?: string;
  createdAt: string;
  updatedAt: string;
}

/** A run: one root seed, one step-0 checkpoint, one or more branches. */
export interface RunRecord {
  id: string;
  createdAt: string;
  seed: number;
  seedSource: 'explicit' | 'auto' | 'env';
  /** step-0 checkpoint id */
  root: string;
  config: TrainingConfig;
}

export interface GraphSnapshot {
  runs: RunRecord[];
  branches: BranchRecord[];
  nodes: CheckpointNode[];
}

export interface FsckProblem {
  kind: 'object' | 'ref' | 'node' | 'run' | 'temp' | 'lock';
  /** object id, branch name or file path */
  name: string;
  message: string;
}

export interface FsckReport {
  /** false when anything is damaged; leftovers ('temp', 'lock' problems) do not clear it */
  ok: boolean;
  objects: number;
  refs: number;
  problems: FsckProblem[];
}

export interface GcReport {
  removedObjects: number;
  bytesFreed: number;
  keptObjects: number;
  /** node records of unreachable checkpoints that were removed */
  removedNodes?: number;
  /** leftover temp files of dead processes that were removed */
  removedTempFiles?: number;
}

/** Thrown when stored bytes do not match their name: refuse, and name the object. */
export class StoreCorruptError extends LockstepError {
  readonly code = 'STORE_CORRUPT';
  constructor(
    readonly object: string,
    message: string,
  ) {
    super('STORE_CORRUPT', message, 'StoreCorruptError');
  }
}

/** Thrown for a ref/branch/object that does not exist or an ambiguous prefix (user error). */
export class RefError extends LockstepError {
  readonly code = 'BAD_REF';
  constructor(message: string) {
    super('BAD_REF', message, 'RefError');
  }
}

/** Thrown when the store cannot be written (read-only, disk full, permissions). */
export class StoreWriteError extends LockstepError {
  readonly code = 'STORE_WRITE';
  constructor(message: string) {
    super('STORE_WRITE', message, 'StoreWriteError');
  }
}

/** Thrown when a compare-and-swap on a record finds it changed by someone else (retry). */
export class StoreConflictError extends LockstepError {
  readonly code = 'STORE_CONFLICT';
  constructor(message: string) {
    super('STORE_CONFLICT', message, 'StoreConflictError');
  }
}
