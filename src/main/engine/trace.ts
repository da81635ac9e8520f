/**
 * The per-step trace (DESIGN.md "Trace and comparison"): for every update, the loss, a digest of
 * the batch's example indices and a digest of the state after the update. A trace segment covers
 * the steps from one stored checkpoint (exclusive) to the next (inclusive) and is stored as one
 * object that the later checkpoint's node names; since the steps between two checkpoints are a
 * pure function of the earlier one, equal segments are one object.
 *
 * Digests here are fingerprints for finding where runs part, not identities: checkpoint ids stay
 * SHA-256 (state.ts).
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json';
import type { EvalResult, NamedTensor } from './types';

export const TRACE_FORMAT = 'lockstep/trace@1';

export interface TraceStep {
  step: number;
  loss: number;
  batchDigest: string;
  stateDigest: string;
}

export interface TraceSegment {
  format: typeof TRACE_FORMAT;
  /** step of the checkpoint the segment starts after */
  fromStep: number;
  steps: TraceStep[];
  /** evaluations made inside the segment */
  evals: { step: number; eval: EvalResult }[];
}

/** Digest of a batch's example indices (order matters). */
export function batchDigest(indices: Uint32Array): string {
  return createHash('sha256')
    .update(new Uint8Array(indices.buffer, indices.byteOffset, indices.byteLength))
    .digest('hex')
    .slice(0, 16);
}

/** Digest of every tensor (sorted by name) of a state. */
export function stateDigest(tensors: Record<string, NamedTensor>): string {
  const h = createHash('sha256');
  for (const name of Object.keys(tensors).sort()) {
    const d = tensors[name].data;
    h.update(name).update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  return h.digest('hex').slice(0, 16);
}

/** Collects one segment's steps; `take()` returns the encoded segment and starts the next. */
export class TraceRecorder {
  private steps: TraceStep[] = [];
  private evals: { step: number; eval: EvalResult }[] = [];

  constructor(private fromStep: number) {}

  record(step: TraceStep): void {
    this.steps.push(step);
  }

  recordEval(step: number, result: EvalResult): void {
    this.evals.push({ step, eval: result });
  }

  get length(): number {
    return this.steps.length;
  }

  /** The segment so far as canonical JSON bytes (or null when empty); resets for the next one. */
  take(nextFromStep: number): Uint8Array | null {
    const seg: TraceSegment = {
      format: TRACE_FORMAT,
      fromStep: this.fromStep,
      steps: this.steps,
      evals: this.evals,
    };
    const empty = this.steps.length === 0;
    this.steps = [];
    this.evals = [];
    this.fromStep = nextFromStep;
    return empty ? null : new TextEncoder().encode(canonicalJson(seg));
  }
}

/** Parses a stored trace segment. */
export function parseTrace(bytes: Uint8Array): TraceSegment {
  const seg = JSON.parse(new TextDecoder().decode(bytes)) as TraceSegment;
  if (seg?.format !== TRACE_FORMAT || !Array.isArray(seg.steps)) {
    throw new Error(`not a trace segment of format ${TRACE_FORMAT}`);
  }
  return seg;
}
