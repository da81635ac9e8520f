/**
 * Deterministic multi-threaded GEMM: the rows of C are split into contiguous bands (multiples of
 * the register tile's 4 rows; a GEMM of few rows and many columns in bands of columns instead),
 * and every band is computed by the very same single-threaded kernel (./wasm-module.ts) on a
 * shared WebAssembly memory. Each output element is therefore computed by exactly one thread
 * with exactly the operations, in exactly the order, of the one-thread GEMM: the bits do not
 * depend on the thread count (tests/engine/threads.test.ts).
 * Where the native kernels run (./native.ts), every thread runs their twins of the GEMMs and of
 * the optimizers' updates (the same bits again), loaded by the workers from the same file.
 *
 * When tfjs's wasm heap is a shared memory (./shared-heap.ts), the threads run on it in place;
 * otherwise a call copies A's, B's and the bias's extents into a shared memory of the pool's own,
 * runs the bands (the calling thread takes the first), and copies C back. Worker
 * threads (node:worker_threads) wait on an Atomics word, spinning briefly first; nothing is
 * asynchronous to the caller.
 *
 * The thread count is a process setting — `setKernelThreads(n)`, else LOCKSTEP_THREADS, else the
 * number of cores capped at MAX_DEFAULT_THREADS — and never part of a config or fingerprint,
 * because it cannot change a bit. Where workers cannot start, everything runs on one thread.
 */
import { availableParallelism } from 'node:os';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads'; // prettier-ignore
import { nativeKernels, tileFunctions, type NativeKernels } from './native';
import { GEMM_MR, instantiateSharedKernels, kernelModuleBytes, ROW_BYTES, SHARED_MAX_PAGES, WA, type WasmKernels, type WasmMemory } from './wasm-module'; // prettier-ignore

/** The default thread count is the number of cores, at most this. */
export const MAX_DEFAULT_THREADS = 4;
/** Largest thread count accepted. */
export const MAX_THREADS = 64;
/**
 * GEMMs smaller than this (m·n·k multiply-adds, ≈ 0.05 ms on one thread) stay on one thread.
 * Waking a sleeping worker costs 20–150 µs on this kind of virtual machine; a worker that has just
 * finished a call spins for the next one instead ({@link SPIN_ITERATIONS}), so calls that follow
 * each other within a step pay nothing to wake it. Measured on lenet5 (batch 64, 2 threads, 2
 * cores): 4.84–4.95 ms/step with 4 M as the limit, 4.49–4.54 with 1 M, 4.30–4.52 with 256 K; the
 * default MLP's step (0.67 ms) is the same with any of them.
 */
export const MIN_THREADED_MACS = 1 << 20;
/**
 * How many times a worker that has finished its chunks, and the caller waiting for the last
 * chunk, check the control word before they sleep (≈ 6 ns each here: ≈ 0.3 ms). Only while the
 * pool has no more threads than the machine has cores: a spinning thread would take a core from
 * one that works. Measured on lenet5 (2 threads): the workers' share of chunks rises from 38 % to
 * 45 %, the step from 5.71–6.20 to 5.46–5.57 ms.
 */
export const SPIN_ITERATIONS = 50_000;

const PAGE = 65536;
/**
 * Control words: [0] generation (bumped to wake the workers), [1] chunks finished, [2] quit,
 * [3] workers ready, [4] the chunks claimed (total << 22 | taken from the front << 11 | taken from
 * the back: claimed by compare-and-swap), [5] kernel (a {@link Kernel}), [6] the argument slot
 * that holds a chunk's row count, [7] rows per chunk,
 * [8] rows in all, [9] chunks run by workers (cumulative), [10] the first thread's scratch
 * panel and [11] bytes per thread's panel (a 14th argument: thread t's panel is [10] + t·[11]),
 * [12] how long a thread spins before it waits ({@link SPIN_ITERATIONS} or 0), [13] 1 when a
 * dense GEMM runs alongside the chunks (see {@link Alongside}), [14] 1 once a kernel has thrown
 * in the call (the first thread to set it reports the error);
 * a call's 13 arguments for row 0 at 16…28 and their increments per row at 32…44, and the
 * alongside call's 13 arguments at 48…60. The job in the background ({@link GemmPool.post}): [61]
 * its state ({@link Job}), [62] its kernel, [63] 1 when it threw, its 13 arguments at 64…76.
 */
const CTRL_WORDS = 80;
/** States of the job in the background (word 61). */
const Job = { none: 0, posted: 1, running: 2, finished: 3 } as const;
/** Chunks per thread a call is cut into: a late thread leaves its share to the others. */
const CHUNKS_PER_THREAD = 8;
/** At most this many chunks in a call (word 4's total has 10 bits). */
const MAX_CHUNKS = 1023;

/**
 * A GEMM call (Kernel.gemm's 13 arguments, offsets in bytes) independent of a split call's
 * chunks, run as one more chunk of it: the last, so a worker (which takes chunks from the back)
 * mostly takes it first, where the chunks alone would leave a thread idle at the end (a weight
 * gradient of 25 rows is 7 tiles: 4 on one thread, 3 on the other).
 */
export type Alongside = number[];

/** [heap offset, bytes] of an operand the pool copies when it is not in place. */
type Extent = [number, number];

/** The kernels a chunk can run, numbered in order. */
export const Kernel = {
  gemm: 0,
  gemmG: 1,
  gemmCsr: 2,
  gatherRows: 3,
  col2im: 4,
  maxPool: 5,
  maxPoolGrad: 6,
  gemmP: 7,
  reluMask: 8,
  pad: 9,
  csrTranspose: 10,
  sgd: 11,
  momentum: 12,
  gatherRowsCsr: 13,
  adam: 14,
} as const;
export type Kernel = (typeof Kernel)[keyof typeof Kernel];
/** The kernels' names in the order of their numbers (both threads' tables are built from it). */
const KERNEL_NAMES = Object.keys(Kernel) as (keyof typeof Kernel)[];

/** Elements per finite-flag slot of a split optimizer update (chunks start at multiples of it). */
export const UPDATE_GRANULE = 16;

/**
 * The optimizers' kernels as a chunk runs them, on both threads (one source): the wasm kernel's
 * arguments, its f32 scalars as their int32 bits (the control words are int32) — adam's six, which
 * would make 15 arguments where a call has 13, as six float32 in the memory at `sc` —, then
 * `flags` and `first`, the chunk's first element: its finite flag goes to the slot of that
 * element, flags + 4·(first / UPDATE_GRANULE), so that the chunks of one call never share a slot.
 * With `nat`, ./native.ts's twins (each bound to the memory; scalars as their bits, adam's at
 * `sc`, then the flag), the chunks run those.
 */
const UPDATE_SOURCE = `(k, memory, nat) => {
  const f = new Float32Array(1);
  const bits = new Int32Array(f.buffer);
  const f32 = (b) => ((bits[0] = b), f[0]);
  const slot = (flags, first) => flags + 4 * Math.floor(first / ${UPDATE_GRANULE});
  return {
    sgd: nat
      ? (w, g, o, n, lr, flags, first) => nat.sgd(w, g, o, n, lr, slot(flags, first))
      : (w, g, o, n, lr, flags, first) => k.sgd(w, g, o, n, f32(lr), slot(flags, first)),
    momentum: nat
      ? (w, g, a, ow, oa, n, lr, mu, flags, first) => nat.momentum(w, g, a, ow, oa, n, lr, mu, slot(flags, first))
      : (w, g, a, ow, oa, n, lr, mu, flags, first) => k.momentum(w, g, a, ow, oa, n, f32(lr), f32(mu), slot(flags, first)),
    adam: nat
      ? (w, g, m, v, ow, om, ov, n, sc, flags, first) => nat.adam(w, g, m, v, ow, om, ov, n, sc, slot(flags, first))
      : (w, g, m, v, ow, om, ov, n, sc, flags, first) => {
          const s = new Float32Array(memory.buffer, sc, 6);
          k.adam(w, g, m, v, ow, om, ov, n, s[0], s[1], s[2], s[3], s[4], s[5], slot(flags, first));
        },
  };
}`;
type UpdateKernels = Record<'sgd' | 'momentum' | 'adam', (...a: number[]) => void>;
const updateKernels = new Function(`return ${UPDATE_SOURCE}`)() as (k: WasmKernels, memory: WasmMemory, nat?: UpdateKernels) => UpdateKernels; // prettier-ignore

/**
 * A GEMM split in place with at most this many rows and at least {@link COLUMN_BANDS_MIN_COLS}
 * columns is split in bands of columns rather than rows: each thread then reads only its part of
 * B, and there are enough bands to share. Measured (native kernels, 2 threads, 2 cores; rows
 * against columns): 64 × 120 × 400 1.74× against 2.01×, 64 × 400 × 120 1.48× against 1.87×,
 * 100 × 128 × 784 1.61× both; 400 × 120 × 64 1.25× against 1.16× (so not for many rows).
 */
export const COLUMN_BANDS_MAX_ROWS = 128;
/** See {@link COLUMN_BANDS_MAX_ROWS}. */
export const COLUMN_BANDS_MIN_COLS = 64;
/** Columns in a band are a multiple of this: an AVX-512 tile's 16 lanes (wasm's 4 divide it). */
const COLUMN_GRANULE = 16;

/** Per-image work (floats touched) below which a per-image kernel stays on one thread. */
export const MIN_THREADED_FLOATS = 1 << 16;

/**
 * Claims chunks of the current call until none is left (the callers' loop and the workers' are
 * the same code): chunk i covers rows [i·chunk, min(m, (i+1)·chunk)); its arguments are those of
 * row 0 plus i·chunk times the per-row increments, with the row count in its slot, and the
 * claiming thread's own scratch panel (thread `self`: 0 the caller, 1… the workers) after them;
 * with a call alongside ([13] not 0), the last chunk is that call. The caller takes chunks from
 * the front (0, 1, …), the workers from the back (total − 1, …), so that each thread's rows lie
 * together and mostly where its previous call's did: a kernel reads what the one before wrote
 * from its own core's cache. Measured on lenet5 (2 threads, 2
 * cores, 100 alternating pairs of 6 steps in one process): 3 % faster a step (median of the
 * pairs' ratios 0.969, quartiles 0.930–1.004) than with every thread taking from the front.
 */
const CLAIM_SOURCE = `(ctrl, kernels, self, fail) => {
  const a = new Array(13);
  for (;;) {
    const v = Atomics.load(ctrl, 4);
    const total = v >>> 22;
    const front = (v >>> 11) & 0x7ff;
    const back = v & 0x7ff;
    if (front + back >= total) return;
    const fromBack = self > 0;
    if (Atomics.compareExchange(ctrl, 4, v, fromBack ? v + 1 : v + 2048) !== v) continue;
    const i = fromBack ? total - 1 - back : front;
    try {
      if (i === total - 1 && ctrl[13] !== 0) {
        for (let j = 0; j < 13; j++) a[j] = ctrl[48 + j];
        kernels[${Kernel.gemm}](a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12]);
      } else {
        const chunk = ctrl[7];
        const r0 = i * chunk;
        for (let j = 0; j < 13; j++) a[j] = ctrl[16 + j] + r0 * ctrl[32 + j];
        a[ctrl[6]] = Math.min(chunk, ctrl[8] - r0);
        kernels[ctrl[5]](a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], ctrl[10] + self * ctrl[11]);
      }
    } catch (e) {
      // (the chunk still counts as finished, so that the call ends: the caller then throws)
      if (Atomics.compareExchange(ctrl, 14, 0, 1) === 0) fail(e);
    }
    if (self > 0) Atomics.add(ctrl, 9, 1);
    if (Atomics.add(ctrl, 1, 1) + 1 === total) Atomics.notify(ctrl, 1);
  }
}`;

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { bytes, memory, ctrl: sab, self, native, port } = workerData;
const k = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
const kernels = ${JSON.stringify(KERNEL_NAMES)}.map((name) => k[name]);
const updates = (${UPDATE_SOURCE})(k, memory);
kernels[${Kernel.sgd}] = updates.sgd;
kernels[${Kernel.momentum}] = updates.momentum;
kernels[${Kernel.adam}] = updates.adam;
if (native) {
  // the native twins (./native.ts): same arguments, a view of the memory first
  const addon = require(native.file);
  let buffer = null;
  let view = null;
  const viewOf = () => {
    if (memory.buffer !== buffer) {
      buffer = memory.buffer;
      view = new Uint8Array(buffer);
    }
    return view;
  };
  kernels[${Kernel.gemmCsr}] = (...a) => addon[native.gemmCsr](viewOf(), ...a.slice(0, 10), a[11]);
  kernels[${Kernel.gemm}] = (...a) => addon[native.gemm](viewOf(), ...a.slice(0, 12));
  kernels[${Kernel.gemmP}] = kernels[${Kernel.gemm}];
  kernels[${Kernel.gemmG}] = (...a) => addon[native.gemmG](viewOf(), ...a.slice(0, 12));
  kernels[${Kernel.gatherRowsCsr}] = (...a) => addon.gatherRowsCsr(viewOf(), ...a.slice(0, 9));
  kernels[${Kernel.gatherRows}] = (...a) => addon.gatherRows(viewOf(), ...a.slice(0, 4));
  const nat = (${UPDATE_SOURCE})(k, memory, {
    sgd: (...a) => addon.sgd(viewOf(), ...a),
    momentum: (...a) => addon.momentum(viewOf(), ...a),
    adam: (...a) => addon.adam(viewOf(), ...a),
  });
  kernels[${Kernel.sgd}] = nat.sgd;
  kernels[${Kernel.momentum}] = nat.momentum;
  kernels[${Kernel.adam}] = nat.adam;
}
const ctrl = new Int32Array(sab);
const claim = ${CLAIM_SOURCE};
let seen = Atomics.load(ctrl, 0);
const fail = (e) => port.postMessage({ name: e?.name, message: String(e?.message ?? e) });
Atomics.add(ctrl, 3, 1);
Atomics.notify(ctrl, 3);
for (;;) {
  // the next call mostly comes within a fraction of a millisecond: spin a while before sleeping
  for (let i = ctrl[12]; i > 0 && Atomics.load(ctrl, 0) === seen; i--);
  Atomics.wait(ctrl, 0, seen);
  seen = Atomics.load(ctrl, 0);
  if (Atomics.load(ctrl, 2) !== 0) break;
  if (Atomics.load(ctrl, 61) === ${Job.posted} && Atomics.compareExchange(ctrl, 61, ${Job.posted}, ${Job.running}) === ${Job.posted}) {
    try {
      kernels[ctrl[62]](ctrl[64], ctrl[65], ctrl[66], ctrl[67], ctrl[68], ctrl[69], ctrl[70], ctrl[71], ctrl[72], ctrl[73], ctrl[74], ctrl[75], ctrl[76]);
    } catch (e) {
      ctrl[63] = 1;
      fail(e);
    }
    Atomics.store(ctrl, 61, ${Job.finished});
    Atomics.notify(ctrl, 61);
  }
  claim(ctrl, kernels, self, fail);
}
`;

type Claim = (
  ctrl: Int32Array,
  kernels: ((...a: number[]) => void)[],
  self: number,
  fail: (e: unknown) => void,
) => void;
// the workers' loop, compiled here too for the calling thread (one source for both)
const claim = new Function(`return ${CLAIM_SOURCE}`)() as Claim;

/** Threads that run the bands of a GEMM on one shared memory. */
export class GemmPool {
  private readonly memory: WasmMemory;
  private readonly k: WasmKernels;
  private readonly ctrl: Int32Array;
  private readonly kernels: ((...a: number[]) => void)[];
  private readonly workers: Worker[] = [];
  /** where each worker reports the first error a kernel threw in a call */
  private readonly ports: MessagePort[] = [];

  /** Whether the threads run gemmCsr's native twin (which reads idx as column numbers too). */
  readonly nativeCsr: boolean;
  /** GEMMs this pool has split across its threads */
  calls = 0;
  /** of which in bands of columns ({@link COLUMN_BANDS_MAX_ROWS}) */
  columnCalls = 0;

  /**
   * `threads` ≥ 2 (the caller's thread counts as one). Throws when workers cannot start.
   * `minMacs`: the smallest GEMM worth splitting; 0 (tests) splits every call, however small.
   * `blockUntilReady`: the first GEMMs wait for the workers to start instead of running on one
   * thread meanwhile (tests, so that threads really run).
   * `heap`: the shared memory the operands live in (tfjs's heap made shared, ./shared-heap.ts):
   * the threads then work in place — no copies in, no copy of C back. Without it, the pool copies
   * the operands into a shared memory of its own.
   * `callerWorks` false (tests): the calling thread claims no chunk, so the workers compute all.
   */
  constructor(
    readonly threads: number,
    private readonly minMacs = MIN_THREADED_MACS,
    private readonly blockUntilReady = false,
    readonly heap: WasmMemory | null = null,
    private readonly callerWorks = true,
    /** native twins the threads run instead of their wasm kernels (./native.ts) */
    native: NativeKernels | null = null,
  ) {
    this.nativeCsr = native !== null;
    this.memory = heap ?? new WA.Memory({ initial: 16, maximum: SHARED_MAX_PAGES, shared: true });
    this.k = instantiateSharedKernels(this.memory);
    this.kernels = KERNEL_NAMES.map((name) => this.k[name] as (...a: number[]) => void);
    const updates = updateKernels(this.k, this.memory);
    this.kernels[Kernel.sgd] = updates.sgd;
    this.kernels[Kernel.momentum] = updates.momentum;
    this.kernels[Kernel.adam] = updates.adam;
    if (native) {
      const memory = this.memory;
      // (the wasm kernel's 11th argument, `tail`, the twin's 12th: rowBytes, see gemmCsr)
      this.kernels[Kernel.gemmCsr] = (r, i, v, b, c, ldc, m, n, bias, relu, _tail, rowBytes) => native.gemmCsr(memory.buffer, r, i, v, b, c, ldc, m, n, bias, relu, rowBytes); // prettier-ignore
      this.kernels[Kernel.gemm] = (a, rsA, ksA, b, ldb, c, ldc, m, n, k, bias, relu) => native.gemm(memory.buffer, a, rsA, ksA, b, ldb, c, ldc, m, n, k, bias, relu); // prettier-ignore
      // gemmP is gemm with A packed first (the same bits): its native twin reads A in place
      this.kernels[Kernel.gemmP] = this.kernels[Kernel.gemm];
      this.kernels[Kernel.gemmG] = (x, rt, kt, b, ldb, c, ldc, m, n, k, bias, relu) => native.gemmG(memory.buffer, x, rt, kt, b, ldb, c, ldc, m, n, k, bias, relu); // prettier-ignore
      this.kernels[Kernel.gatherRowsCsr] = (p, ind, n, out, rp, idx, val, total, first) => native.gatherRowsCsr(memory.buffer, p, ind, n, out, rp, idx, val, total, first); // prettier-ignore
      this.kernels[Kernel.gatherRows] = (p, ind, n, out) => native.gatherRows(memory.buffer, p, ind, n, out); // prettier-ignore
      const nat = updateKernels(this.k, memory, {
        sgd: (w, g, o, n, lr, flag) => native.sgd(memory.buffer, w, g, o, n, lr, flag),
        momentum: (w, g, a, ow, oa, n, lr, mu, flag) => native.momentum(memory.buffer, w, g, a, ow, oa, n, lr, mu, flag), // prettier-ignore
        adam: (w, g, m, v, ow, om, ov, n, sc, flag) => native.adam(memory.buffer, w, g, m, v, ow, om, ov, n, sc, flag), // prettier-ignore
      });
      this.kernels[Kernel.sgd] = nat.sgd;
      this.kernels[Kernel.momentum] = nat.momentum;
      this.kernels[Kernel.adam] = nat.adam;
    }
    const sab = new SharedArrayBuffer(4 * CTRL_WORDS);
    this.ctrl = new Int32Array(sab);
    this.ctrl[12] = threads <= availableParallelism() ? SPIN_ITERATIONS : 0;
    const bytes = kernelModuleBytes(true);
    for (let t = 1; t < threads; t++) {
      const { port1, port2 } = new MessageChannel();
      port1.unref();
      this.ports.push(port1);
      const w = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { bytes, memory: this.memory, ctrl: sab, self: t, port: port2, native: native ? { file: native.file, ...tileFunctions(native.isa) } : null }, // prettier-ignore
        transferList: [port2],
      });
      w.unref();
      this.workers.push(w);
    }
  }

  /**
   * C = act(A·B + bias) for operands in `heap` (byte offsets; strides in elements, as Mem.gemm):
   * false when this call is not worth threading (small, strided C, too large), then the caller
   * computes it on one thread. With `[panels, panelBytes]`, the packed GEMM (gemmP of
   * ./wasm-packed.ts), each thread with its own panel as for gemmG.
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
    [panels, panelBytes]: [number, number] | [] = [],
  ): boolean {
    if (!this.worthSplitting(m, n, k, ldc)) {
      return false;
    }
    const fewRows = m <= COLUMN_BANDS_MAX_ROWS && n >= COLUMN_BANDS_MIN_COLS;
    if (this.heap && panelBytes === undefined && fewRows) {
      // few rows, many columns: bands of columns, each thread reading its part of B only
      const tail = this.tail(b, ldb, n, k, bias);
      this.columnCalls++;
      this.runBands(Kernel.gemm, null, c, c, n, 1, (j0, cols) => [a, 4 * rsA, 4 * ksA, b + 4 * j0, 4 * ldb, c + 4 * j0, 4 * ldc, m, cols, k, bias ? bias + 4 * j0 : 0, relu ? 1 : 0, tail], COLUMN_GRANULE); // prettier-ignore
      return true;
    }
    const aBytes = 4 * ((m - 1) * rsA + (k - 1) * ksA + 1);
    const extents: Extent[] = [[a, aBytes], [b, 4 * ((k - 1) * ldb + n)], [bias, bias ? 4 * n : 0]]; // prettier-ignore
    const kernel = panelBytes === undefined ? Kernel.gemm : Kernel.gemmP;
    if (panelBytes !== undefined) {
      extents.push([panels!, -this.threads * panelBytes]);
    }
    return this.split(kernel, heap, m, n, c, this.tail(b, ldb, n, k, bias), extents, (ptrs, tail, i0, rows) => [ptrs[0] + 4 * i0 * rsA, 4 * rsA, 4 * ksA, ptrs[1], 4 * ldb, ptrs[ptrs.length - 1] + 4 * i0 * ldc, 4 * ldc, rows, n, k, bias ? ptrs[2] : 0, relu ? 1 : 0, tail], panelBytes ?? 0); // prettier-ignore
  }

  /**
   * The gathered GEMM (gemmG of ./wasm-packed.ts: A[i, p] at x + rowTab[i] + kTab[p]) split the
   * same way, rows in bands, each thread packing A into its own panel of `panelBytes` bytes —
   * thread t's at `panels` + t·panelBytes in place (the caller reserves `threads` panels in the
   * heap); out of place, x's `xBytes` bytes, the two tables, B and the bias are copied into the
   * shared memory (the tables hold offsets relative to x, so they stay valid there), the panels
   * are reserved there, and C is copied back. False when not worth threading; then the caller
   * runs it on one thread. `alongside`: an independent dense GEMM (Kernel.gemm's arguments) run
   * as one more chunk, in place only (false out of place: the caller runs both).
   */
  gemmG(
    heap: Uint8Array,
    x: number,
    xBytes: number,
    rowTab: number,
    kTab: number,
    b: number,
    ldb: number,
    c: number,
    ldc: number,
    m: number,
    n: number,
    k: number,
    bias: number,
    relu: boolean,
    panels: number,
    panelBytes: number,
    alongside: Alongside | null = null,
  ): boolean {
    if (!this.worthSplitting(m, n, k, ldc)) {
      return false;
    }
    // (panels 0: A read in place, no panels)
    const bytes = panels === 0 ? 0 : panelBytes;
    const extents: Extent[] = [[x, xBytes], [rowTab, 4 * m], [kTab, 4 * k], [b, 4 * ((k - 1) * ldb + n)], [bias, bias ? 4 * n : 0], [panels, -this.threads * bytes]]; // prettier-ignore
    return this.split(Kernel.gemmG, heap, m, n, c, this.tail(b, ldb, n, k, bias), extents, ([px, pr, pk, pb, pbias, , pc], tail, i0, rows) => [px, pr + 4 * i0, pk, pb, 4 * ldb, pc + 4 * i0 * ldc, 4 * ldc, rows, n, k, bias ? pbias : 0, relu ? 1 : 0, tail], bytes, alongside); // prettier-ignore
  }

  /**
   * Runs `kernel` in chunks of C's m rows: in place on the shared heap (`args` gets the operands'
   * own offsets and C's, and the caller's `tail`), or with the operands' extents copied into the
   * pool's memory (`args` gets their copies' offsets and C's; tail 1: the copies have room) and C
   * copied back. False when the pool's memory cannot hold the copies, or with a GEMM
   * `alongside` out of place (it runs in place only). An extent of negative
   * size −B reserves B bytes without copying (the threads' panels, `panelBytes` each: their
   * base is that extent's pointer).
   */
  private split(
    kernel: Kernel,
    heap: Uint8Array,
    m: number,
    n: number,
    c: number,
    tail: number,
    extents: Extent[],
    args: (ptrs: number[], tail: number, i0: number, rows: number) => number[],
    panelBytes = 0,
    alongside: Alongside | null = null,
  ): boolean {
    const panelsAt = extents.findIndex(([, bytes]) => bytes < 0);
    if (this.heap) {
      const ptrs = [...extents.map(([p]) => p), c];
      const panels = panelsAt < 0 ? 0 : ptrs[panelsAt];
      this.runBands(kernel, null, c, c, m, n, (i0, rows) => args(ptrs, tail, i0, rows), GEMM_MR, [panels, panelBytes], alongside); // prettier-ignore
      return true;
    }
    if (alongside) {
      return false;
    }
    const ptrs = this.stage(heap, extents, 4 * m * n);
    if (ptrs === null) {
      return false;
    }
    const panels = panelsAt < 0 ? 0 : ptrs[panelsAt];
    this.runBands(kernel, heap, c, ptrs[ptrs.length - 1], m, n, (i0, rows) => args(ptrs, 1, i0, rows), GEMM_MR, [panels, panelBytes]); // prettier-ignore
    return true;
  }

  /**
   * The sparse GEMM's kernel (gemmCsr of ./wasm-sparse.ts) on compressed rows already in the
   * heap, split in row bands — in place only (with a shared heap); false otherwise or when the
   * `macs` multiply-adds are too few. Pointers in bytes (idx: scaleIdx's byte offsets of B's
   * rows; with `rowBytes` > 0, on a pool of native kernels only ({@link nativeCsr}), A's column
   * numbers and B's rows that many bytes apart), ldc in elements.
   */
  gemmCsr(
    rowPtr: number,
    idx: number,
    val: number,
    b: number,
    c: number,
    ldc: number,
    m: number,
    n: number,
    bias: number,
    relu: boolean,
    tail: number,
    macs: number,
    rowBytes = 0,
  ): boolean {
    if (!this.heap || macs < this.minMacs || !this.worthSplitting(m, n, 1, ldc, true)) {
      return false;
    }
    if (rowBytes !== 0 && !this.nativeCsr) {
      throw new Error('gemmCsr: column numbers for idx need the native kernels');
    }
    this.runBands(Kernel.gemmCsr, null, c, c, m, n, (i0, rows) => [rowPtr + 8 * i0, idx, val, b, c + 4 * i0 * ldc, 4 * ldc, rows, n, bias, relu ? 1 : 0, tail, rowBytes, 0]); // prettier-ignore
    return true;
  }

  /**
   * The batch gather with its compressed rows (native gatherRowsCsr, so on a pool of native
   * kernels only) split in bands of rows — in place only; false otherwise or for fewer than
   * `minRows` rows. Each band writes its rows' entries from its first row's 784 slots on (rowPtr
   * holds offsets from idx), so the bands never meet; `total` is left to the caller (the entries
   * are rowPtr's sums). Pointers in bytes.
   */
  gatherRowsCsr(
    pixels: number,
    indices: number,
    rows: number,
    out: number,
    rowPtr: number,
    idx: number,
    val: number,
    total: number,
    minRows = 64,
  ): boolean {
    if (
      !this.heap ||
      !this.nativeCsr ||
      (this.minMacs > 0 && rows < minRows) ||
      rows < 2 ||
      !this.ready()
    ) {
      return false;
    }
    this.runBands(Kernel.gatherRowsCsr, null, 0, 0, rows, 0, (i0, n) => [pixels, indices + 4 * i0, n, out + 4 * ROW_BYTES * i0, rowPtr + 8 * i0, idx, val, total, 4 * ROW_BYTES * i0, 0, 0, 0, 0], 1); // prettier-ignore
    csrGathers++;
    return true;
  }

  /**
   * gatherRows (./wasm-module.ts: MNIST-sized rows of pixels to floats) split in bands of rows —
   * in place only; false otherwise or for fewer than `minRows` rows.
   */
  gatherRows(
    pixels: number,
    indices: number,
    rows: number,
    out: number,
    rowFloats: number,
    minRows = 512,
  ): boolean {
    // prettier-ignore
    if (!this.heap || (this.minMacs > 0 && rows < minRows) || !this.worthSplitting(rows, 1, 1, 1, true)) { // prettier-ignore
      return false;
    }
    this.runBands(Kernel.gatherRows, null, out, out, rows, rowFloats, (i0, n) => [pixels, indices + 4 * i0, n, out + 4 * rowFloats * i0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // prettier-ignore
    return true;
  }

  /**
   * A kernel over a batch of images whose images are independent (col2im, maxPool,
   * maxPoolGrad, pad: each image's output depends on that image's input only), split in bands
   * of whole images — in place only; false otherwise, for one image, or for fewer than
   * MIN_THREADED_FLOATS floats of work. `args(first, count)` are the kernel's arguments for
   * images [first, first + count).
   */
  images(
    kernel:
      typeof Kernel.col2im | typeof Kernel.maxPool | typeof Kernel.maxPoolGrad | typeof Kernel.pad,
    n: number,
    floats: number,
    args: (first: number, count: number) => number[],
  ): boolean {
    return this.independent(kernel, n, 1, floats, args);
  }

  /**
   * An elementwise kernel over `count` floats (reluMask, and the optimizers' updates of
   * {@link UPDATE_SOURCE}: element i of the outputs depends on element i of the inputs only, the
   * SIMD body and the scalar tail computing it alike), split in runs of whole 64-byte lines
   * (multiples of UPDATE_GRANULE elements) — in place only; false otherwise or for fewer than
   * MIN_THREADED_FLOATS floats. `args(first, count)` are the kernel's arguments for elements
   * [first, first + count).
   */
  elements(
    kernel:
      typeof Kernel.reluMask | typeof Kernel.sgd | typeof Kernel.momentum | typeof Kernel.adam,
    count: number,
    args: (first: number, count: number) => number[],
  ): boolean {
    return this.independent(kernel, count, UPDATE_GRANULE, count, args);
  }

  /** images and elements: `n` independent units in chunks of multiples of `granule` units. */
  private independent(
    kernel: Kernel,
    n: number,
    granule: number,
    floats: number,
    args: (first: number, count: number) => number[],
  ): boolean {
    if (
      !this.heap ||
      n < 2 * granule ||
      (this.minMacs > 0 && floats < MIN_THREADED_FLOATS) ||
      !this.ready()
    ) {
      return false;
    }
    this.runBands(kernel, null, 0, 0, n, 0, (b0, count) => [...args(b0, count), ...new Array<number>(13).fill(0)].slice(0, 13), granule); // prettier-ignore
    return true;
  }

  /**
   * Starts `kernel(...args)` (at most 13 arguments; in place only) in the background: a worker
   * runs it when it next wakes, before it takes chunks of any call, while the calling thread goes
   * on — with serial work, or with split calls whose chunks it then mostly runs alone. One job at
   * a time: false (nothing started) while one is pending, without workers, or out of place. The
   * job must read nothing the caller writes, and write nothing the caller reads, until
   * {@link join}: the caller owns that contract (the compressed rows of a batch transposed ahead
   * of its weight gradient, ./sparse.ts; the next step's batch gathered ahead, ./gather-ahead.ts;
   * a small dense layer's weight gradient beside its input gradient, ./register.ts).
   * The bits are the kernel's, whichever thread runs it.
   */
  post(
    kernel:
      | typeof Kernel.csrTranspose
      | typeof Kernel.gatherRowsCsr
      | typeof Kernel.gatherRows
      | typeof Kernel.gemm,
    args: number[],
  ): boolean {
    const ctrl = this.ctrl;
    // a job that has finished (and not failed) leaves its slot: its results are all written, and
    // its join returns at once (or waits for this one)
    if (Atomics.load(ctrl, 61) === Job.finished && ctrl[63] === 0) {
      Atomics.store(ctrl, 61, Job.none);
    }
    if (!this.heap || Atomics.load(ctrl, 61) !== Job.none || args.length > 13 || !this.ready()) {
      return false;
    }
    ctrl.fill(0, 64, 77);
    ctrl.set(args, 64);
    ctrl[62] = kernel;
    ctrl[63] = 0;
    Atomics.store(ctrl, 61, Job.posted);
    Atomics.add(ctrl, 0, 1);
    Atomics.notify(ctrl, 0);
    return true;
  }

  /**
   * Waits for the job {@link post} started (the calling thread runs it if no worker has taken
   * it yet); throws what its kernel threw. Returns at once when there is none.
   */
  join(): void {
    const ctrl = this.ctrl;
    if (Atomics.load(ctrl, 61) === Job.none) {
      return;
    }
    if (Atomics.compareExchange(ctrl, 61, Job.posted, Job.running) === Job.posted) {
      try {
        this.kernels[ctrl[62]](...Array.from(ctrl.subarray(64, 77)));
      } finally {
        Atomics.store(ctrl, 61, Job.none);
      }
      return;
    }
    for (let i = ctrl[12]; i > 0 && Atomics.load(ctrl, 61) === Job.running; i--) {
      // spinning
    }
    while (Atomics.load(ctrl, 61) === Job.running) {
      Atomics.wait(ctrl, 61, Job.running);
    }
    const threw = ctrl[63] !== 0;
    Atomics.store(ctrl, 61, Job.none);
    if (threw) {
      throw this.workerFailure(ctrl[62] as Kernel);
    }
  }

  /** The GEMM's `tail` flag in place: 1 when B's rows and the bias may be over-read by 16 bytes. */
  private tail(b: number, ldb: number, n: number, k: number, bias: number): number {
    const end = Math.max(b + 4 * (k * ldb + n), bias + 4 * n) + 16;
    return end <= this.memory.buffer.byteLength ? 1 : 0;
  }

  /**
   * Big enough to split (unless `anySize`: the caller judged), C dense, at least two register
   * tiles of rows, and the workers up.
   */
  private worthSplitting(m: number, n: number, k: number, ldc: number, anySize = false): boolean {
    if ((!anySize && m * n * k < this.minMacs) || ldc !== n || m < 2 * GEMM_MR || n < 1 || k < 1) {
      return false;
    }
    return this.ready();
  }

  /** Whether every worker has started (they boot in the background; meanwhile one thread works). */
  private ready(): boolean {
    return Atomics.load(this.ctrl, 3) >= this.threads - 1 || this.waitReady();
  }

  /**
   * Copies the extents [offset, bytes] of `heap` into the shared memory (64-byte aligned, 16
   * spare bytes after each for the SIMD tails) and reserves `cBytes` for C: the shared offsets
   * of the extents, then C's; null when the shared memory cannot grow that far.
   */
  private stage(heap: Uint8Array, extents: Extent[], cBytes: number): number[] | null {
    const align = (v: number): number => (v + 63) & ~63;
    const ptrs: number[] = [];
    let top = 64;
    for (const [, bytes] of extents) {
      ptrs.push(top);
      top = align(top + Math.abs(bytes) + 16);
    }
    ptrs.push(top);
    const end = top + cBytes + 64;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE);
      if (have / PAGE + pages > SHARED_MAX_PAGES) {
        return null;
      }
      this.memory.grow(pages);
    }
    const sh = new Uint8Array(this.memory.buffer);
    extents.forEach(([from, bytes], i) => {
      if (bytes > 0) {
        sh.set(heap.subarray(from, from + bytes), ptrs[i]);
      }
    });
    return ptrs;
  }

  /**
   * Runs `kernel` over C's m rows in chunks (multiples of `granule` rows: whole register tiles
   * unless told) that the calling thread and the workers claim as they come — a thread that wakes
   * late leaves its share to the others, so a call is never much slower than on one thread. Each
   * row is computed by exactly one thread with the one-thread operations, so which thread takes a
   * chunk never changes a bit. `args(firstRow, rows)` gives a chunk's 13 arguments: affine in
   * firstRow, with `rows` in one slot. `alongside`: a dense GEMM run as one more chunk (in place
   * only). Then copies C (m × n floats at shared offset pc) back to `c` in `heap` (unless in
   * place: heap null).
   */
  private runBands(
    kernel: Kernel,
    heap: Uint8Array | null,
    c: number,
    pc: number,
    m: number,
    n: number,
    args: (i0: number, rows: number) => number[],
    granule = GEMM_MR,
    [panels, panelBytes] = [0, 0],
    alongside: Alongside | null = null,
  ): void {
    const ctrl = this.ctrl;
    const base = args(0, 0);
    const slot = args(0, 1).findIndex((v, j) => v !== base[j]);
    const inc = args(1, 0).map((v, j) => v - base[j]);
    let chunk = granule * Math.max(1, Math.ceil(m / granule / (CHUNKS_PER_THREAD * this.threads)));
    while (Math.ceil(m / chunk) >= MAX_CHUNKS) {
      chunk *= 2;
    }
    const total = Math.ceil(m / chunk) + (alongside ? 1 : 0);
    ctrl[5] = kernel;
    ctrl[6] = slot;
    ctrl[7] = chunk;
    ctrl[8] = m;
    ctrl[10] = panels;
    ctrl[11] = panelBytes;
    ctrl.set(base, 16);
    ctrl.set(inc, 32);
    ctrl[13] = alongside ? 1 : 0;
    if (alongside) {
      ctrl.set(alongside, 48);
    }
    Atomics.store(ctrl, 1, 0);
    Atomics.store(ctrl, 4, total << 22);
    Atomics.add(ctrl, 0, 1);
    Atomics.notify(ctrl, 0);
    let failure: unknown = null;
    if (this.callerWorks) {
      claim(ctrl, this.kernels, 0, (e) => (failure = e));
    }
    // (the workers' last chunks mostly end within a fraction of a millisecond)
    for (let i = ctrl[12]; i > 0 && Atomics.load(ctrl, 1) < total; i--) {
      // spinning
    }
    for (;;) {
      const done = Atomics.load(ctrl, 1);
      if (done >= total) {
        break;
      }
      Atomics.wait(ctrl, 1, done);
    }
    if (Atomics.load(ctrl, 14) !== 0) {
      Atomics.store(ctrl, 14, 0);
      throw failure ?? this.workerFailure(kernel);
    }
    // (in place, heap is null: C is where the caller wants it)
    heap?.set(new Uint8Array(this.memory.buffer, pc, 4 * m * n), c);
    this.calls++;
    totalCalls++;
  }

  /** The error a worker's kernel threw in the call just ended, as the calling thread's own. */
  private workerFailure(kernel: Kernel): Error {
    for (const port of this.ports) {
      const m = receiveMessageOnPort(port)?.message as { name?: string; message: string } | undefined; // prettier-ignore
      if (m) {
        const E = m.name === 'RangeError' ? RangeError : Error;
        return new E(`${m.message} (in a kernel thread, running ${KERNEL_NAMES[kernel]})`);
      }
    }
    return new Error(`a kernel thread failed running ${KERNEL_NAMES[kernel]}`);
  }

  /** Chunks the workers (not the calling thread) have run so far. */
  workerChunks(): number {
    return Atomics.load(this.ctrl, 9);
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

  /** Stops the workers (once the job in the background, if any, has finished). */
  close(): void {
    try {
      this.join();
    } catch {
      // (its error belongs to a caller that will never look)
    }
    Atomics.store(this.ctrl, 2, 1);
    Atomics.add(this.ctrl, 0, 1);
    Atomics.notify(this.ctrl, 0);
    for (const w of this.workers) {
      void w.terminate();
    }
    for (const port of this.ports) {
      port.close();
    }
  }
}

let requested: number | undefined;
let totalCalls = 0;
let csrGathers = 0;

/** Batch gathers with compressed rows split across threads so far (tests: the path ran). */
export function splitCsrGathers(): number {
  return csrGathers;
}

/** GEMMs split across threads in this process so far (tests check that threads really ran). */
export function threadedCalls(): number {
  return totalCalls;
}

/**
 * The pools by thread count (and the tests' blocking mode): a pool is kept when the count changes,
 * so that coming back to it finds its workers started and their code warm (null: workers could
 * not start).
 */
const pools = new Map<string, GemmPool | null>();

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
 * Sets this process's kernel thread count (before or between steps; never changes a bit). The
 * pool of the count before is kept, its workers asleep, for when that count comes back.
 * `waitForWorkers` (tests): calls wait for the workers to start rather than run on one thread,
 * and every call is split, however small.
 */
export function setKernelThreads(n: number, waitForWorkers = false): void {
  blockUntilReady = waitForWorkers;
  if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS) {
    throw new RangeError(`threads must be an integer from 1 to ${MAX_THREADS}, got ${n}`);
  }
  requested = n;
}

/** The thread count in effect: setKernelThreads, else LOCKSTEP_THREADS, else defaultThreads(). */
export function kernelThreads(): number {
  if (requested === undefined) {
    const env = process.env.LOCKSTEP_THREADS;
    requested = (env !== undefined && parseThreads(env)) || defaultThreads();
  }
  return requested;
}

/**
 * The pool for the current thread count (null for one thread, or when workers cannot start);
 * `heap`: the shared memory the operands are in, for threads in place (see GemmPool).
 */
export function gemmPool(heap: WasmMemory | null = null): GemmPool | null {
  const n = kernelThreads();
  if (n === 1) {
    return null;
  }
  const key = `${n}${blockUntilReady ? ', blocking' : ''}`;
  let pool = pools.get(key);
  if (pool && pool.heap !== heap) {
    pool.close();
    pool = undefined;
  }
  if (pool === undefined) {
    try {
      // tests (waitForWorkers): every call split, however small, so that threads really run
      pool = new GemmPool(n, blockUntilReady ? 0 : MIN_THREADED_MACS, blockUntilReady, heap, true, nativeKernels()); // prettier-ignore
    } catch {
      pool = null;
    }
    pools.set(key, pool);
  }
  return pool;
}
