/**
 * Deterministic multi-threaded GEMM: the rows of C are split into contiguous bands (multiples of
 * the register tile's 4 rows), one band per thread, and every band is computed by the very same
 * single-threaded kernel (./wasm-module.ts) on a shared WebAssembly memory. Each output element is
 * therefore computed by exactly one thread with exactly the operations, in exactly the order, of
 * the one-thread GEMM: the bits do not depend on the thread count (tests/engine/threads.test.ts).
 *
 * The tfjs wasm heap is not shared, so a call copies A's, B's and the bias's extents into the
 * shared memory, runs the bands (the calling thread takes the first), and copies C back. Worker
 * threads (node:worker_threads) wait on an Atomics word; nothing is asynchronous to the caller.
 *
 * The thread count is a process setting — `setKernelThreads(n)`, else LOCKSTEP_THREADS, else the
 * number of cores capped at MAX_DEFAULT_THREADS — and never part of a config or fingerprint,
 * because it cannot change a bit. Where workers cannot start, everything runs on one thread.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { GEMM_MR, instantiateSharedKernels, kernelModuleBytes, SHARED_MAX_PAGES, WA, type WasmKernels, type WasmMemory } from './wasm-module'; // prettier-ignore

/** The default thread count is the number of cores, at most this. */
export const MAX_DEFAULT_THREADS = 4;
/** Largest thread count accepted. */
export const MAX_THREADS = 64;
/** GEMMs smaller than this (m·n·k multiply-adds) stay on one thread: dispatch costs more. */
export const MIN_THREADED_MACS = 1 << 20;

const PAGE = 65536;
/**
 * control words: [0] generation, [1] finished bands, [2] quit, [3] workers ready; band t's 13
 * arguments at 4 + 16t
 */
const CTRL_WORDS = 4 + 16 * MAX_THREADS;

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { bytes, memory, ctrl: sab, index } = workerData;
const k = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
const ctrl = new Int32Array(sab);
const p = 4 + 16 * index;
let seen = Atomics.load(ctrl, 0);
Atomics.add(ctrl, 3, 1);
Atomics.notify(ctrl, 3);
for (;;) {
  Atomics.wait(ctrl, 0, seen);
  const s = Atomics.load(ctrl, 0);
  if (s === seen) continue;
  seen = s;
  if (Atomics.load(ctrl, 2) !== 0) break;
  if (ctrl[p + 7] > 0) {
    k.gemm(ctrl[p], ctrl[p + 1], ctrl[p + 2], ctrl[p + 3], ctrl[p + 4], ctrl[p + 5], ctrl[p + 6],
      ctrl[p + 7], ctrl[p + 8], ctrl[p + 9], ctrl[p + 10], ctrl[p + 11], ctrl[p + 12]);
  }
  Atomics.add(ctrl, 1, 1);
  Atomics.notify(ctrl, 1);
}
`;

/** Threads that run the bands of a GEMM on one shared memory. */
export class GemmPool {
  private readonly memory: WasmMemory;
  private readonly k: WasmKernels;
  private readonly ctrl: Int32Array;
  private readonly workers: Worker[] = [];

  /** GEMMs this pool has split across its threads */
  calls = 0;

  /**
   * `threads` ≥ 2 (the caller's thread counts as one). Throws when workers cannot start.
   * `minMacs`: the smallest GEMM worth splitting (tests split every GEMM with 0).
   * `blockUntilReady`: the first GEMMs wait for the workers to start instead of running on one
   * thread meanwhile (tests, so that threads really run).
   */
  constructor(
    readonly threads: number,
    private readonly minMacs = MIN_THREADED_MACS,
    private readonly blockUntilReady = false,
  ) {
    this.memory = new WA.Memory({ initial: 16, maximum: SHARED_MAX_PAGES, shared: true });
    this.k = instantiateSharedKernels(this.memory);
    const sab = new SharedArrayBuffer(4 * CTRL_WORDS);
    this.ctrl = new Int32Array(sab);
    const bytes = kernelModuleBytes(true);
    for (let t = 1; t < threads; t++) {
      const w = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { bytes, memory: this.memory, ctrl: sab, index: t },
      });
      w.unref();
      this.workers.push(w);
    }
  }

  /**
   * C = act(A·B + bias) for operands in `heap` (byte offsets; strides in elements, as Mem.gemm):
   * false when this call is not worth threading (small, strided C, too large), then the caller
   * computes it on one thread.
   */
  gemm(
    heap: Uint8Array,
    a: number,
    rsA: number,
    ksA: number,
    b: number,
    ldb: number,
    c: number,
    ldc: number,
    m: number,
    n: number,
    k: number,
    bias: number,
    relu: boolean,
  ): boolean {
    if (m * n * k < this.minMacs || ldc !== n || m < 2 * GEMM_MR || n < 1 || k < 1) {
      return false;
    }
    // until every worker has started (they boot in the background), one thread does the work
    if (Atomics.load(this.ctrl, 3) < this.threads - 1 && !this.waitReady()) {
      return false;
    }
    const aBytes = 4 * ((m - 1) * rsA + (k - 1) * ksA + 1);
    const bBytes = 4 * ((k - 1) * ldb + n);
    const cBytes = 4 * m * n;
    const align = (x: number): number => (x + 63) & ~63;
    const pa = 64;
    const pb = align(pa + aBytes);
    const pbias = align(pb + bBytes + 16);
    const pc = align(pbias + (bias ? 4 * n + 16 : 0));
    const end = pc + cBytes + 64;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE);
      if (have / PAGE + pages > SHARED_MAX_PAGES) {
        return false;
      }
      this.memory.grow(pages);
    }
    const sh = new Uint8Array(this.memory.buffer);
    sh.set(heap.subarray(a, a + aBytes), pa);
    sh.set(heap.subarray(b, b + bBytes), pb);
    if (bias) {
      sh.set(heap.subarray(bias, bias + 4 * n), pbias);
    }
    // bands of whole register tiles
    const band = Math.ceil(m / this.threads / GEMM_MR) * GEMM_MR;
    const ctrl = this.ctrl;
    const args = (t: number): number[] => {
      const i0 = Math.min(m, t * band);
      const rows = Math.min(band, m - i0);
      return [pa + 4 * i0 * rsA, 4 * rsA, 4 * ksA, pb, 4 * ldb, pc + 4 * i0 * ldc, 4 * ldc, rows, n, k, bias ? pbias : 0, relu ? 1 : 0, 1]; // prettier-ignore
    };
    for (let t = 1; t < this.threads; t++) {
      ctrl.set(args(t), 4 + 16 * t);
    }
    Atomics.store(ctrl, 1, 0);
    Atomics.add(ctrl, 0, 1);
    Atomics.notify(ctrl, 0);
    const own = args(0);
    this.k.gemm(...(own as Parameters<WasmKernels['gemm']>));
    const others = this.threads - 1;
    for (;;) {
      const done = Atomics.load(ctrl, 1);
      if (done >= others) {
        break;
      }
      Atomics.wait(ctrl, 1, done);
    }
    heap.set(new Uint8Array(this.memory.buffer, pc, cBytes), c);
    this.calls++;
    totalCalls++;
    return true;
  }

  /** Whether every worker is ready; with `wait` (tests), blocks until they are (≤ 10 s). */
  private waitReady(): boolean {
    if (!this.blockUntilReady) {
      return false;
    }
    const deadline = Date.now() + 10_000;
    for (;;) {
      const ready = Atomics.load(this.ctrl, 3);
      if (ready >= this.threads - 1) {
        return true;
      }
      if (Date.now() > deadline) {
        return false;
      }
      Atomics.wait(this.ctrl, 3, ready, 50);
    }
  }

  /** Stops the workers. */
  close(): void {
    Atomics.store(this.ctrl, 2, 1);
    Atomics.add(this.ctrl, 0, 1);
    Atomics.notify(this.ctrl, 0);
    for (const w of this.workers) {
      void w.terminate();
    }
  }
}

let requested: number | undefined;
let totalCalls = 0;

/** GEMMs split across threads in this process so far (tests check that threads really ran). */
export function threadedCalls(): number {
  return totalCalls;
}

let pool: GemmPool | null | undefined;

/** The number of cores, at most MAX_DEFAULT_THREADS. */
export function defaultThreads(): number {
  return Math.max(1, Math.min(MAX_DEFAULT_THREADS, availableParallelism()));
}

/** Parses a thread count (1…MAX_THREADS); null when invalid. */
export function parseThreads(s: string): number | null {
  if (!/^[0-9]+$/.test(s)) {
    return null;
  }
  const n = Number(s);
  return n >= 1 && n <= MAX_THREADS ? n : null;
}

let blockUntilReady = false;

/**
 * Sets this process's kernel thread count (before or between steps; never changes a bit).
 * `waitForWorkers` (tests): GEMMs wait for the workers to start rather than run on one thread.
 */
export function setKernelThreads(n: number, waitForWorkers = false): void {
  blockUntilReady = waitForWorkers;
  if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS) {
    throw new RangeError(`threads must be an integer from 1 to ${MAX_THREADS}, got ${n}`);
  }
  if (n !== requested) {
    requested = n;
    pool?.close();
    pool = undefined;
  }
}

/** The thread count in effect: setKernelThreads, else LOCKSTEP_THREADS, else defaultThreads(). */
export function kernelThreads(): number {
  if (requested === undefined) {
    const env = process.env.LOCKSTEP_THREADS;
    requested = (env !== undefined && parseThreads(env)) || defaultThreads();
  }
  return requested;
}

/** The pool for the current thread count (null for one thread, or when workers cannot start). */
export function gemmPool(): GemmPool | null {
  if (pool === undefined) {
    const n = kernelThreads();
    pool = null;
    if (n > 1) {
      try {
        pool = new GemmPool(n, MIN_THREADED_MACS, blockUntilReady);
      } catch {
        pool = null;
      }
    }
  }
  return pool;
}
