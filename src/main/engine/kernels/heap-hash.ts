/**
 * XXH64 over the wasm backend's heap in place (the kernels of ./wasm-hash.ts): the trace's state
 * digest (../trace.ts) reads every parameter every step, and with this it reads them where they
 * lie instead of copying them into a hasher's memory first.
 *
 * The backend's kernels register the hasher of their heap (./register.ts); `heapHasherFor(buf)`
 * finds the one whose heap is `buf` (a Float32Array of the backend's memory has that buffer).
 * Its state and a scratch for bytes from elsewhere (names) are allocated once, at registration:
 * nothing is allocated while hashing, so the heap cannot grow (and views of it cannot detach)
 * in the middle of a digest. This module imports nothing but types, so the trace code that looks
 * hashers up stays light for the commands that never train.
 */
import type { WasmKernels, WasmMemory } from './wasm-module';

/** Bytes of an XXH64 state in memory (its layout: ./wasm-hash.ts). */
export const XXH64_STATE_BYTES = 96;
/** Byte offset of the digest in the state. */
export const XXH64_DIGEST_AT = 80;

/** Bytes of the scratch that bytes from outside the heap are copied into, piece by piece. */
const SCRATCH_BYTES = 65536;

/** XXH64 digests over one wasm memory; not re-entrant (one digest at a time). */
export class HeapXxh64 {
  private readonly state: number;
  private readonly scratch: number;

  constructor(
    private readonly k: WasmKernels,
    private readonly memory: WasmMemory,
    malloc: (bytes: number) => number,
  ) {
    this.state = (malloc(XXH64_STATE_BYTES + 8) + 7) & ~7;
    this.scratch = malloc(SCRATCH_BYTES);
  }

  /** Whether `buffer` is this heap (views of it can be hashed in place). */
  covers(buffer: ArrayBufferLike): boolean {
    return buffer === this.memory.buffer;
  }

  /** Starts a digest. */
  init(): void {
    this.k.xxh64Init(this.state);
  }

  /** Adds the bytes of `view`, a view of this heap, in place. */
  updateInPlace(view: ArrayBufferView): void {
    this.k.xxh64Update(this.state, view.byteOffset, view.byteLength);
  }

  /** Adds `bytes` (from anywhere), copied into the heap in pieces of at most SCRATCH_BYTES. */
  updateCopied(bytes: Uint8Array): void {
    for (let at = 0; at < bytes.length; at += SCRATCH_BYTES) {
      const piece = bytes.subarray(at, at + SCRATCH_BYTES);
      new Uint8Array(this.memory.buffer, this.scratch, piece.length).set(piece);
      this.k.xxh64Update(this.state, this.scratch, piece.length);
    }
  }

  /** The digest of everything added since `init`, as 16 hex digits (XXH64's canonical form). */
  hex(): string {
    this.k.xxh64Digest(this.state);
    const v = new DataView(this.memory.buffer, this.state + XXH64_DIGEST_AT, 8).getBigUint64(0, true); // prettier-ignore
    return v.toString(16).padStart(16, '0');
  }
}

/** Each registered heap's hasher; held no longer than the heap (a disposed backend's goes). */
const hashers = new WeakMap<WasmMemory, HeapXxh64>();
const heaps: WeakRef<WasmMemory>[] = [];

/** Registers the hasher of a backend's heap `memory` (once per heap). */
export function registerHeapHasher(memory: WasmMemory, h: HeapXxh64): void {
  hashers.set(memory, h);
  heaps.push(new WeakRef(memory));
}

/** The registered hasher whose heap is `buffer`, if any. */
export function heapHasherFor(buffer: ArrayBufferLike): HeapXxh64 | undefined {
  for (let i = heaps.length - 1; i >= 0; i--) {
    const memory = heaps[i].deref();
    if (memory === undefined) {
      heaps.splice(i, 1);
    } else if (memory.buffer === buffer) {
      return hashers.get(memory);
    }
  }
  return undefined;
}
