/**
 * A convolution's GEMMs without its im2col matrix (the wasm backend): the forward product
 * col·W and the weight gradient colᵀ·dz read col's elements straight from the input image
 * instead of from a materialised [rows, kh·kw·c] matrix (5 MB for LeNet-5's first layer at batch
 * 64, 870 MB for ResNet-20 at batch 128 — written, then read back from memory, every step).
 *
 * Why the bits are the same. im2col's element col[i, p], for output pixel i = (b, oy, ox) and
 * window position p = (ky, kx, ci), is x[b, oy·s + ky − padTop, ox·s + kx − padLeft, ci], or +0
 * in the padding. A copy of x placed inside a border of +0 (`pad`, the same +0 im2col writes)
 * holds that element at byte offset rowTab[i] + kTab[p] with
 *   rowTab[i] = ((b·hp + oy·s)·wp + ox·s)·c·4,   kTab[p] = ((ky·wp + kx)·c + ci)·4,
 * so col[i, p] = padded[rowTab[i] + kTab[p]] exactly. The gathered GEMM (`gemmG` in
 * ./wasm-module.ts) is the dense GEMM with only its A loads changed to that address: the same
 * float32 operations on the same values in the same order, hence the same bits as im2col + gemm
 * (and as the JS reference on the cpu backend). colᵀ is the same gather with the tables swapped.
 * Tested against im2col + gemm on odd shapes, strides, padding, batch 1, NaN and ±Inf
 * (tests/engine/window-gemm.test.ts); the golden table pins whole LeNet-5 and residual runs.
 *
 * gemmG packs each register tile's rows of A into a small panel before its column tiles read
 * them (./wasm-packed.ts; values moved, not computed: the same bits), so every thread needs a
 * panel of its own: `panelsFor(threads)`.
 *
 * With kernel threads (./threads.ts) the rows of C are split in bands as for the dense GEMM, in
 * place on a shared heap (or with x, the tables and B copied into the pool's memory — still far
 * less than an im2col matrix).
 *
 * The tables depend only on the geometry and are kept (a few per network); the padded copy is
 * scratch memory reused across calls, written in bands of images by the kernel threads. A caller
 * that names x (`key`: its tensor's data, which never changes) gets the copy already there when
 * the last one made was of that x with that geometry: a layer's weight gradient reads the copy
 * its forward pass made, when no other padded convolution came between.
 */
import type { Window2d } from './conv-ref';
import type { NativeKernels } from './native';
import { Kernel, type Alongside, type GemmPool } from './threads';
import { PANEL_BYTES, type WasmKernels } from './wasm-module';

interface Heap {
  malloc(bytes: number): number;
  free(ptr: number): void;
}

/**
 * Packing panels for `count` threads (PANEL_BYTES bytes each, contiguous) from `heap`:
 * scratch kept between calls and grown when more threads ask.
 */
export function panelAllocator(heap: Heap): (count: number) => number {
  let ptr = 0;
  let have = 0;
  return (count) => {
    if (count > have) {
      if (ptr !== 0) {
        heap.free(ptr);
      }
      ptr = heap.malloc(count * PANEL_BYTES) >>> 0;
      have = count;
    }
    return ptr;
  };
}

interface Tables {
  rowTab: number;
  kTab: number;
  hp: number;
  wp: number;
}

/** Geometries whose tables are kept (LRU): a network has a handful of distinct convolutions. */
const KEPT_TABLES = 16;

/** The padded size [hp, wp] every window of `g` fits in (x at padTop, padLeft). */
export function paddedSize(g: Window2d): [number, number] {
  return [
    Math.max(g.padTop + g.h, (g.oh - 1) * g.stride + g.kh),
    Math.max(g.padLeft + g.w, (g.ow - 1) * g.stride + g.kw),
  ];
}

/** Whether the windows of `g` lie inside x itself (no padded copy needed). */
function unpadded(g: Window2d, hp: number, wp: number): boolean {
  return g.padTop === 0 && g.padLeft === 0 && hp === g.h && wp === g.w;
}

/** A geometry as a string (the key of its tables and of a held padded copy). */
function geometryKey(g: Window2d): string {
  return `${g.n},${g.h},${g.w},${g.c},${g.kh},${g.kw},${g.stride},${g.padTop},${g.padLeft},${g.oh},${g.ow}`; // prettier-ignore
}

/** rowTab and kTab of the header (byte offsets into the padded image). */
function windowTables(g: Window2d): { rowTab: Int32Array; kTab: Int32Array } {
  const [hp, wp] = paddedSize(g);
  const rowTab = new Int32Array(g.n * g.oh * g.ow);
  let i = 0;
  for (let b = 0; b < g.n; b++) {
    for (let oy = 0; oy < g.oh; oy++) {
      for (let ox = 0; ox < g.ow; ox++) {
        rowTab[i++] = ((b * hp + oy * g.stride) * wp + ox * g.stride) * g.c * 4;
      }
    }
  }
  const kTab = new Int32Array(g.kh * g.kw * g.c);
  let p = 0;
  for (let ky = 0; ky < g.kh; ky++) {
    for (let kx = 0; kx < g.kw; kx++) {
      for (let ci = 0; ci < g.c; ci++) {
        kTab[p++] = ((ky * wp + kx) * g.c + ci) * 4;
      }
    }
  }
  return { rowTab, kTab };
}

/** The gathered convolution GEMMs on our wasm kernels; pointers in bytes, strides in elements. */
export class WasmWindowGemm {
  private readonly tables = new Map<string, Tables>();
  private scratch = 0;
  private scratchBytes = 0;
  /** what the scratch holds: x's key, offset and geometry (null: nothing reusable) */
  private held: { key: object; x: number; geometry: string } | null = null;
  /** padded copies reused rather than made again (tests) */
  reused = 0;

  constructor(
    private readonly k: WasmKernels,
    private readonly heap: Heap,
    private readonly buf: () => ArrayBuffer,
    private readonly pool: () => GemmPool | null = () => null,
    /** `count` threads' packing panels (PANEL_BYTES each, contiguous) in the heap */
    private readonly panelsFor: (count: number) => number = panelAllocator(heap),
    /** the native twin of gemmG, run instead of the wasm kernel on one thread (./native.ts) */
    private readonly native: NativeKernels | null = null,
  ) {}

  /**
   * transposed = false: C[rows, n] = act(col·B + bias) with B [kh·kw·c, n] (the forward pass);
   * transposed = true: C[kh·kw·c, n] = colᵀ·B with B [rows, n] (the weight gradient).
   * `tail`: as the dense gemm's (B and the bias may be over-read by 16 bytes). `key`: x's
   * tensor data, when x is a tensor's (immutable) memory: its padded copy may then be reused.
   * `alongside`: an independent dense GEMM (./threads.ts) the threads may run with this one;
   * true when they did, false when the caller still has to run it.
   */
  gemm(
    x: number,
    g: Window2d,
    transposed: boolean,
    b: number,
    ldb: number,
    c: number,
    ldc: number,
    n: number,
    bias: number,
    relu: boolean,
    tail: number,
    key?: object,
    alongside?: Alongside,
  ): boolean {
    const geometry = geometryKey(g);
    const t = this.tablesFor(g, geometry);
    const src = unpadded(g, t.hp, t.wp) ? x : this.padded(x, g, geometry, t, key);
    const rows = g.n * g.oh * g.ow;
    const k = g.kh * g.kw * g.c;
    const [rowTab, kTab, m, kk] = transposed
      ? [t.kTab, t.rowTab, k, rows]
      : [t.rowTab, t.kTab, rows, k];
    const xBytes = g.n * t.hp * t.wp * g.c * 4;
    const pool = this.pool();
    // packing pays where it moves vectors: c a multiple of 4 (the forward pass's steps of k and
    // the weight gradient's rows come in runs of 4 adjacent floats); else A is read in place
    const panels = g.c % 4 === 0 ? this.panelsFor(pool?.threads ?? 1) : 0;
    const heap = new Uint8Array(this.buf());
    if (
      pool?.gemmG(
        heap,
        src,
        xBytes,
        rowTab,
        kTab,
        b,
        ldb,
        c,
        ldc,
        m,
        n,
        kk,
        bias,
        relu,
        panels,
        PANEL_BYTES,
        alongside,
      )
    ) {
      return alongside !== undefined;
    }
    if (this.native) {
      this.native.gemmG(this.buf(), src, rowTab, kTab, b, ldb * 4, c, ldc * 4, m, n, kk, bias, relu ? 1 : 0); // prettier-ignore
    } else {
      this.k.gemmG(src, rowTab, kTab, b, ldb * 4, c, ldc * 4, m, n, kk, bias, relu ? 1 : 0, tail, panels); // prettier-ignore
    }
    return false;
  }

  /**
   * x copied into the scratch image [n, hp, wp, c] with a +0 border — or the copy already there
   * when it is of the same `key`'s x with the same geometry.
   */
  private padded(x: number, g: Window2d, geometry: string, { hp, wp }: Tables, key?: object): number { // prettier-ignore
    const h = this.held;
    if (key !== undefined && h?.key === key && h.x === x && h.geometry === geometry) {
      this.reused++;
      return this.scratch;
    }
    this.held = null;
    const bytes = g.n * hp * wp * g.c * 4;
    if (bytes > this.scratchBytes) {
      if (this.scratch !== 0) {
        this.heap.free(this.scratch);
      }
      this.scratch = this.heap.malloc(bytes) >>> 0;
      this.scratchBytes = bytes;
    }
    const [xImage, outImage] = [g.h * g.w * g.c * 4, hp * wp * g.c * 4];
    const at = (first: number, count: number): number[] => [x + first * xImage, this.scratch + first * outImage, count, g.h, g.w, g.c, g.padTop, g.padLeft, hp, wp]; // prettier-ignore
    if (!this.pool()?.images(Kernel.pad, g.n, bytes / 4, at)) {
      this.k.pad(x, this.scratch, g.n, g.h, g.w, g.c, g.padTop, g.padLeft, hp, wp);
    }
    if (key !== undefined) {
      this.held = { key, x, geometry };
    }
    return this.scratch;
  }

  private tablesFor(g: Window2d, key: string): Tables {
    const kept = this.tables.get(key);
    if (kept) {
      this.tables.delete(key);
      this.tables.set(key, kept);
      return kept;
    }
    if (this.tables.size >= KEPT_TABLES) {
      const [oldKey, old] = this.tables.entries().next().value!;
      this.heap.free(old.rowTab);
      this.tables.delete(oldKey);
    }
    const { rowTab, kTab } = windowTables(g);
    const [hp, wp] = paddedSize(g);
    const ptr = this.heap.malloc(4 * (rowTab.length + kTab.length)) >>> 0;
    const view = new Int32Array(this.buf(), ptr, rowTab.length + kTab.length);
    view.set(rowTab);
    view.set(kTab, rowTab.length);
    const t = { rowTab: ptr, kTab: ptr + 4 * rowTab.length, hp, wp };
    this.tables.set(key, t);
    return t;
  }
}
