/**
 * The per-step trace (DESIGN.md "Trace and comparison"): for every update, the loss (a gan's
 * steps also `dLoss` and `gLoss`), a digest of
 * the batch's example indices and a digest of the state after the update. A trace segment covers
 * the steps from one stored checkpoint (exclusive) to the next (inclusive) and is stored as one
 * object that the later checkpoint's node names; since the steps between two checkpoints are a
 * pure function of the earlier one, equal segments are one object.
 *
 * Digests are fingerprints for finding where runs part, not identities (checkpoint ids stay
 * SHA-256, state.ts), so they are chosen for speed: XXH64 (seed 0), printed as 16 hex digits.
 * - stateDigest = XXH64 over every parameter and optimizer slot in name order, each as its UTF-8
 *   name, one 0x00 byte, then its float32 data little-endian. It is computed every step straight
 *   from the backend's memory (Trainer.readTensors): on wasm by our own XXH64 reading the heap in
 *   place (./kernels/heap-hash.ts), elsewhere by hash-wasm's; a few per cent of a step.
 * - batchDigest = XXH64 of the batch's example indices as little-endian uint32, in batch order.
 * Only format 2 is read: format 1 (SHA-256 digests cut to 16 hex digits) existed during
 * development only, before the first release, and no store or bundle of it was kept.
 */
import { createXXHash64, type IHasher } from 'hash-wasm';
import { canonicalJson } from './canonical-json';
import { heapHasherFor } from './kernels/heap-hash';
import type { EvalResult } from './types';

export const TRACE_FORMAT = 'lockstep/trace@2';

/** The digest algorithm of trace segments. */
export type DigestAlgorithm = 'xxh64';
export const DIGEST_ALGORITHM: DigestAlgorithm = 'xxh64';

export interface TraceStep {
  step: number;
  loss: number;
  /** a gan's two losses (`loss` is dLoss); absent for every other model */
  dLoss?: number;
  gLoss?: number;
  batchDigest: string;
  stateDigest: string;
}

export interface TraceSegment {
  format: typeof TRACE_FORMAT;
  /** how batchDigest and stateDigest were computed */
  digest: DigestAlgorithm;
  /** step of the checkpoint the segment starts after */
  fromStep: number;
  steps: TraceStep[];
  /** evaluations made inside the segment */
  evals: { step: number; eval: EvalResult }[];
}

/** Computes trace digests. One per job (it holds a small WebAssembly hasher); not re-entrant. */
export interface Digester {
  readonly algorithm: DigestAlgorithm;
  /** digest of named float32 tensors, which must be given in name order */
  state(tensors: Iterable<readonly [string, Float32Array]>): string;
  batch(indices: Uint32Array): string;
}

const NUL = new Uint8Array([0]);

/** An XXH64 digester (the format-2 algorithm). */
export async function createDigester(): Promise<Digester> {
  const h: IHasher = await createXXHash64();
  /** each name's UTF-8 bytes and the 0x00 after them */
  const names = new Map<string, Uint8Array>();
  const enc = new TextEncoder();
  const header = (name: string): Uint8Array => {
    let nb = names.get(name);
    if (!nb) {
      nb = new Uint8Array([...enc.encode(name), ...NUL]);
      names.set(name, nb);
    }
    return nb;
  };
  return {
    algorithm: 'xxh64',
    state(tensors) {
      const list = [...tensors];
      // tensors in the wasm backend's heap are hashed where they lie (the same XXH64); the
      // others (names, a shuffle buffer's contents) are copied in
      const heap = list.map(([, d]) => heapHasherFor(d.buffer)).find((x) => x !== undefined);
      if (heap !== undefined) {
        heap.init();
        for (const [name, d] of list) {
          heap.updateCopied(header(name));
          if (heap.covers(d.buffer)) {
            heap.updateInPlace(d);
          } else {
            heap.updateCopied(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
          }
        }
        return heap.hex();
      }
      h.init();
      for (const [name, d] of list) {
        h.update(header(name));
        h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      }
      return h.digest('hex');
    },
    batch(indices) {
      h.init();
      h.update(new Uint8Array(indices.buffer, indices.byteOffset, indices.byteLength));
      return h.digest('hex');
    },
  };
}

/** Collects one segment's steps; `take()` returns the encoded segment and starts the next. */
export class TraceRecorder {
  private steps: TraceStep[] = [];
  private evals: { step: number; eval: EvalResult }[] = [];

  constructor(
    private fromStep: number,
    private readonly digest: DigestAlgorithm = DIGEST_ALGORITHM,
  ) {}

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
      digest: this.digest,
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

/** Parses a stored trace segment (format 2); throws if it is not one. */
export function parseTrace(bytes: Uint8Array): TraceSegment {
  let seg: TraceSegment;
  try {
    seg = JSON.parse(new TextDecoder().decode(bytes)) as TraceSegment;
  } catch {
    throw new Error('not a trace segment: invalid JSON');
  }
  if (
    seg === null ||
    typeof seg !== 'object' ||
    seg.format !== TRACE_FORMAT ||
    !Array.isArray(seg.steps) ||
    !Number.isInteger(seg.fromStep)
  ) {
    throw new Error(`not a trace segment of format ${TRACE_FORMAT}`);
  }
  if (seg.digest !== DIGEST_ALGORITHM) {
    throw new Error(`trace segment uses an unknown digest '${String(seg.digest)}'`);
  }
  seg.evals = Array.isArray(seg.evals) ? seg.evals : [];
  return seg;
}
