/**
 * The next step's batch gathered ahead, by a kernel thread in the background (wasm, the kernel
 * threads working in place on the heap): when a step ends, the trainer names the next batch
 * (`start`), and a worker runs gatherRowsCsr — the batch's floats into a tensor allocation of
 * their own, their compressed rows into ./sparse.ts's region for a batch gathered ahead (or
 * gatherRows, the floats alone, where no dense layer reads the batch: sparse.ts's gatherWanted;
 * a shape whose rows sparse.ts has paused then stays paused, as only the gathers that ask it for
 * rows count the pause down) — while
 * the calling thread finishes the step and begins the next, where the worker would otherwise
 * wait (the default MLP on two threads: the gather took ~50 µs of each step on the calling
 * thread, and did not get faster split in two; measured in one process, 2 threads, ahead against
 * not: 0.972–0.983 of the step). The next gatherPixels kernel takes it (`take`) when its pixels
 * and indices are those gathered: it waits for the job, and the allocation becomes its output
 * and the rows that tensor's scan, as if gathered then; any other gather drops it (`drop` too:
 * a trainer disposed).
 *
 * The bits are gatherRowsCsr's whichever thread runs it. Until the job is joined nothing else
 * touches what it reads or writes: the allocation is no tfjs tensor until taken, the indices
 * are a copy, the region is no kept scan's (sparse.ts re-lays it out only when asked for the
 * next batch's, after this has joined), and the entry count has its own bytes.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { Kernel, type GemmPool } from './threads';
import type { WasmSparseGemm } from './sparse';
import { ROW_BYTES } from './wasm-module';

/** What the gather ahead needs from the wasm backend's memory. */
export interface AheadHeap {
  buffer(): ArrayBuffer;
  /** scratch of at least `bytes` bytes, kept between calls (a new offset when it grows) */
  scratch(bytes: number): number;
  /** a new float32 allocation of the backend's (not yet a tensor) */
  alloc(shape: number[]): tf.TensorInfo;
  release(t: tf.TensorInfo): void;
  offset(t: tf.TensorInfo): number;
  /** the heap offset of a split of the dataset's bytes (copied there once) */
  pixelsAt(pixels: Uint8Array): number;
  pool(): GemmPool | null;
  sparse: WasmSparseGemm;
}

interface Pending {
  pixels: Uint8Array;
  rowBytes: number;
  n: number;
  out: tf.TensorInfo;
  pool: GemmPool;
  /** the job writes the compressed rows too */
  csr: boolean;
}

let taken = 0;

/** Batches taken as gathered ahead in this process (tests). */
export function gathersTakenAhead(): number {
  return taken;
}

export class GatherAhead {
  private pending: Pending | null = null;
  /** the indices' copy (n int32) and then the entries' count (4 bytes) */
  private scratch = 0;

  constructor(private readonly heap: AheadHeap) {}

  /**
   * Starts gathering n rows of `pixels` (rows of `rowBytes` bytes), those `indices()` names, in
   * the background; false (nothing started, `indices` not called) without a worker to run it,
   * for rows that are not MNIST-sized, or while another job runs. A batch gathered ahead and not
   * taken is dropped.
   */
  start(pixels: Uint8Array, n: number, indices: () => Uint32Array, rowBytes: number): boolean {
    const h = this.heap;
    const pool = h.pool();
    if (!pool?.heap || rowBytes !== ROW_BYTES || n < 1) {
      return false;
    }
    this.drop();
    const p = h.pixelsAt(pixels);
    // (no job reads the scratch it had before: drop has joined it)
    this.scratch = h.scratch(4 * n + 16);
    new Uint32Array(h.buffer(), this.scratch, n).set(indices().subarray(0, n));
    const total = this.scratch + 4 * n;
    const out = h.alloc([n, rowBytes]);
    const csr = h.sparse.gatherWanted(n, rowBytes);
    let args = [p, this.scratch, n, h.offset(out)];
    if (csr) {
      const r = h.sparse.aheadGatherRegion(n, rowBytes);
      // (the native twin's last argument is `first`, the wasm kernel's its shuffles' table)
      args = [...args, r.rowPtr, r.idx, r.val, total, pool.nativeCsr ? 0 : h.sparse.tablePtr()];
    }
    if (!pool.post(csr ? Kernel.gatherRowsCsr : Kernel.gatherRows, args)) {
      h.release(out);
      return false;
    }
    this.pending = { pixels, rowBytes, n, out, pool, csr };
    return true;
  }

  /**
   * The batch gathered ahead when it is rows `indices` (n int32 at heap offset `indices`) of
   * `pixels`: its tensor allocation, now holding the floats, its compressed rows kept as that
   * tensor's scan. Otherwise null, and the batch gathered ahead is dropped.
   */
  take(pixels: Uint8Array, indices: number, n: number, rowBytes: number): tf.TensorInfo | null {
    const a = this.pending;
    if (a === null) {
      return null;
    }
    const buf = this.heap.buffer();
    const ahead = new Int32Array(buf, this.scratch, a.n);
    const same =
      a.pixels === pixels &&
      a.rowBytes === rowBytes &&
      a.n === n &&
      new Int32Array(buf, indices, n).every((v, i) => v === ahead[i]);
    if (!same) {
      this.drop();
      return null;
    }
    this.pending = null;
    try {
      a.pool.join();
    } catch (e) {
      this.heap.release(a.out);
      throw e;
    }
    if (a.csr) {
      const nnz = new Int32Array(this.heap.buffer(), this.scratch + 4 * n, 1)[0] / 4;
      this.heap.sparse.adoptAheadGather(a.out.dataId, n, rowBytes, nnz);
    }
    taken++;
    return a.out;
  }

  /** Waits for the job, if any, and frees what it wrote. */
  drop(): void {
    const a = this.pending;
    if (a !== null) {
      this.pending = null;
      try {
        a.pool.join();
      } finally {
        this.heap.release(a.out);
      }
    }
  }
}
