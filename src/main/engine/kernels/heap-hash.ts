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
 *
 * In the background: where a kernel thread can run a job on this heap (./threads.ts, GemmPool.post),
 * `startInPlace` hands it a whole digest (the kernel xxh64List over a list of [ptr, len] pieces
 * written into the heap) and returns at once; the trainer's next update waits for it before it
 * changes a parameter (joinBackgroundJobs, ../optimizers.ts). The digest is the same XXH64 of the
 * same bytes, whichever thread computes it.
 */
import type { WasmKernels, WasmMemory } from './wasm-module';

/** Bytes of an XXH64 state in memory (its layout: ./wasm-hash.ts). */
export const XXH64_STATE_BYTES = 96;
/** Byte offset of the digest in the state. */
export const XXH64_DIGEST_AT = 80;

/** Bytes of the scratch that bytes from outside the heap are copied into, piece by piece. */
const SCRATCH_BYTES = 65536;
/** At most this many lists of names are laid out for digests in the background (then: inline). */
const MAX_LAYOUTS = 8;

/** A kernel thread that runs one job at a time beside the caller (the kernels' pool). */
export interface DigestThread {
  /** starts xxh64List(state, list, count) there; false when it cannot (nothing then runs) */
  post(state: number, list: number, count: number): boolean;
  /** waits for the job started last, if any; throws its error */
  join(): void;
}

/** The heap bytes of one list of names: each name's UTF-8 bytes and 0x00, and the list's room. */
interface Layout {
  /** per name: where its bytes lie and how many */
  headers: [number, number][];
  /** the [ptr, len] pairs xxh64List reads: two per tensor (its name, its data) */
  list: number;
}

let startedInBackground = 0;

/** Digests started on a kernel thread in this process so far (tests: the path really ran). */
export function backgroundDigests(): number {
  return startedInBackground;
}

/** XXH64 digests over one wasm memory; not re-entrant (one digest at a time). */
export class HeapXxh64 {
  private readonly state: number;
  private readonly scratch: number;
  /** the state of the digest in the background (never the same as the one `init` starts) */
  private readonly backgroundState: number;
  private readonly layouts = new Map<string, Layout>();
  /** reads the digest in the background last started (once: later calls give the same string) */
  private pending: (() => string) | null = null;

  constructor(
    private readonly k: WasmKernels,
    private readonly memory: WasmMemory,
    private readonly malloc: (bytes: number) => number,
    /** the thread that runs digests in the background, when there is one now */
    private readonly thread: () => DigestThread | null = () => null,
  ) {
    this.state = (malloc(XXH64_STATE_BYTES + 8) + 7) & ~7;
    this.scratch = malloc(SCRATCH_BYTES);
    this.backgroundState = (malloc(XXH64_STATE_BYTES + 8) + 7) & ~7;
  }

  /**
   * Starts the digest of `pieces` — each a name's bytes (copied into the heap once per list of
   * names) then a view of this heap, hashed in place — on a kernel thread, and returns a function
   * that waits for it and gives its 16 hex digits; null when no thread can take it (then nothing
   * started). Until that function is called, or the trainer's next update, the viewed bytes must
   * not change. Starting another digest first reads this one.
   */
  startInPlace(pieces: readonly (readonly [Uint8Array, ArrayBufferView])[]): (() => string) | null {
    const thread = this.thread();
    // (a shared memory: the allocation below may grow it, and views of a shared one stay whole)
    if (
      thread === null ||
      !(this.memory.buffer instanceof SharedArrayBuffer) ||
      !pieces.every(([, view]) => this.covers(view.buffer))
    ) {
      return null;
    }
    const spans = pieces.map(([, view]) => [view.byteOffset, view.byteLength]);
    this.pending?.();
    this.pending = null;
    // (the job before, if any other, is done: the list is rewritten below)
    thread.join();
    const layout = this.layoutFor(pieces.map(([name]) => name));
    if (layout === null) {
      return null;
    }
    const list = new Int32Array(this.memory.buffer, layout.list, 4 * pieces.length);
    spans.forEach((span, i) => {
      list.set([...layout.headers[i], ...span], 4 * i);
    });
    if (!thread.post(this.backgroundState, layout.list, 2 * pieces.length)) {
      return null;
    }
    startedInBackground++;
    let digest: string | undefined;
    const read = (): string => {
      if (digest === undefined) {
        if (this.pending === read) {
          this.pending = null;
        }
        thread.join();
        digest = this.hexAt(this.backgroundState);
      }
      return digest;
    };
    this.pending = read;
    return read;
  }

  /** The heap bytes for a list of names (made once per list, at most MAX_LAYOUTS lists). */
  private layoutFor(names: Uint8Array[]): Layout | null {
    const key = names.map((n) => Array.from(n).join(',')).join(';');
    let layout = this.layouts.get(key);
    if (layout === undefined) {
      if (this.layouts.size >= MAX_LAYOUTS) {
        return null;
      }
      const bytes = names.reduce((s, n) => s + n.length, 0);
      const at = this.malloc(bytes + 16 * names.length + 8);
      const list = (at + bytes + 3) & ~3;
      const headers: [number, number][] = [];
      let p = at;
      for (const n of names) {
        new Uint8Array(this.memory.buffer, p, n.length).set(n);
        headers.push([p, n.length]);
        p += n.length;
      }
      layout = { headers, list };
      this.layouts.set(key, layout);
    }
    return layout;
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
    return this.hexAt(this.state);
  }

  private hexAt(state: number): string {
    const v = new DataView(this.memory.buffer, state + XXH64_DIGEST_AT, 8).getBigUint64(0, true);
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
