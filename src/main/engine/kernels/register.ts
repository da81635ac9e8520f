/**
 * Our fused training kernels, registered with tfjs under our own names for the `wasm` and `cpu`
 * backends (tfjs's own kernels are left alone, so nothing else in the process changes).
 *
 * - LockstepDense        {x[m,k], w[k,n], b[n]} {relu}            → y = act(x·W + b)
 * - LockstepDenseGrad    {x, w, y, dy} {relu, wantDx}             → [dW, db, dx?]
 * - LockstepSoftmaxXent  {logits[m,c], labels int32[m]}           → [loss scalar, dlogits]
 * - LockstepSgd          {w, g} {lr}                              → [w']
 * - LockstepMomentum     {w, g, acc} {lr, mu}                     → [w', acc']
 * - LockstepAdam         {w, g, m, v} {lr, b1, b2, c1, c2, eps}   → [w', m', v']
 * - LockstepGatherPixels {indices int32[n]} {pixels: Uint8Array, rowBytes = 784}
 *                                                                → x[n, rowBytes] = pixel / 255
 *   (on wasm with kernel threads, the batch a trainer had gathered ahead when it is this one:
 *   ./gather-ahead.ts)
 * - the image-layer kernels of ./layer-kernels.ts (convolution, pooling, batch norm, …)
 *   (on wasm the dataset's bytes are copied once into the backend's heap, so a batch is
 *   gathered and converted there: no per-step upload)
 *
 * On `wasm` the heavy parts run in our WebAssembly SIMD module (./wasm-module.ts) instantiated
 * on the backend's own heap, reading and writing tensors in place; on `cpu` they run in plain JS
 * (./reference.ts) — and on `wasm` too when the engine has no wasm SIMD (the module does not
 * compile there; the JS twins work on the backend's heap instead). Both compute the same float32 operations in the same order, so the two
 * backends give the same bits. Every kernel is deterministic, with a fixed order; on `wasm` large
 * GEMMs are split by rows across threads (./threads.ts), each element computed by one thread in
 * the one-thread order, so the thread count changes no bit.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { INPUT_SIZE, PIXEL_TO_FLOAT } from '../data';
import { GAN_KERNEL_FUNCS } from './gan-kernels';
import * as conv from './conv-ref';
import { JS_BN_LOOPS, type BnLoops, type Window2d } from './conv-ref';
import { LAYER_KERNEL_FUNCS } from './layer-kernels';
import { JsSparseGemm, keptScanWorthTrying, sparseWorthTrying, WasmSparseGemm } from './sparse';
import { nativeKernels } from './native';
import { BN_SCRATCH_BYTES, WasmBnLoops } from './wasm-bn';
import { HeapXxh64, registerHeapHasher } from './heap-hash';
import {
  gemmPool,
  Kernel,
  kernelThreads,
  MIN_THREADED_MACS,
  UPDATE_GRANULE,
  type GemmPool,
} from './threads';
import { sharedHeap } from './shared-heap';
import { panelAllocator, WasmWindowGemm } from './windows';
import { GatherAhead } from './gather-ahead';
import * as ref from './reference';
import {
  instantiateKernels,
  instantiateSharedKernels,
  PANEL_BYTES,
  ROW_BYTES,
  WA,
  type PoolGeometry,
  type WasmKernels,
  type WasmMemory,
  type WindowArgs,
} from './wasm-module';

export const K = {
  dense: 'LockstepDense',
  denseGrad: 'LockstepDenseGrad',
  softmaxXent: 'LockstepSoftmaxXent',
  sgd: 'LockstepSgd',
  momentum: 'LockstepMomentum',
  adam: 'LockstepAdam',
  gatherPixels: 'LockstepGatherPixels',
} as const;

/**
 * A dense layer's weight gradient of at least this many multiply-adds (and too few to be split)
 * runs on a kernel thread while the calling thread computes the input gradient (the default
 * MLP's second layer, 13 µs each: its step on 2 threads 0.987× in one process, alternating).
 */
const ASIDE_MIN_MACS = 1 << 16;
let gemmsAside = 0;

/** Weight gradients computed on a kernel thread in the background so far (tests). */
export function gemmsRunAside(): number {
  return gemmsAside;
}
/** convInputGrad's groups of images hold at most this many floats of dz·Wᵀ (or one image's). */
const DCOL_CHUNK_FLOATS = 1 << 16;
/** With kernel threads, convInputGrad's groups hold at least this many multiply-adds. */
const THREADED_DCOL_MACS = 1 << 23;

/** Version of our kernels' numerics; changes whenever any kernel's bits could change. */
export const KERNELS_VERSION = 'lockstep-kernels@1';

export type Attrs = Record<string, unknown>;
export interface Inputs {
  [name: string]: tf.TensorInfo;
}

/**
 * A GEMM's operands: C[m,n] = A·B with A[i,p] at i·rsA + p·ksA (A = 'ones': one row of ones),
 * B's rows ldb apart, C's ldc (strides in elements).
 */
type GemmOperands = [
  a: tf.TensorInfo | 'ones',
  rsA: number,
  ksA: number,
  b: tf.TensorInfo,
  ldb: number,
  c: tf.TensorInfo,
  ldc: number,
  m: number,
  n: number,
  k: number,
];

/** What a kernel needs from a backend: float32 views of tensors, and new outputs. */
export interface Mem {
  /** allocates an output (views taken before an allocation may be stale afterwards) */
  alloc(shape: number[]): tf.TensorInfo;
  free(t: tf.TensorInfo): void;
  /** a float32 view of a tensor (re-take after allocating) */
  f32(t: tf.TensorInfo): Float32Array;
  i32(t: tf.TensorInfo): Int32Array;
  gemm(...args: [...GemmOperands, bias: tf.TensorInfo | null, relu: boolean]): void;
  /**
   * Starts the dense GEMM C = A·B (no bias, no ReLU) on a kernel thread in the background, for
   * the caller to overlap with other work that neither writes A, B or C nor reads C; returns the
   * function that waits for it, or null (nothing started: the caller runs it).
   */
  gemmAside?(...args: GemmOperands): (() => void) | null;
  reluMask(dy: tf.TensorInfo, y: tf.TensorInfo, out: tf.TensorInfo): void;
  /**
   * A convolution's GEMM read from x's windows, without an im2col matrix (./windows.ts; same
   * bits as im2col + gemm): C = act(col·B + bias), or C = colᵀ·B when `transposed`. False when
   * this backend has no such path (the caller then builds col). With `sums` (a weight gradient's
   * bias gradient), also sums = 1ᵀ·B, B's column sums over its rows in order, exactly as
   * gemm('ones', …) computes them (the kernel threads may run it alongside).
   */
  gemmWindows(
    x: tf.TensorInfo,
    g: Window2d,
    transposed: boolean,
    b: tf.TensorInfo,
    ldb: number,
    c: tf.TensorInfo,
    ldc: number,
    n: number,
    bias: tf.TensorInfo | null,
    relu: boolean,
    sums?: tf.TensorInfo,
  ): boolean;
  /**
   * dx = col2im(dz·Wᵀ) for a convolution (wt = Wᵀ, [oc, kh·kw·c]) computed a group of images at
   * a time, so that the rows of dz·Wᵀ are added into dx while they are still in cache — the same
   * rows, the same values and the same additions in the same order as one GEMM and one col2im
   * (each row of a GEMM is computed alone; col2im adds rows in order and an image's rows only
   * reach that image). False when this backend has no such path (the caller builds dcol).
   */
  convInputGrad(
    dz: tf.TensorInfo,
    wt: tf.TensorInfo,
    g: Window2d,
    oc: number,
    dx: tf.TensorInfo,
  ): boolean;
  /** conv-ref's im2col of x into col (same values) */
  im2col(x: tf.TensorInfo, g: Window2d, col: tf.TensorInfo): void;
  /** conv-ref's col2im of dcol into dx (same additions, same order) */
  col2im(dcol: tf.TensorInfo, g: Window2d, dx: tf.TensorInfo): void;
  /** batch norm's row loops (conv-ref's JS, or wasm SIMD with the same bits) */
  bn: BnLoops;
  /** conv-ref's maxPool of x into y (same bits) */
  maxPool(x: tf.TensorInfo, g: Window2d, y: tf.TensorInfo): void;
  /** conv-ref's maxPoolGrad (same additions, same order) */
  maxPoolGrad(x: tf.TensorInfo, dy: tf.TensorInfo, g: Window2d, dx: tf.TensorInfo): void;
  /** out = a + b (float32); with `relu`, relu of that */
  add(a: tf.TensorInfo, b: tf.TensorInfo, out: tf.TensorInfo, relu?: boolean): void;
  /** out = x > 0 || x ≠ x ? x : 0 */
  relu(x: tf.TensorInfo, out: tf.TensorInfo): void;
  transpose(src: tf.TensorInfo, dst: tf.TensorInfo, rows: number, cols: number): void;
  /**
   * reference.ts's softmaxCrossEntropy of logits [n, classes] and int32 labels [n]: writes
   * dlogits into `dl`, returns the loss (on wasm ./wasm-softmax.ts: the same bits, NaN's payload
   * aside)
   */
  softmaxXent(logits: tf.TensorInfo, labels: tf.TensorInfo, dl: tf.TensorInfo): number;
  sgd(w: tf.TensorInfo, g: tf.TensorInfo, outW: tf.TensorInfo, lr: number): void;
  momentum(ins: tf.TensorInfo[], outs: tf.TensorInfo[], lr: number, mu: number): void;
  adam(ins: tf.TensorInfo[], outs: tf.TensorInfo[], s: AdamScalars): void;
  gatherPixels(
    pixels: Uint8Array,
    indices: tf.TensorInfo,
    out: tf.TensorInfo,
    rowBytes: number,
  ): void;
  /** the batch gathered ahead (./gather-ahead.ts), where this backend gathers ahead */
  ahead?: {
    start(pixels: Uint8Array, n: number, indices: () => Uint32Array, rowBytes: number): boolean;
    /** the output of gatherPixels(pixels, indices) when gathered ahead, else null */
    take(pixels: Uint8Array, indices: tf.TensorInfo, rowBytes: number): tf.TensorInfo | null;
    drop(): void;
  };
}

/** out[r, :] = PIXEL_TO_FLOAT[pixels[indices[r]·rowBytes + i]] */
function gatherJs(pixels: Uint8Array, idx: Int32Array, out: Float32Array, rowBytes: number): void {
  for (let r = 0; r < idx.length; r++) {
    const src = idx[r] * rowBytes;
    const dst = r * rowBytes;
    for (let i = 0; i < rowBytes; i++) {
      out[dst + i] = PIXEL_TO_FLOAT[pixels[src + i]];
    }
  }
}

interface AdamScalars {
  lr: number;
  b1: number;
  b2: number;
  c1: number;
  c2: number;
  eps: number;
}

const size = (t: tf.TensorInfo): number => t.shape.reduce((a, b) => a * b, 1);

/** The geometry arguments of the wasm maxPool / maxPoolGrad. */
function poolGeometry(g: Window2d): PoolGeometry {
  return [g.n, g.h, g.w, g.c, g.kh, g.kw, g.stride, g.oh, g.ow];
}

/** The arguments of the wasm im2col / col2im: x (or dx) and col (or dcol) byte offsets, geometry. */
function windowArgs(x: number, col: number, g: Window2d): WindowArgs {
  return [x, col, g.n, g.h, g.w, g.c, g.kh, g.kw, g.stride, g.padTop, g.padLeft, g.oh, g.ow];
}

// ---------------------------------------------------------------- wasm backend memory access

interface WasmBackendLike {
  wasm: {
    _malloc(n: number): number;
    _free(p: number): void;
    HEAPU8: Uint8Array;
    asm?: { memory?: WasmMemory };
  };
  dataIdMap: { get(id: tf.DataId): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(id: tf.DataId, force?: boolean): boolean;
}

const wasmMems = new WeakMap<object, Mem>();

/**
 * Our SIMD module on `memory`, or null when this engine cannot compile it (no wasm SIMD, e.g.
 * V8 on a CPU without SSE4.1): the JS twins then run on the same heap and give the same bits.
 */
function kernelsOrNull(memory: WasmMemory, shared: boolean): WasmKernels | null {
  try {
    return shared ? instantiateSharedKernels(memory) : instantiateKernels(memory);
  } catch (e) {
    if (e instanceof WA.CompileError) {
      return null;
    }
    throw e;
  }
}

function wasmMem(backend: WasmBackendLike): Mem {
  let mem = wasmMems.get(backend);
  if (mem) {
    return mem;
  }
  const memory = backend.wasm.asm?.memory;
  let k: WasmKernels | null = null;
  // tfjs's heap is shared when ./shared-heap.ts could make it so: the threads then work in place
  const shared = sharedHeap(memory);
  if (memory instanceof WA.Memory) {
    k = kernelsOrNull(memory, shared !== null);
  }
  const pool = (): GemmPool | null => (k ? gemmPool(shared) : null);
  // native twins of the GEMMs where this machine built them (./native.ts): the same bits
  const native = k ? nativeKernels() : null;
  if (k && memory instanceof WA.Memory) {
    // the trace's state digest reads the parameters in place (./heap-hash.ts)
    registerHeapHasher(memory, new HeapXxh64(k, memory, (n) => backend.wasm._malloc(n) >>> 0));
  }
  const onePtr = backend.wasm._malloc(16) >>> 0;
  const buf = (): ArrayBuffer => backend.wasm.HEAPU8.buffer as ArrayBuffer;
  new Float32Array(buf(), onePtr, 1)[0] = 1;
  const off = (t: tf.TensorInfo): number => backend.dataIdMap.get(t.dataId).memoryOffset;
  const f32 = (t: tf.TensorInfo): Float32Array => new Float32Array(buf(), off(t), size(t));
  const heap = (): Float32Array => new Float32Array(buf());
  const datasets = new WeakMap<Uint8Array, number>();
  /** 1 when the SIMD column tail may read 16 bytes past B's last row and past the bias */
  const tailOk = (bOff: number, ldb: number, kk: number, n: number, biasOff: number): number =>
    Math.max(bOff + (kk * ldb + n) * 4, biasOff + n * 4) + 16 <= buf().byteLength ? 1 : 0;
  /** The dense GEMM on heap offsets (bytes; strides in elements): threads, else one. */
  const denseGemm = (
    aOff: number,
    rsA: number,
    ksA: number,
    bOff: number,
    ldb: number,
    cOff: number,
    ldc: number,
    m: number,
    n: number,
    kk: number,
    biasOff: number,
    relu: boolean,
  ): void => {
    // prettier-ignore
    if (pool()?.gemm(backend.wasm.HEAPU8, aOff, rsA, ksA, bOff, ldb, cOff, ldc, m, n, kk, biasOff, relu)) {
      return;
    }
    if (native) {
      native.gemm(buf(), aOff, rsA * 4, ksA * 4, bOff, ldb * 4, cOff, ldc * 4, m, n, kk, biasOff, relu ? 1 : 0); // prettier-ignore
    } else if (k) {
      k.gemm(aOff, rsA * 4, ksA * 4, bOff, ldb * 4, cOff, ldc * 4, m, n, kk, biasOff, relu ? 1 : 0, tailOk(bOff, ldb, kk, n, biasOff)); // prettier-ignore
    } else {
      const h = heap();
      ref.gemm(h, aOff / 4, rsA, ksA, h, bOff / 4, ldb, h, cOff / 4, ldc, m, n, kk, biasOff ? h : null, biasOff / 4, relu); // prettier-ignore
    }
  };
  /** scratch memory kept between calls: (bytes) → its offset, grown when a call needs more */
  const growingScratch = (): ((bytes: number) => number) => {
    let ptr = 0;
    let have = 0;
    return (bytes) => {
      if (bytes > have) {
        if (ptr !== 0) {
          backend.wasm._free(ptr);
        }
        ptr = backend.wasm._malloc(bytes) >>> 0;
        have = bytes;
      }
      return ptr;
    };
  };
  /** convInputGrad's rows of dz·Wᵀ */
  const dcolScratch = growingScratch();
  /** the softmax's per-row losses (kept, grown when a batch needs more) */
  const rowLossScratch = growingScratch();
  const scratchHeap = { malloc: (n: number) => backend.wasm._malloc(n), free: (p: number) => backend.wasm._free(p) }; // prettier-ignore
  const panelsFor = panelAllocator(scratchHeap);
  const windows = k ? new WasmWindowGemm(k, scratchHeap, buf, pool, panelsFor, native) : null;
  const sparse = k ? new WasmSparseGemm(k, scratchHeap, buf, pool, native) : null;
  // the optimizers' finite flag (an f32: ±0 when every new weight is finite); weights found
  // finite need no check before a sparse GEMM reads them as B
  let flagPtr = 0;
  const finiteFlag = (): number => (flagPtr ||= backend.wasm._malloc(16) >>> 0);
  const markFinite = (t: tf.TensorInfo): void => {
    if (!Number.isNaN(new Float32Array(buf(), flagPtr, 1)[0])) {
      sparse?.knownFinite(t.dataId);
    }
  };
  // an optimizer's update split across the kernel threads where they work in place (sgd on the
  // MNIST MLP's first layer, 100 K weights: 2 threads, step 0.94–0.96× in one process): each
  // chunk writes the finite flag of its elements into a slot of its own (./threads.ts,
  // UPDATE_SOURCE), and the flag is NaN when any slot is — as when one call wrote it
  let slotsPtr = 0;
  let slotsBytes = 0;
  let adamScalars = 0;
  const splitUpdate = (
    kernel: typeof Kernel.sgd | typeof Kernel.momentum | typeof Kernel.adam,
    count: number,
    args: (first: number, count: number) => number[],
  ): boolean => {
    const p = pool();
    if (!k || !p?.heap) {
      return false;
    }
    const slots = Math.ceil(count / UPDATE_GRANULE);
    if (4 * slots > slotsBytes) {
      if (slotsPtr !== 0) {
        backend.wasm._free(slotsPtr);
      }
      slotsBytes = 4 * slots;
      slotsPtr = backend.wasm._malloc(slotsBytes) >>> 0;
    }
    // (a slot no chunk starts at stays +0)
    new Float32Array(buf(), slotsPtr, slots).fill(0);
    if (!p.elements(kernel, count, (first, n) => [...args(first, n), slotsPtr, first])) {
      return false;
    }
    k.nonFinite(slotsPtr, slots, finiteFlag());
    return true;
  };
  const bn = k ? new WasmBnLoops(k, backend.wasm._malloc(BN_SCRATCH_BYTES) >>> 0, buf) : JS_BN_LOOPS; // prettier-ignore
  /** the heap offset of a split's bytes, copied there once */
  const pixelsAt = (pixels: Uint8Array): number => {
    let p = datasets.get(pixels);
    if (p === undefined) {
      p = backend.wasm._malloc(pixels.length) >>> 0;
      new Uint8Array(buf(), p, pixels.length).set(pixels);
      datasets.set(pixels, p);
    }
    return p;
  };
  const alloc = (shape: number[]): tf.TensorInfo => backend.makeOutput(shape, 'float32');
  const free = (t: tf.TensorInfo): void => void backend.disposeData(t.dataId, true);
  const ahead = sparse
    ? new GatherAhead({ buffer: buf, scratch: growingScratch(), alloc, release: free, offset: off, pixelsAt, pool, sparse }) // prettier-ignore
    : null;
  mem = {
    bn,
    ahead: ahead
      ? {
          start: (pixels, n, indices, rowBytes) => ahead.start(pixels, n, indices, rowBytes),
          take: (pixels, indices, rowBytes) =>
            ahead.take(pixels, off(indices), indices.shape[0], rowBytes),
          drop: () => ahead.drop(),
        }
      : undefined,
    gatherPixels: (pixels, indices, out, rowBytes) => {
      const p = pixelsAt(pixels);
      if (k && rowBytes === ROW_BYTES) {
        const rows = indices.shape[0];
        const [at, to] = [off(indices), off(out)];
        // written with its compressed rows for a dense layer's sparse GEMM (./sparse.ts): in bands
        // across the kernel threads where they run the native kernels, each band's entries from
        // its first row's slots on, the count then summed from the rows' ends
        const gatherCsr = (
          rowPtr: number,
          idx: number,
          val: number,
          total: number,
          tab: number,
        ): void => {
          if (native && pool()?.gatherRowsCsr(p, at, rows, to, rowPtr, idx, val, total)) {
            const rp = new Int32Array(buf(), rowPtr, 2 * rows);
            let bytes = 0;
            for (let r = 0; r < rows; r++) {
              bytes += rp[2 * r + 1] - rp[2 * r];
            }
            new Int32Array(buf(), total, 1)[0] = bytes;
          } else if (native) {
            native.gatherRowsCsr(buf(), p, at, rows, to, rowPtr, idx, val, total, 0);
          } else {
            k.gatherRowsCsr(p, at, rows, to, rowPtr, idx, val, total, tab);
          }
        };
        if (
          !pool()?.gatherRows(p, at, rows, to, ROW_BYTES) &&
          !sparse?.gathered(out.dataId, rows, ROW_BYTES, gatherCsr)
        ) {
          if (native) {
            native.gatherRows(buf(), p, at, rows, to);
          } else {
            k.gatherRows(p, at, rows, to);
          }
        }
      } else {
        gatherJs(pixels, new Int32Array(buf(), off(indices), indices.shape[0]), f32(out), rowBytes);
      }
    },
    alloc,
    free,
    f32,
    i32: (t) => new Int32Array(buf(), off(t), size(t)),
    gemmWindows: (x, g, transposed, b, ldb, c, ldc, n, bias, relu, sums) => {
      if (!windows) {
        return false;
      }
      const kk = transposed ? g.n * g.oh * g.ow : g.kh * g.kw * g.c;
      const biasOff = bias ? off(bias) : 0;
      const bOff = off(b);
      // 1ᵀ·B: the dense GEMM's arguments (Kernel.gemm's, offsets in bytes), A the one 1 read
      // for every row (strides 0)
      const alongside = sums ? [onePtr, 0, 0, bOff, 4 * ldb, off(sums), 4 * n, 1, n, kk, 0, 0, tailOk(bOff, ldb, kk, n, 0)] : undefined; // prettier-ignore
      // prettier-ignore
      if (!windows.gemm(off(x), g, transposed, bOff, ldb, off(c), ldc, n, biasOff, relu, tailOk(bOff, ldb, kk, n, biasOff), x.dataId, alongside) && sums) {
        denseGemm(onePtr, 0, 0, bOff, ldb, off(sums), n, 1, n, kk, 0, false);
      }
      return true;
    },
    convInputGrad: (dz, wt, g, oc, dx) => {
      if (!k) {
        return false;
      }
      const kk = g.kh * g.kw * g.c;
      const perImage = g.oh * g.ow;
      // one thread: groups that stay in cache; threads in place: groups big enough that each
      // call of the pool (the banded GEMM, then col2im in bands of images) pays for waking it
      const threads = pool()?.heap ? kernelThreads() : 1;
      const group =
        threads > 1
          ? Math.ceil(THREADED_DCOL_MACS / (perImage * kk * oc))
          : Math.max(1, Math.floor(DCOL_CHUNK_FLOATS / (perImage * kk)));
      const scratch = dcolScratch(4 * Math.min(group, g.n) * perImage * kk);
      const [dzOff, wtOff, dxOff] = [off(dz), off(wt), off(dx)];
      const imageBytes = 4 * g.h * g.w * g.c;
      for (let b0 = 0; b0 < g.n; b0 += group) {
        const n = Math.min(group, g.n - b0);
        const [a, rows] = [dzOff + 4 * b0 * perImage * oc, n * perImage];
        // dz is often mostly zeros (after max pooling's gradient and a ReLU mask): on one thread,
        // try sparse; with threads, the banded dense GEMM is the faster of the two
        // prettier-ignore
        if (!(threads === 1 && sparse && sparseWorthTrying(rows, kk, oc) && sparse.gemm(a, oc, 1, wtOff, kk, scratch, kk, rows, kk, oc, 0, false, tailOk(wtOff, kk, oc, kk, 0)))) {
          // dz·Wᵀ: k = oc is small and n = kh·kw·c spans many column tiles, so A's rows are
          // packed once per row tile (gemmP, the same bits) rather than re-read per column tile
          const p = pool();
          const panels = panelsFor(p?.threads ?? 1);
          // prettier-ignore
          if (!p?.gemm(backend.wasm.HEAPU8, a, oc, 1, wtOff, kk, scratch, kk, rows, kk, oc, 0, false, [panels, PANEL_BYTES])) {
            if (native) {
              native.gemm(buf(), a, 4 * oc, 4, wtOff, 4 * kk, scratch, 4 * kk, rows, kk, oc, 0, 0); // prettier-ignore
            } else {
              k.gemmP(a, 4 * oc, 4, wtOff, 4 * kk, scratch, 4 * kk, rows, kk, oc, 0, 0, tailOk(wtOff, kk, oc, kk, 0), panels); // prettier-ignore
            }
          }
        }
        const at = (first: number, count: number): number[] =>
          windowArgs(dxOff + (b0 + first) * imageBytes, scratch + 4 * first * perImage * kk, { ...g, n: count }); // prettier-ignore
        if (!pool()?.images(Kernel.col2im, n, n * perImage * kk, at)) {
          k.col2im(...(at(0, n) as WindowArgs));
        }
      }
      return true;
    },
    gemm: (a, rsA, ksA, b, ldb, c, ldc, m, n, kk, bias, relu) => {
      const aOff = a === 'ones' ? onePtr : off(a);
      const biasOff = bias ? off(bias) : 0;
      const [bOff, cOff] = [off(b), off(c)];
      const sparseTry = sparse !== null && a !== 'ones' && sparseWorthTrying(m, n, kk);
      // (a narrower one with its batch's free compressed rows, without kernel threads: see there)
      const keptOnly = !sparseTry && sparse !== null && a !== 'ones' && keptScanWorthTrying(m, n, kk) && pool() === null; // prettier-ignore
      // prettier-ignore
      if ((sparseTry || keptOnly) && sparse.gemm(aOff, rsA, ksA, bOff, ldb, cOff, ldc, m, n, kk, biasOff, relu, tailOk(bOff, ldb, kk, n, biasOff), a.dataId, b.dataId, keptOnly)) {
        return;
      }
      denseGemm(aOff, rsA, ksA, bOff, ldb, cOff, ldc, m, n, kk, biasOff, relu);
    },
    gemmAside: (a, rsA, ksA, b, ldb, c, ldc, m, n, kk) => {
      const p = pool();
      const macs = m * n * kk;
      // (a GEMM worth splitting is split; a tiny one costs less than its handing over)
      if (!k || !p?.heap || a === 'ones' || macs < ASIDE_MIN_MACS || macs >= MIN_THREADED_MACS) {
        return null;
      }
      const [aOff, bOff, cOff] = [off(a), off(b), off(c)];
      const args = [aOff, rsA * 4, ksA * 4, bOff, ldb * 4, cOff, ldc * 4, m, n, kk, 0, 0, tailOk(bOff, ldb, kk, n, 0)]; // prettier-ignore
      if (!p.post(Kernel.gemm, args)) {
        return null;
      }
      gemmsAside++;
      return () => p.join();
    },
    reluMask: (dy, y, out) => {
      if (k) {
        const [d, v, o] = [off(dy), off(y), off(out)];
        const at = (first: number, count: number): number[] => [d + 4 * first, v + 4 * first, o + 4 * first, count]; // prettier-ignore
        if (!pool()?.elements(Kernel.reluMask, size(out), at)) {
          k.reluMask(d, v, o, size(out));
        }
      } else {
        const h = heap();
        ref.reluMask(h, off(dy) / 4, h, off(y) / 4, h, off(out) / 4, size(out));
      }
    },
    im2col: (x, g, col) => {
      if (k) {
        k.im2col(...windowArgs(off(x), off(col), g));
      } else {
        conv.im2col(f32(x), 0, g, f32(col), 0);
      }
    },
    col2im: (dcol, g, dx) => {
      if (k) {
        k.col2im(...windowArgs(off(dx), off(dcol), g));
      } else {
        conv.col2im(f32(dcol), 0, g, f32(dx), 0);
      }
    },
    maxPool: (x, g, y) => {
      if (k) {
        const [xi, yi] = [g.h * g.w * g.c * 4, g.oh * g.ow * g.c * 4];
        const at = (first: number, count: number): number[] => [off(x) + first * xi, off(y) + first * yi, ...poolGeometry({ ...g, n: count })]; // prettier-ignore
        if (!pool()?.images(Kernel.maxPool, g.n, size(x), at)) {
          k.maxPool(off(x), off(y), ...poolGeometry(g));
        }
      } else {
        conv.maxPool(f32(x), 0, g, f32(y), 0);
      }
    },
    maxPoolGrad: (x, dy, g, dx) => {
      if (k) {
        const [xi, yi] = [g.h * g.w * g.c * 4, g.oh * g.ow * g.c * 4];
        const at = (first: number, count: number): number[] => [off(x) + first * xi, off(dy) + first * yi, off(dx) + first * xi, ...poolGeometry({ ...g, n: count })]; // prettier-ignore
        if (!pool()?.images(Kernel.maxPoolGrad, g.n, size(x), at)) {
          k.maxPoolGrad(off(x), off(dy), off(dx), ...poolGeometry(g));
        }
      } else {
        conv.maxPoolGrad(f32(x), 0, f32(dy), 0, g, f32(dx), 0);
      }
    },
    add: (a, b, out, relu = false) => {
      if (k) {
        (relu ? k.addRelu : k.add)(off(a), off(b), off(out), size(out));
      } else {
        conv.add(f32(a), 0, f32(b), 0, f32(out), 0, size(out), relu);
      }
    },
    relu: (x, out) => {
      if (k) {
        k.relu(off(x), off(out), size(out));
      } else {
        conv.relu(f32(x), 0, f32(out), 0, size(out));
      }
    },
    transpose: (src, dst, rows, cols) => {
      if (k) {
        k.transpose(off(src), off(dst), rows, cols);
      } else {
        const s = f32(src);
        const d = f32(dst);
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < cols; c++) {
            d[c * rows + r] = s[r * cols + c];
          }
        }
      }
    },
    softmaxXent: (logits, labels, dl) => {
      const [n, c] = logits.shape;
      if (!k) {
        const lab = new Int32Array(buf(), off(labels), n);
        return ref.softmaxCrossEntropy(f32(logits), lab, n, c, f32(dl));
      }
      // each row's loss into scratch, summed here in row order as the reference sums them (on
      // one thread: split across two, the MLP's 100 rows took longer, 0.993 against 0.969 of
      // the JS reference's step)
      const rowLoss = rowLossScratch(4 * n);
      k.softmaxXent(off(logits), off(labels), off(dl), rowLoss, n, c);
      return ref.softmaxLoss(new Float32Array(buf(), rowLoss, n));
    },
    sgd: (w, g, outW, lr) => {
      if (k) {
        const [wo, go, oo, n] = [off(w), off(g), off(outW), size(w)];
        if (
          !splitUpdate(Kernel.sgd, n, (first, count) => [
            wo + 4 * first,
            go + 4 * first,
            oo + 4 * first,
            count,
            f32Bits(lr),
          ])
        ) {
          if (native) {
            native.sgd(buf(), wo, go, oo, n, f32Bits(lr), finiteFlag());
          } else {
            k.sgd(wo, go, oo, n, lr, finiteFlag());
          }
        }
        markFinite(outW);
      } else {
        ref.sgd(f32(w), f32(g), f32(outW), lr);
      }
    },
    momentum: ([w, g, acc], [outW, outAcc], lr, mu) => {
      if (k) {
        const [wo, go, ao, owo, oao, n] = [off(w), off(g), off(acc), off(outW), off(outAcc), size(w)]; // prettier-ignore
        if (
          !splitUpdate(Kernel.momentum, n, (first, count) => [
            wo + 4 * first,
            go + 4 * first,
            ao + 4 * first,
            owo + 4 * first,
            oao + 4 * first,
            count,
            f32Bits(lr),
            f32Bits(mu),
          ])
        ) {
          if (native) {
            native.momentum(buf(), wo, go, ao, owo, oao, n, f32Bits(lr), f32Bits(mu), finiteFlag());
          } else {
            k.momentum(wo, go, ao, owo, oao, n, lr, mu, finiteFlag());
          }
        }
        markFinite(outW);
      } else {
        ref.momentum(f32(w), f32(g), f32(acc), f32(outW), f32(outAcc), lr, mu);
      }
    },
    adam: ([w, g, m, v], [outW, outM, outV], s) => {
      if (k) {
        const ptrs = [w, g, m, v, outW, outM, outV].map(off);
        const [wo, go, mo, vo, owo, omo, ovo] = ptrs;
        // (split, the chunks read the six scalars from the heap: ./threads.ts, UPDATE_SOURCE)
        adamScalars ||= backend.wasm._malloc(32) >>> 0;
        new Float32Array(buf(), adamScalars, 6).set([s.lr, s.b1, s.b2, s.c1, s.c2, s.eps]);
        const at = adamScalars;
        if (
          !splitUpdate(Kernel.adam, size(w), (first, count) => [
            ...ptrs.map((p) => p + 4 * first),
            count,
            at,
          ])
        ) {
          if (native) {
            native.adam(buf(), wo, go, mo, vo, owo, omo, ovo, size(w), at, finiteFlag());
          } else {
            k.adam(wo, go, mo, vo, owo, omo, ovo, size(w), s.lr, s.b1, s.b2, s.c1, s.c2, s.eps, finiteFlag()); // prettier-ignore
          }
        }
        markFinite(outW);
      } else {
        ref.adam(f32(w), f32(g), f32(m), f32(v), f32(outW), f32(outM), f32(outV), s);
      }
    },
  };
  wasmMems.set(backend, mem);
  return mem;
}

// ---------------------------------------------------------------- cpu backend memory access

const cpuMems = new WeakMap<object, Mem>();
const ONES = new Float32Array([1]);

function cpuMem(backend: MathBackendCPU): Mem {
  let mem = cpuMems.get(backend);
  if (mem) {
    return mem;
  }
  const vals = (t: tf.TensorInfo): Float32Array | Int32Array =>
    backend.data.get(t.dataId).values as Float32Array | Int32Array;
  const f32 = (t: tf.TensorInfo): Float32Array => vals(t) as Float32Array;
  const sparse = new JsSparseGemm();
  mem = {
    bn: JS_BN_LOOPS,
    gatherPixels: (pixels, indices, out, rowBytes) =>
      gatherJs(pixels, vals(indices) as Int32Array, f32(out), rowBytes),
    alloc: (shape) =>
      backend.makeTensorInfo(shape, 'float32', new Float32Array(shape.reduce((a, b) => a * b, 1))),
    free: (t) => {
      backend.disposeData(t.dataId, true);
    },
    f32,
    i32: (t) => vals(t) as Int32Array,
    gemm: (a, rsA, ksA, b, ldb, c, ldc, m, n, kk, bias, relu) => {
      // prettier-ignore
      if (a !== 'ones' && sparseWorthTrying(m, n, kk) && sparse.gemm(f32(a), 0, rsA, ksA, f32(b), 0, ldb, f32(c), 0, ldc, m, n, kk, bias ? f32(bias) : null, 0, relu)) {
        return;
      }
      ref.gemm(a === 'ones' ? ONES : f32(a), 0, rsA, ksA, f32(b), 0, ldb, f32(c), 0, ldc, m, n, kk, bias ? f32(bias) : null, 0, relu); // prettier-ignore
    },
    gemmWindows: () => false,
    convInputGrad: () => false,
    reluMask: (dy, y, out) => ref.reluMask(f32(dy), 0, f32(y), 0, f32(out), 0, size(out)),
    im2col: (x, g, col) => conv.im2col(f32(x), 0, g, f32(col), 0),
    col2im: (dcol, g, dx) => conv.col2im(f32(dcol), 0, g, f32(dx), 0),
    maxPool: (x, g, y) => conv.maxPool(f32(x), 0, g, f32(y), 0),
    maxPoolGrad: (x, dy, g, dx) => conv.maxPoolGrad(f32(x), 0, f32(dy), 0, g, f32(dx), 0),
    add: (a, b, out, relu = false) => conv.add(f32(a), 0, f32(b), 0, f32(out), 0, size(out), relu),
    relu: (x, out) => conv.relu(f32(x), 0, f32(out), 0, size(out)),
    transpose: (src, dst, rows, cols) => {
      const s = f32(src);
      const d = f32(dst);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          d[c * rows + r] = s[r * cols + c];
        }
      }
    },
    softmaxXent: (logits, labels, dl) =>
      ref.softmaxCrossEntropy(f32(logits), vals(labels) as Int32Array, logits.shape[0], logits.shape[1], f32(dl)), // prettier-ignore
    sgd: (w, g, outW, lr) => ref.sgd(f32(w), f32(g), f32(outW), lr),
    momentum: ([w, g, acc], [outW, outAcc], lr, mu) =>
      ref.momentum(f32(w), f32(g), f32(acc), f32(outW), f32(outAcc), lr, mu),
    adam: ([w, g, m, v], [outW, outM, outV], s) =>
      ref.adam(f32(w), f32(g), f32(m), f32(v), f32(outW), f32(outM), f32(outV), s),
  };
  cpuMems.set(backend, mem);
  return mem;
}

// ---------------------------------------------------------------- the kernels

function dense(mem: Mem, { x, w, b }: Inputs, attrs: Attrs): tf.TensorInfo {
  const [m, k] = x.shape;
  const n = w.shape[1];
  const y = mem.alloc([m, n]);
  mem.gemm(x, k, 1, w, n, y, n, m, n, k, b, attrs.relu === true);
  return y;
}

function denseGrad(mem: Mem, { x, w, y, dy }: Inputs, attrs: Attrs): tf.TensorInfo[] {
  const [m, k] = x.shape;
  const n = w.shape[1];
  const relu = attrs.relu === true;
  let dz = dy;
  if (relu) {
    dz = mem.alloc([m, n]);
    mem.reluMask(dy, y, dz);
  }
  const dw = mem.alloc([k, n]);
  // dW = xᵀ·dz: A[i,p] = x[p,i] — on a kernel thread while this one computes db and dx, where
  // the backend can
  const wantDx = attrs.wantDx === true;
  const dwDone = wantDx ? (mem.gemmAside?.(x, 1, k, dz, n, dw, n, k, n, m) ?? null) : null;
  if (!dwDone) {
    mem.gemm(x, 1, k, dz, n, dw, n, k, n, m, null, false);
  }
  // db = 1ᵀ·dz: column sums, rows in order
  const db = mem.alloc([n]);
  mem.gemm('ones', 0, 0, dz, n, db, n, 1, n, m, null, false);
  const out = [dw, db];
  if (wantDx) {
    // dx = dz·Wᵀ with an explicit transpose, so the GEMM reads B row by row
    const wt = mem.alloc([n, k]);
    mem.transpose(w, wt, k, n);
    const dx = mem.alloc([m, k]);
    mem.gemm(dz, n, 1, wt, k, dx, k, m, k, n, null, false);
    mem.free(wt);
    out.push(dx);
  }
  dwDone?.();
  if (dz !== dy) {
    mem.free(dz);
  }
  return out;
}

function softmaxXent(mem: Mem, { logits, labels }: Inputs): tf.TensorInfo[] {
  const loss = mem.alloc([]);
  const dl = mem.alloc([...logits.shape]);
  const value = mem.softmaxXent(logits, labels, dl);
  mem.f32(loss)[0] = value;
  return [loss, dl];
}

function sgd(mem: Mem, { w, g }: Inputs, attrs: Attrs): tf.TensorInfo[] {
  const out = mem.alloc([...w.shape]);
  mem.sgd(w, g, out, attrs.lr as number);
  return [out];
}

function momentum(mem: Mem, { w, g, acc }: Inputs, attrs: Attrs): tf.TensorInfo[] {
  const outs = [mem.alloc([...w.shape]), mem.alloc([...w.shape])];
  mem.momentum([w, g, acc], outs, attrs.lr as number, attrs.mu as number);
  return outs;
}

function adam(mem: Mem, { w, g, m, v }: Inputs, attrs: Attrs): tf.TensorInfo[] {
  const outs = [mem.alloc([...w.shape]), mem.alloc([...w.shape]), mem.alloc([...w.shape])];
  mem.adam([w, g, m, v], outs, attrs as unknown as AdamScalars);
  return outs;
}

function gatherPixels(mem: Mem, { indices }: Inputs, attrs: Attrs): tf.TensorInfo {
  const rowBytes = (attrs.rowBytes as number | undefined) ?? INPUT_SIZE;
  const pixels = attrs.pixels as Uint8Array;
  const ahead = mem.ahead?.take(pixels, indices, rowBytes);
  if (ahead) {
    return ahead;
  }
  const out = mem.alloc([indices.shape[0], rowBytes]);
  mem.gatherPixels(pixels, indices, out, rowBytes);
  return out;
}

const bitsOfF32 = new Float32Array(1);
const bitsOfF32I = new Int32Array(bitsOfF32.buffer);
/** The int32 bits of float32(x) (a split update's scalars travel as int32: ./threads.ts). */
function f32Bits(x: number): number {
  bitsOfF32[0] = x;
  return bitsOfF32I[0];
}

const registered = new Set<string>();

/** Registers our kernels for a backend (`wasm` or `cpu`; others keep the generic path). */
export function registerKernels(backendName: string): void {
  if (registered.has(backendName) || (backendName !== 'wasm' && backendName !== 'cpu')) {
    return;
  }
  registered.add(backendName);
  const memOf = (backend: unknown): Mem =>
    backendName === 'wasm'
      ? wasmMem(backend as WasmBackendLike)
      : cpuMem(backend as MathBackendCPU);
  const kernels: [
    string,
    (mem: Mem, inputs: Inputs, attrs: Attrs) => tf.TensorInfo | tf.TensorInfo[],
  ][] = [
    [K.dense, dense],
    [K.denseGrad, denseGrad],
    [K.softmaxXent, (mem, inputs) => softmaxXent(mem, inputs)],
    [K.sgd, sgd],
    [K.momentum, momentum],
    [K.adam, adam],
    [K.gatherPixels, gatherPixels],
    ...LAYER_KERNEL_FUNCS,
    ...GAN_KERNEL_FUNCS,
  ];
  const direct = new Map<string, DirectKernel>();
  directKernels.set(backendName, direct);
  for (const [kernelName, fn] of kernels) {
    direct.set(kernelName, (backend, inputs, attrs) => fn(memOf(backend), inputs, attrs));
    tf.registerKernel({
      kernelName,
      backendName,
      kernelFunc: ({ inputs, backend, attrs }) =>
        fn(memOf(backend), inputs as Inputs, (attrs ?? {}) as Attrs),
    });
  }
}

/**
 * Starts gathering the next step's batch — rows `indices()` (n of them) of `pixels` — in the
 * background where the active backend can (wasm, with kernel threads working in place: see
 * ./gather-ahead.ts), for the gatherPixels kernel that asks for those rows next; false
 * elsewhere (then `indices` is not called).
 */
export function gatherAhead(
  pixels: Uint8Array,
  n: number,
  indices: () => Uint32Array,
  rowBytes: number,
): boolean {
  const ahead = activeMem()?.ahead;
  return ahead?.start(pixels, n, indices, rowBytes) ?? false;
}

/** Drops the batch gathered ahead on the active backend, if any (waiting for its job). */
export function dropGatherAhead(): void {
  activeMem()?.ahead?.drop();
}

/** The active backend's Mem, when it is one our kernels run on and they have made it. */
function activeMem(): Mem | undefined {
  const name = tf.getBackend();
  if (!registered.has(name)) {
    return undefined;
  }
  const backend = tf.backend() as object;
  return (name === 'wasm' ? wasmMems : cpuMems).get(backend);
}

/** True when our kernels run on the active backend. */
export function kernelsActive(): boolean {
  return registered.has(tf.getBackend());
}

/** One of our kernels as `run` calls it: the backend, then what tfjs would hand its kernelFunc. */
type DirectKernel = (backend: unknown, inputs: Inputs, attrs: Attrs) => tf.TensorInfo | tf.TensorInfo[]; // prettier-ignore
/** Our kernels by backend name, then kernel name (those registerKernels registered). */
const directKernels = new Map<string, Map<string, DirectKernel>>();

/** The parts of tfjs's Engine (tfjs-core 4.x) that `run` uses, not in its public types. */
interface EngineInternals {
  state: { gradientDepth: number; profiling: boolean };
  backendName: string | null;
  backend: unknown;
  makeTensorFromTensorInfo(info: tf.TensorInfo): tf.Tensor;
}

let directRuns = 0;

/** Kernels `run` called directly so far (tests: the path really runs). */
export function kernelsRunDirectly(): number {
  return directRuns;
}

/**
 * Runs one of our kernels on the active backend. It calls the kernel's function itself and makes
 * its outputs tensors as tfjs would (makeTensorFromTensorInfo: tracked, owned by the scope that
 * is open): tfjs's runKernel adds two registry lookups by a concatenated key, a scope, flag reads
 * and checks for its tape and profiler — with ~15 calls a step of the MNIST MLP, 0.96× the step
 * (one thread; lenet5 on two 0.97×, in one process). While tfjs records a tape (inside tf.grad:
 * none of our models trains so) or profiles, and before its backend is set up, runKernel runs.
 */
export function run<T extends tf.Tensor | tf.Tensor[]>(
  kernelName: string,
  inputs: Record<string, tf.Tensor>,
  attrs: Attrs = {},
): T {
  const engine = tf.engine() as unknown as EngineInternals;
  const fn =
    engine.state.gradientDepth === 0 && !engine.state.profiling && engine.backendName !== null
      ? directKernels.get(engine.backendName)?.get(kernelName)
      : undefined;
  if (fn === undefined) {
    return tf.engine().runKernel<T>(kernelName, inputs, attrs as tf.NamedAttrMap);
  }
  directRuns++;
  const out = fn(engine.backend, inputs as unknown as Inputs, attrs);
  return (
    Array.isArray(out)
      ? out.map((info) => engine.makeTensorFromTensorInfo(info))
      : engine.makeTensorFromTensorInfo(out)
  ) as T;
}
