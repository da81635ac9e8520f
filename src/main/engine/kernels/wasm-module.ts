/**
 * Our WebAssembly SIMD kernels, generated with ./wasm-asm.ts and instantiated on a given memory
 * (the tfjs wasm backend's heap, so tensors are read and written in place).
 *
 * Determinism: every kernel is single-threaded with a fixed order of operations. In `gemm`,
 * each output element is ((…((0 + a₀b₀) + a₁b₁) + …) + a_{k−1}b_{k−1}) [+ bias] [ReLU], in
 * float32 with separate multiply and add (no FMA), whichever tile computed it: SIMD lanes and the
 * scalar tail do the same IEEE operations. So the result depends only on the operands, never on
 * the tiling, the shape or the machine, and the JS versions in ./reference.ts give the same bits.
 *
 * Exports (pointers and strides in bytes):
 * - gemm(a, rsA, ksA, b, ldb, c, ldc, m, n, k, bias, relu, tail): C[m,n] = act(A·B + bias),
 *   where A[i,p] is at a + i·rsA + p·ksA (so Aᵀ is just other strides), B is row-major with row
 *   stride ldb, bias is 0 for none, relu is 0 or 1; tail = 1 lets the last n mod 4 columns run
 *   as one SIMD tile that reads (and ignores) up to 12 bytes past B's rows and the bias, which
 *   the caller allows only when those bytes are inside the memory.
 * - gemmP(…, tail, panel), gemmG(x, rowTab, kTab, …, tail, panel): the same product with A's
 *   rows packed per register tile into a scratch panel first (./wasm-packed.ts), A dense or
 *   gathered from a convolution's windows (./windows.ts) — the same bits as gemm.
 * - pad(x, out, …): x inside a +0 border (the padding im2col would write), for gemmG.
 * - reluMask(dy, y, out, count): out = y > 0 ? dy : 0
 * - sgd(w, g, outW, count, lr, finite): w − lr·g
 * - momentum(w, g, acc, outW, outAcc, count, lr, mu, finite): a = mu·acc + g; w − lr·a
 * - adam(w, g, m, v, outW, outM, outV, count, lr, b1, b2, c1, c2, eps, finite)
 *   (the optimizers: `finite` receives an f32, ±0 when every new weight is finite, else NaN;
 *   momentum's and adam's outputs must not overlap their inputs, see elementwise's `tiny`)
 * - transpose(src, dst, rows, cols): dst[c,r] = src[r,c] (float32)
 * - gatherRows(pixels, indices, n, out): out[r, :] = float32(pixels[indices[r]·784 + i] / 255),
 *   rows of 784 bytes, int32 indices; float32 division is exact-rounded, so this equals the
 *   PIXEL_TO_FLOAT table of data.ts bit for bit.
 * - gatherRowsCsr(pixels, indices, n, out, rowPtr, idx, val, total, tab): gatherRows, and out's
 *   compressed rows exactly as csrRows would scan them, in the same pass (tab: compressTable's
 *   bytes in memory, ./wasm-sparse.ts).
 * - maxPool, maxPoolGrad: ./wasm-pool.ts
 * - bnSum, bnSqDev, bnNormalize, bnGradSums, bnGradDx: batch norm's row loops, ./wasm-bn.ts
 * - csrRows, csrCols, csrTranspose, scaleIdx, nonFinite, gemmCsr: the GEMM that skips A's zeros (./wasm-sparse.ts, ./sparse.ts).
 * - xxh64Init, xxh64Update, xxh64Digest: the trace's digest over the heap in place (./wasm-hash.ts).
 * - softmaxXent(logits, labels, dl, rowLoss, n, classes): the loss's rows, with fdlibm's exp and
 *   log (./wasm-softmax.ts).
 */
import { assemble, FnBuilder, type ValType } from './wasm-asm';
import { bnGradDxFn, bnGradSumsFn, bnNormalizeFn, bnSumFn } from './wasm-bn';
import { gemmPackedFn, packBytes, packPanelFn } from './wasm-packed';
import { hashFunctions } from './wasm-hash';
import { maxPoolFn } from './wasm-pool';
import { softmaxXentFn } from './wasm-softmax';
import {
  appendVec,
  csrColsFn,
  csrRowsFn,
  csrTransposeFn,
  scaleIdxFn,
  nonFiniteFn,
  sparseFunctions,
  pushTileArgs,
  setIota,
  storeTileRow,
  walkGemmColumns,
} from './wasm-sparse';
import { SHARED_HEAP_MAX_PAGES } from './shared-heap';

/** Rows per register tile of the GEMM. */
export const GEMM_MR = 4;
/** f32x4 vectors per register tile (columns = 4·GEMM_NV). */
export const GEMM_NV = 2;

/**
 * (a, rsA, ksA, b, ldb, c, ldc, m, n, k, bias, relu, tail) of gemm (see the header); gemmG takes
 * (x, rowTab, kTab) in place of (a, rsA, ksA). Pointers and strides in bytes.
 */
export type GemmArgs = [
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
  relu: number,
  tail: number,
];

export interface WasmKernels {
  gemm(...args: GemmArgs): void;
  /**
   * gemm with A gathered from a padded image (a convolution without its im2col matrix):
   * A[i, p] = f32 at x + rowTab[i] + kTab[p] (byte offsets, int32 tables in the heap), packed
   * per row tile into `panel` (PANEL_BYTES of scratch, see ./wasm-packed.ts; 0: A read in
   * place); the same operations in the same order as gemm on the materialised A, so the same
   * bits.
   */
  gemmG(...args: [...GemmArgs, panel: number]): void;
  /**
   * gemm through a packing panel (A packed per row tile, see ./wasm-packed.ts; the same bits):
   * faster when C has several column tiles; `panel` as gemmG's.
   */
  gemmP(...args: [...GemmArgs, panel: number]): void;
  /** pad(x, out, n, h, w, c, padTop, padLeft, hp, wp): see padFn */
  pad(
    ...args: [number, number, number, number, number, number, number, number, number, number]
  ): void;
  reluMask(dy: number, y: number, out: number, count: number): void;
  sgd(w: number, g: number, outW: number, count: number, lr: number, finite: number): void;
  momentum(
    w: number,
    g: number,
    acc: number,
    outW: number,
    outAcc: number,
    count: number,
    lr: number,
    mu: number,
    finite: number,
  ): void;
  adam(
    w: number,
    g: number,
    m: number,
    v: number,
    outW: number,
    outM: number,
    outV: number,
    count: number,
    lr: number,
    b1: number,
    b2: number,
    c1: number,
    c2: number,
    eps: number,
    finite: number,
  ): void;
  transpose(src: number, dst: number, rows: number, cols: number): void;
  gatherRows(pixels: number, indices: number, n: number, out: number): void;
  gatherRowsCsr(pixels: number, indices: number, n: number, out: number, rowPtr: number, idx: number, val: number, total: number, tab: number): void; // prettier-ignore
  im2col(...args: WindowArgs): void;
  col2im(...args: WindowArgs): void;
  relu(x: number, out: number, count: number): void;
  add(a: number, b: number, out: number, count: number): void;
  addRelu(a: number, b: number, out: number, count: number): void;
  maxPool(x: number, y: number, ...geometry: PoolGeometry): void;
  bnSum(x: number, rows: number, c: number, out: number): void;
  bnSqDev(x: number, rows: number, c: number, mean: number, out: number): void;
  bnNormalize(x: number, rows: number, c: number, mean: number, invstd: number, gamma: number, beta: number, y: number): void; // prettier-ignore
  bnNormalizeRelu(x: number, rows: number, c: number, mean: number, invstd: number, gamma: number, beta: number, y: number): void; // prettier-ignore
  bnGradSums(x: number, dy: number, rows: number, c: number, mean: number, invstd: number, sdy: number, sdyx: number): void; // prettier-ignore
  bnGradDx(x: number, dy: number, rows: number, c: number, mean: number, invstd: number, k1: number, k2: number, k3: number, dx: number): void; // prettier-ignore
  maxPoolGrad(x: number, dy: number, dx: number, ...geometry: PoolGeometry): void;
  csrRows(...args: [...CsrArgs, tab: number]): void;
  csrCols(...args: CsrArgs): void;
  csrTranspose(
    rowPtr: number,
    idx: number,
    val: number,
    m: number,
    k: number,
    rowPtrT: number,
    idxT: number,
    valT: number,
  ): void;
  scaleIdx(rowPtr: number, m: number, idx: number, out: number, scale: number): void;
  nonFinite(ptr: number, count: number, out: number): void;
  softmaxXent(logits: number, labels: number, dl: number, rowLoss: number, n: number, classes: number): void; // prettier-ignore
  xxh64Init(state: number): void;
  xxh64Update(state: number, ptr: number, len: number): void;
  xxh64Digest(state: number): void;
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
    relu: number,
    tail: number,
  ): void;
}

/** (n, h, w, c, kh, kw, stride, oh, ow) of maxPool and maxPoolGrad */
export type PoolGeometry = [
  n: number,
  h: number,
  w: number,
  c: number,
  kh: number,
  kw: number,
  stride: number,
  oh: number,
  ow: number,
];

/** (a, lda, m, k, rowPtr, idx, val, out) of csrRows/csrCols; pointers and strides in bytes */
export type CsrArgs = [
  a: number,
  lda: number,
  m: number,
  k: number,
  rowPtr: number,
  idx: number,
  val: number,
  out: number,
];

/** (x, col, n, h, w, c, kh, kw, stride, padTop, padLeft, oh, ow); pointers in bytes */
export type WindowArgs = [
  x: number,
  col: number,
  n: number,
  h: number,
  w: number,
  c: number,
  kh: number,
  kw: number,
  stride: number,
  padTop: number,
  padLeft: number,
  oh: number,
  ow: number,
];

/** Bytes per image row for gatherRows (MNIST's 28×28; a multiple of 8). */
export const ROW_BYTES = 784;
/**
 * An elementwise kernel built with `tiny` (elementwise below) computes a lane holding an input of
 * nonzero magnitude below this in float64: far enough above float32's smallest normal (2⁻¹²⁶)
 * that an optimizer's products of a larger value (by β, lr, itself) stay normal.
 */
export const TINY = 2 ** -60;
/** {@link TINY}'s float32 bits. */
const TINY_BITS = new Int32Array(new Float32Array([TINY]).buffer)[0];

// tile parameters
const T = { a: 0, rsA: 1, ksA: 2, b: 3, ldb: 4, c: 5, ldc: 6, k: 7, bias: 8, relu: 9, first: 10 };
const TILE_PARAMS: ValType[] = new Array<ValType>(11).fill('i32');

/** How a register tile reads A (see tile). */
type TileMode = 'dense' | 'gather' | 'packed';

/**
 * A register tile: `mr` rows × (`nv` f32x4 vectors, or one scalar column when nv = 0). With
 * `lanes` < 4 only the first `lanes` columns of the last vector are stored: the loads of B and
 * the bias read up to 12 bytes past the last column, whose lanes are computed and dropped (lanes
 * are independent, so the stored ones are exactly those of the other tiles).
 * The accumulators start at 0 (`first` ≠ 0) or at the partial sums stored in C by the previous
 * chunk of k (float32 stored and reloaded exactly, so chunking k changes no bit); then
 * C[r, v] = acc + Σ_p A[r,p]·B[p,v], p ascending, and finally act(· + bias[v]) when the driver
 * passes a bias or relu (only on the last chunk).
 * Where A[r, p] is read (`mode`): 'dense' at a + r·rsA + p·ksA; 'gather' at a + rsA[r] + ksA[p]
 * (int32 tables of byte offsets, see gemmG); 'packed' at a + 4·(p·mr + r) — a panel packed by
 * packPanel, one pointer and constant offsets (rsA and ksA unused).
 */
function tile(mr: number, nv: number, lanes = 4, mode: TileMode = 'dense'): FnBuilder {
  const gather = mode === 'gather';
  const packed = mode === 'packed';
  const name = `${mode === 'dense' ? '' : mode[0]}tile${mr}x${nv}${lanes < 4 ? `l${lanes}` : ''}`;
  // packed tiles take a 12th parameter: how many column tiles (side by side) to compute
  const f = new FnBuilder(name, packed ? [...TILE_PARAMS, 'i32'] : TILE_PARAMS, false);
  const blocks = TILE_PARAMS.length;
  const vec = nv > 0;
  const cols = vec ? nv : 1;
  const acc: number[] = [];
  for (let i = 0; i < mr * cols; i++) {
    acc.push(f.local(vec ? 'v128' : 'f32'));
  }
  const bv: number[] = [];
  for (let v = 0; v < cols; v++) {
    bv.push(f.local(vec ? 'v128' : 'f32'));
  }
  const ap: number[] = [];
  for (let r = 0; r < (packed ? 1 : mr); r++) {
    ap.push(f.local('i32'));
  }
  const bp = f.local('i32');
  const kk = f.local('i32');
  const av = f.local(vec ? 'v128' : 'f32');
  const cp = f.local('i32');
  if (packed) {
    f.loop();
  }
  // init: zeros, or the partial sums in C
  f.get(T.first).if();
  for (const x of acc) {
    if (vec) {
      f.v128Zero().set(x);
    } else {
      f.f32(0).set(x);
    }
  }
  f.else();
  f.get(T.c).set(cp);
  for (let r = 0; r < mr; r++) {
    for (let v = 0; v < cols; v++) {
      const x = acc[r * cols + v];
      if (vec && lanes < 4 && v === cols - 1) {
        f.v128Zero();
        for (let l = 0; l < lanes; l++) {
          f.get(cp)
            .f32Load(16 * v + 4 * l)
            .f32x4ReplaceLane(l);
        }
        f.set(x);
      } else if (vec) {
        f.get(cp)
          .v128Load(16 * v)
          .set(x);
      } else {
        f.get(cp).f32Load().set(x);
      }
    }
    if (r + 1 < mr) {
      f.incBy(cp, T.ldc);
    }
  }
  f.end();
  // gather: row r of A starts at x + rowTab[r] and its element p is at that + kTab[p]
  const kp = gather ? f.local('i32') : -1;
  const q = gather ? f.local('i32') : -1;
  if (gather) {
    for (let r = 0; r < mr; r++) {
      f.get(T.a)
        .get(T.rsA)
        .i32Load(4 * r)
        .i32Add()
        .set(ap[r]);
    }
    f.get(T.ksA).set(kp);
  } else if (packed) {
    f.get(T.a).set(ap[0]);
  } else {
    f.get(T.a).set(ap[0]);
    for (let r = 1; r < mr; r++) {
      f.get(ap[r - 1])
        .get(T.rsA)
        .i32Add()
        .set(ap[r]);
    }
  }
  f.get(T.b).set(bp);
  f.get(T.k).set(kk);
  f.block().loop();
  f.get(kk).i32Eqz().brIf(1);
  for (let v = 0; v < cols; v++) {
    if (vec) {
      f.get(bp)
        .v128Load(16 * v)
        .set(bv[v]);
    } else {
      f.get(bp).f32Load().set(bv[v]);
    }
  }
  if (gather) {
    f.get(kp).i32Load().set(q);
    f.inc(kp, 4);
  }
  for (let r = 0; r < mr; r++) {
    f.get(ap[packed ? 0 : r]);
    if (gather) {
      f.get(q).i32Add();
    }
    const at = packed ? 4 * r : 0;
    if (vec) {
      f.v128Load32Splat(at).set(av);
    } else {
      f.f32Load(at).set(av);
    }
    for (let v = 0; v < cols; v++) {
      const x = acc[r * cols + v];
      f.get(x).get(av).get(bv[v]);
      if (vec) {
        f.f32x4Mul().f32x4Add();
      } else {
        f.f32Mul().f32Add();
      }
      f.set(x);
    }
    if (mode === 'dense') {
      f.incBy(ap[r], T.ksA);
    }
  }
  if (packed) {
    f.inc(ap[0], 4 * mr);
  }
  f.incBy(bp, T.ldb);
  f.inc(kk, -1);
  f.br(0).end().end();
  // epilogue: bias, relu, store
  f.get(T.c).set(cp);
  for (let r = 0; r < mr; r++) {
    storeTileRow(f, acc.slice(r * cols, (r + 1) * cols), vec, lanes, cp, T.bias, T.relu);
    if (r + 1 < mr) {
      f.incBy(cp, T.ldc);
    }
  }
  if (packed) {
    // the next column tile: B, C and the bias 4·nv columns on
    const step = 16 * cols;
    f.inc(T.b, step).inc(T.c, step);
    f.get(T.bias).if().inc(T.bias, step).end();
    f.inc(blocks, -1);
    f.get(blocks).i32(0).i32GtS().brIf(0);
    f.end();
  }
  return f;
}

/** Depth of a chunk of k: a B panel of GEMM_KC × 8 floats stays in L1 while A streams. */
export const GEMM_KC = 256;
/** Rows per block: GEMM_MC × GEMM_KC floats of A stay in L2 while the column blocks reuse them. */
export const GEMM_MC = 64;
/** Bytes of one thread's packing panel for gemmG and gemmP (./wasm-packed.ts). */
export const PANEL_BYTES = packBytes(GEMM_KC);

/**
 * gemm driver. For each chunk of GEMM_KC values of k (in order), for each block of GEMM_MC rows,
 * for column blocks of 8, then 4, then single columns: row tiles of MR, then 1. Each output
 * element accumulates its chunks in order (the partial sum waits in C between chunks), so the
 * sum is the same sequence of float32 operations as one pass over k; bias and ReLU are applied
 * in the last chunk only.
 */
function gemmDriver(
  tileIndex: (mr: number, nv: number, lanes: number) => number,
  gather = false,
): FnBuilder {
  // gather: a is x, rsA the row table, ksA the k table (see gemmG in WasmKernels)
  const P = { a: 0, rsA: 1, ksA: 2, b: 3, ldb: 4, c: 5, ldc: 6, m: 7, n: 8, k: 9, bias: 10, relu: 11, tail: 12 }; // prettier-ignore
  // (the gathered driver is called by gemmG of ./wasm-packed.ts for C of one column tile)
  const f = new FnBuilder(gather ? 'gemmGather' : 'gemm', new Array<ValType>(13).fill('i32'), !gather); // prettier-ignore
  const j = f.local('i32');
  const i = f.local('i32');
  const pc = f.local('i32');
  const kc = f.local('i32');
  const i0 = f.local('i32');
  const iEnd = f.local('i32');
  const first = f.local('i32');
  const last = f.local('i32');
  const emitRows = (nv: number, lanes = 4): void => {
    f.get(i0).set(i);
    for (const mr of [GEMM_MR, 1]) {
      f.block().loop();
      // exit when i + mr > iEnd
      f.get(iEnd).get(i).i32Sub().i32(mr).i32LtS().brIf(1);
      if (gather) {
        // x, rowTab + 4i, kTab + 4·pc
        f.get(P.a);
        f.get(P.rsA).get(i).i32(4).i32Mul().i32Add();
        f.get(P.ksA).get(pc).i32(4).i32Mul().i32Add();
      } else {
        // a + i·rsA + pc·ksA
        f.get(P.a).get(i).get(P.rsA).i32Mul().i32Add().get(pc).get(P.ksA).i32Mul().i32Add();
        f.get(P.rsA).get(P.ksA);
      }
      pushTileArgs(f, P, { i, j, pc, kc, first, last });
      f.call(tileIndex(mr, nv, lanes));
      f.inc(i, mr).br(0);
      f.end().end();
    }
  };
  const emitColumns = (): void => {
    // blocks of 8 columns, then (over-reading allowed) 5–7 as one tile, then blocks of 4
    walkGemmColumns(f, j, P.n, P.tail, emitRows);
  };
  f.i32(0).set(pc);
  // chunks of k (at least one, so k = 0 still writes act(0 + bias))
  f.loop();
  // kc = min(GEMM_KC, k − pc); first = pc == 0; last = pc + kc ≥ k
  f.get(P.k).get(pc).i32Sub().set(kc);
  f.get(kc).i32(GEMM_KC).i32GtS().if().i32(GEMM_KC).set(kc).end();
  f.get(pc).i32Eqz().set(first);
  f.get(pc).get(kc).i32Add().get(P.k).i32GeS().set(last);
  f.i32(0).set(i0);
  f.block().loop();
  f.get(i0).get(P.m).i32GeS().brIf(1);
  // iEnd = min(i0 + MC, m)
  f.get(i0).i32(GEMM_MC).i32Add().set(iEnd);
  f.get(iEnd).get(P.m).i32GtS().if().get(P.m).set(iEnd).end();
  emitColumns();
  f.inc(i0, GEMM_MC).br(0);
  f.end().end();
  f.incBy(pc, kc);
  f.get(pc).get(P.k).i32LtS().brIf(0);
  f.end();
  return f;
}

/**
 * An elementwise kernel over `count` float32 elements: inputs and outputs are pointers, scalars
 * are f32 parameters. `body` computes the outputs from the loaded inputs with the given ops, in
 * the same order for the SIMD loop and the scalar tail.
 */
interface Ew {
  inp(i: number): void;
  sc(i: number): void;
  add(): void;
  sub(): void;
  mul(): void;
  div(): void;
  sqrt(): void;
  /** ReLU of the top of the stack as ./conv-ref's relu: v > 0 or NaN keeps v, else +0 */
  relu(): void;
  /** stores the top of the stack as output o (and keeps a copy in a local for reuse) */
  out(o: number): void;
  /** pushes output o computed earlier */
  res(o: number): void;
}

/**
 * (inputs…, outputs…, count, scalars…[, finite]): `body` computes one element (SIMD groups of 4,
 * then a scalar tail). With `finite`, the trailing parameter is a pointer that receives the f32
 * Σ out₀·0 over output 0 — ±0 when every float written there is finite, NaN otherwise (as
 * nonFinite of ./wasm-sparse.ts would find it), computed while the values are at hand.
 *
 * With `tiny` (input numbers), a lane where one of those inputs holds a nonzero magnitude below
 * {@link TINY} is computed in float64, with the other lane of its pair, each operation's result
 * rounded to float32 and back: reference.ts's arithmetic, which gives the float32 operations'
 * bits (see there), subnormals included. (Its group of 4 first runs in float32 with those lanes'
 * inputs zeroed, and the pair overwrites their outputs: the outputs must not overlap the inputs —
 * an optimizer's never do, they are new tensors.) An x86 core takes a microcode assist of ~100
 * cycles for a float32 operation on or giving a subnormal (a multiply: 44 ns against 0.6 here),
 * and an optimizer's state decays through them where a weight gets no gradient (adam's m by 0.9
 * a step): the default MLP at lr 0.01 had 18.7 % of its first layer's m subnormal at step 3,000,
 * in 62 % of the groups, and its adam kernel took 1.2 ms a step instead of ~0.14 (now ~0.9, the
 * float64 pairs ~12 ns a float: their chains of rounded operations are long). In float64 these
 * values are normal. Which path a lane takes changes no bit, only the time.
 */
function elementwise(
  fname: string,
  nIn: number,
  nOut: number,
  nScalars: number,
  body: (e: Ew) => void,
  finite = false,
  tiny: number[] = [],
): FnBuilder {
  const params: ValType[] = [
    ...new Array<ValType>(nIn + nOut + 1).fill('i32'),
    ...new Array<ValType>(nScalars).fill('f32'),
    ...new Array<ValType>(finite ? 1 : 0).fill('i32'),
  ];
  const f = new FnBuilder(fname, params);
  const finiteP = nIn + nOut + 1 + nScalars;
  const [fv, fs] = [f.local('v128'), f.local('f32')];
  const countP = nIn + nOut;
  const off = f.local('i32');
  const end4 = f.local('i32');
  const endAll = f.local('i32');
  const vs: number[] = [];
  for (let s = 0; s < nScalars; s++) {
    vs.push(f.local('v128'));
    f.get(countP + 1 + s)
      .f32x4Splat()
      .set(vs[s]);
  }
  const [rv, rs] = [f.local('v128'), f.local('f32')];
  const vres: number[] = [];
  const sres: number[] = [];
  for (let o = 0; o < nOut; o++) {
    vres.push(f.local('v128'));
    sres.push(f.local('f32'));
  }
  f.get(countP).i32(4).i32Mul().set(endAll);
  f.get(countP).i32(-4).i32And().i32(4).i32Mul().set(end4);
  f.i32(0).set(off);
  const emit = (vec: boolean, zeroed = -1): void => {
    const e: Ew = {
      inp: (i) => {
        f.get(i).get(off).i32Add();
        if (vec) {
          f.v128Load();
          if (zeroed >= 0) {
            // (the lanes of the mask in local `zeroed` as +0: no subnormal reaches the ops)
            f.get(zeroed).v128AndNot();
          }
        } else {
          f.f32Load();
        }
      },
      sc: (s) => {
        if (vec) {
          f.get(vs[s]);
        } else {
          f.get(countP + 1 + s);
        }
      },
      add: () => (vec ? f.f32x4Add() : f.f32Add()),
      sub: () => (vec ? f.f32x4Sub() : f.f32Sub()),
      mul: () => (vec ? f.f32x4Mul() : f.f32Mul()),
      div: () => (vec ? f.f32x4Div() : f.f32Div()),
      sqrt: () => (vec ? f.f32x4Sqrt() : f.f32Sqrt()),
      relu: () => {
        if (vec) {
          f.tee(rv).get(rv).v128Zero().f32x4Gt();
          f.get(rv).get(rv).f32x4Ne().v128Or().v128And();
        } else {
          f.set(rs).get(rs).f32(0);
          f.get(rs).f32(0).f32Gt();
          f.get(rs).get(rs).f32Ne().i32Or();
          f.select();
        }
      },
      out: (o) => {
        const l = vec ? vres[o] : sres[o];
        f.set(l);
        f.get(nIn + o)
          .get(off)
          .i32Add()
          .get(l);
        if (vec) {
          f.v128Store();
        } else {
          f.f32Store();
        }
        if (finite && o === 0) {
          if (vec) {
            f.get(fv).get(l).v128Zero().f32x4Mul().f32x4Add().set(fv);
          } else {
            f.get(fs).get(l).f32(0).f32Mul().f32Add().set(fs);
          }
        }
      },
      res: (o) => {
        f.get(vec ? vres[o] : sres[o]);
      },
    };
    body(e);
  };
  // lanes 2·half, 2·half + 1 of the group at off as float64 pairs, every result rounded to
  // float32 and back (see `tiny`); two independent halves, so that the core overlaps their chains
  const res64 = Array.from({ length: tiny.length > 0 ? nOut : 0 }, () => f.local('v128'));
  const emit64 = (half: number): void => {
    const round = (): void => {
      f.f32x4DemoteF64x2Zero().f64x2PromoteLowF32x4();
    };
    const e: Ew = {
      inp: (i) => {
        f.get(i)
          .get(off)
          .i32Add()
          .v128Load64Zero(8 * half)
          .f64x2PromoteLowF32x4();
      },
      sc: (sIdx) => {
        f.get(countP + 1 + sIdx)
          .f64PromoteF32()
          .f64x2Splat();
      },
      add: () => (f.f64x2Add(), round()),
      sub: () => (f.f64x2Sub(), round()),
      mul: () => (f.f64x2Mul(), round()),
      div: () => (f.f64x2Div(), round()),
      sqrt: () => (f.f64x2Sqrt(), round()),
      relu: () => {
        throw new Error(`${fname}: no ReLU in the float64 path`);
      },
      out: (o) => {
        f.set(res64[o]);
        f.get(nIn + o)
          .get(off)
          .i32Add()
          .get(res64[o])
          .f32x4DemoteF64x2Zero()
          .v128Store64Lane(0, 8 * half);
        if (finite && o === 0) {
          // (x·0 in float64: a subnormal x would cost the assist in float32)
          f.get(fv).get(res64[o]).v128Zero().f64x2Mul().f32x4DemoteF64x2Zero().f32x4Add().set(fv);
        }
      },
      res: (o) => {
        f.get(res64[o]);
      },
    };
    body(e);
  };
  // (the test's constants, and its lanes' mask: locals of the kernels built with `tiny` only)
  const [bits, bound, flagged] = tiny.length > 0 ? [f.local('v128'), f.local('v128'), f.local('v128')] : [-1, -1, -1]; // prettier-ignore
  if (tiny.length > 0) {
    f.i32(0x7fffffff).i32x4Splat().set(bits);
    f.i32((TINY_BITS + 0x7fffffff) | 0)
      .i32x4Splat()
      .set(bound);
  }
  // SIMD loop
  f.block().loop();
  f.get(off).get(end4).i32GeS().brIf(1);
  if (tiny.length > 0) {
    // a lane of the tested inputs with 0 < |x| < TINY is flagged: |x|'s bits plus 2³¹ − 1
    // (wrapping) below TINY's plus 2³¹ − 1 as signed, which leaves out |x| = 0
    tiny.forEach((i, j) => {
      f.get(i).get(off).i32Add().v128Load().get(bits).v128And();
      f.get(bits).i32x4Add().get(bound).i32x4LtS();
      if (j > 0) {
        f.v128Or();
      }
    });
    f.tee(flagged).v128AnyTrue();
    f.if();
    // the group in float32 with the flagged lanes' inputs zeroed, then each half (pair of lanes)
    // holding a flagged lane again in float64, over it
    emit(true, flagged);
    for (const half of [0, 1]) {
      f.get(flagged).i64x2ExtractLane(half).i64Eqz().i32Eqz();
      f.if();
      emit64(half);
      f.end();
    }
    f.else();
    emit(true);
    f.end();
  } else {
    emit(true);
  }
  f.inc(off, 16).br(0);
  f.end().end();
  // scalar tail
  f.block().loop();
  f.get(off).get(endAll).i32GeS().brIf(1);
  emit(false);
  f.inc(off, 4).br(0);
  f.end().end();
  if (finite) {
    f.get(finiteP).get(fs);
    for (let l = 0; l < 4; l++) {
      f.get(fv).f32x4ExtractLane(l).f32Add();
    }
    f.f32Store();
  }
  return f;
}

function reluMask(): FnBuilder {
  // reluMask(dy, y, out, count): out = (y > 0) ? dy : 0
  const f = new FnBuilder('reluMask', ['i32', 'i32', 'i32', 'i32']);
  const off = f.local('i32');
  const end4 = f.local('i32');
  const endAll = f.local('i32');
  f.get(3).i32(4).i32Mul().set(endAll);
  f.get(3).i32(-4).i32And().i32(4).i32Mul().set(end4);
  f.i32(0).set(off);
  f.block().loop();
  f.get(off).get(end4).i32GeS().brIf(1);
  f.get(2).get(off).i32Add();
  f.get(0).get(off).i32Add().v128Load();
  f.get(1).get(off).i32Add().v128Load().v128Zero().f32x4Gt();
  f.v128And().v128Store();
  f.inc(off, 16).br(0);
  f.end().end();
  f.block().loop();
  f.get(off).get(endAll).i32GeS().brIf(1);
  f.get(2).get(off).i32Add();
  f.get(0).get(off).i32Add().f32Load();
  f.f32(0);
  f.get(1).get(off).i32Add().f32Load().f32(0).f32Gt();
  f.select().f32Store();
  f.inc(off, 4).br(0);
  f.end().end();
  return f;
}

function transpose(): FnBuilder {
  // transpose(src, dst, rows, cols): dst[c·rows + r] = src[r·cols + c] — by 4×4 blocks (four
  // rows loaded as vectors, stored as four columns), the edges one float at a time; the bits are
  // moved, never computed on
  const P = { src: 0, dst: 1, rows: 2, cols: 3 };
  const f = new FnBuilder('transpose', ['i32', 'i32', 'i32', 'i32']);
  const [r, c, rr, r4, c4, rEnd, p] = [0, 1, 2, 3, 4, 5, 6].map(() => f.local('i32'));
  const v = [0, 1, 2, 3].map(() => f.local('v128'));
  const t = [0, 1, 2, 3].map(() => f.local('v128'));
  f.get(P.rows).i32(-4).i32And().set(r4);
  f.get(P.cols).i32(-4).i32And().set(c4);
  /** pushes base + (i·stride + j)·4 */
  const at = (base: number, i: number, stride: number, j: number): void => {
    f.get(base).get(i).get(stride).i32Mul().get(j).i32Add().i32(4).i32Mul().i32Add();
  };
  /** rows [from, to) × columns [c, cols), one float at a time (c is set from `c0`) */
  const floats = (from: number, to: number, c0: number): void => {
    f.get(from).set(rr);
    f.block().loop();
    f.get(rr).get(to).i32GeS().brIf(1);
    f.get(c0).set(c);
    f.block().loop();
    f.get(c).get(P.cols).i32GeS().brIf(1);
    at(P.dst, c, P.rows, rr);
    at(P.src, rr, P.cols, c);
    f.f32Load().f32Store();
    f.inc(c, 1).br(0);
    f.end().end();
    f.inc(rr, 1).br(0);
    f.end().end();
  };
  f.i32(0).set(r);
  f.block().loop();
  f.get(r).get(r4).i32GeS().brIf(1);
  f.i32(0).set(c);
  f.block().loop();
  f.get(c).get(c4).i32GeS().brIf(1);
  at(P.src, r, P.cols, c);
  f.set(p);
  for (let i = 0; i < 4; i++) {
    f.get(p).v128Load().set(v[i]);
    if (i < 3) {
      f.get(p).get(P.cols).i32(4).i32Mul().i32Add().set(p);
    }
  }
  at(P.dst, c, P.rows, r);
  f.set(p);
  f.transpose4(
    v,
    t,
    () => f.get(p),
    () => f.v128Store().get(p).get(P.rows).i32(4).i32Mul().i32Add().set(p),
  );
  f.inc(c, 4).br(0);
  f.end().end();
  // these four rows' last cols − c4 columns
  f.get(r).i32(4).i32Add().set(rEnd);
  floats(r, rEnd, c4);
  f.inc(r, 4).br(0);
  f.end().end();
  // the last rows − r4 rows, every column
  f.i32(0).set(p);
  floats(r4, P.rows, p);
  return f;
}

/**
 * gatherRows, or with `csr` gatherRowsCsr(pixels, indices, n, out, rowPtr, idx, val, total,
 * tab): the same rows, and their compressed rows as csrRows would find them in `out`
 * (./wasm-sparse.ts: each row's nonzero floats with their column, ascending; rowPtr[2r],
 * rowPtr[2r+1] = byte offsets of row r's first entry and its end; the bytes of all entries at
 * `total`), written in the same pass: the floats just stored are appended four at a time from
 * the registers that held them (appendVec, with compressTable's shuffles at `tab`), so the
 * entries are those floats' very bits, and a group of eight zero bytes appends nothing.
 */
function gatherRows(csr = false): FnBuilder {
  const P = { pixels: 0, indices: 1, n: 2, out: 3, rowPtr: 4, idx: 5, val: 6, total: 7, tab: 8 };
  const f = new FnBuilder(csr ? 'gatherRowsCsr' : 'gatherRows', new Array<ValType>(csr ? 9 : 4).fill('i32')); // prettier-ignore
  const r = f.local('i32');
  const src = f.local('i32');
  const end = f.local('i32');
  const dst = f.local('i32');
  const d255 = f.local('v128');
  const h = f.local('v128');
  // (csr) the next entry's byte offset, the column of the group at src and of its second half;
  // the group's two halves as floats; appendVec's locals
  const [e, col, col4] = [f.local('i32'), f.local('i32'), f.local('i32')];
  const [lo, hi] = [f.local('v128'), f.local('v128')];
  const vecLocals: [number, number, number] = [f.local('v128'), f.local('i32'), f.local('v128')];
  f.f32(255).f32x4Splat().set(d255);
  if (csr) {
    setIota(f, vecLocals[0]);
  }
  // first touch every cache line of every row: independent loads the memory system can overlap
  // (the rows are scattered over the dataset, mostly not in cache), where the conversion below
  // would wait for one row at a time; what they read is stored in out[0], which the
  // conversion overwrites
  const touched = f.local('i32');
  f.i32(0).set(touched);
  f.forRange(r, P.n, () => {
    f.get(P.pixels).get(P.indices).get(r).i32(4).i32Mul().i32Add().i32Load().i32(ROW_BYTES).i32Mul().i32Add(); // prettier-ignore
    f.set(src);
    for (let line = 0; line < ROW_BYTES; line += 64) {
      f.get(touched).get(src).i32LoadU8(line).i32Or().set(touched);
    }
  });
  f.get(P.out).get(touched).i32Store();
  f.get(P.out).set(dst);
  if (csr) {
    f.i32(0).set(e);
  }
  f.i32(0).set(r);
  f.block().loop();
  f.get(r).get(P.n).i32GeS().brIf(1);
  if (csr) {
    f.get(P.rowPtr).get(r).i32(8).i32Mul().i32Add().get(e).i32Store();
    f.i32(0).set(col);
  }
  f.get(P.pixels).get(P.indices).get(r).i32(4).i32Mul().i32Add().i32Load().i32(ROW_BYTES).i32Mul().i32Add(); // prettier-ignore
  f.tee(src).i32(ROW_BYTES).i32Add().set(end);
  f.block().loop();
  f.get(src).get(end).i32GeS().brIf(1);
  f.get(src).v128Load8x8U().tee(h).v128AnyTrue().if();
  f.get(dst).get(h).i32x4ExtendLowI16x8U().f32x4ConvertI32x4U().get(d255).f32x4Div().tee(lo).v128Store(); // prettier-ignore
  f.get(dst).get(h).i32x4ExtendHighI16x8U().f32x4ConvertI32x4U().get(d255).f32x4Div().tee(hi).v128Store(16); // prettier-ignore
  if (csr) {
    // append the eight floats just stored, as csrRows does (e advances past the nonzero ones)
    appendVec(f, lo, col, e, P, vecLocals);
    f.get(col).i32(4).i32Add().set(col4);
    appendVec(f, hi, col4, e, P, vecLocals);
  }
  f.else();
  // eight black pixels (most of MNIST): 0 / 255 = +0
  f.get(dst).v128Zero().v128Store();
  f.get(dst).v128Zero().v128Store(16);
  f.end();
  f.inc(src, 8).inc(dst, 32);
  if (csr) {
    f.inc(col, 8);
  }
  f.br(0);
  f.end().end();
  if (csr) {
    f.get(P.rowPtr).get(r).i32(8).i32Mul().i32Add().get(e).i32Store(4);
  }
  f.inc(r, 1).br(0);
  f.end().end();
  if (csr) {
    f.get(P.total).get(e).i32Store();
  }
  return f;
}

/**
 * A run of `count` float32s, SIMD body and scalar tail: copy (dst = src), zero (dst = 0) or
 * add (dst = dst + src, float32; each element once, so the order of elements is immaterial).
 */
function run(kind: 'copy' | 'zero' | 'add'): FnBuilder {
  // (dst, src, count)
  const f = new FnBuilder(`${kind}Run`, ['i32', 'i32', 'i32'], false);
  f.overFloats(2, (vec, off) => {
    f.get(0).get(off).i32Add();
    if (kind === 'zero') {
      if (vec) {
        f.v128Zero();
      } else {
        f.f32(0);
      }
    } else {
      if (kind === 'add') {
        f.get(0).get(off).i32Add();
        if (vec) {
          f.v128Load();
        } else {
          f.f32Load();
        }
      }
      f.get(1).get(off).i32Add();
      if (vec) {
        f.v128Load();
      } else {
        f.f32Load();
      }
      if (kind === 'add') {
        if (vec) {
          f.f32x4Add();
        } else {
          f.f32Add();
        }
      }
    }
    if (vec) {
      f.v128Store();
    } else {
      f.f32Store();
    }
  });
  return f;
}

/**
 * im2col / col2im over an NHWC batch (see ../kernels/conv-ref.ts for the layout), pointers in
 * bytes: (x, col, n, h, w, c, kh, kw, stride, padTop, padLeft, oh, ow). im2col writes every col
 * row (zeros in the padding); col2im (adjoint: x is dx, zeroed first, col is dcol) adds every
 * col row in order into dx, dropping the padding — the same float32 additions in the same
 * order as conv-ref's col2im.
 */
function window(kind: 'im2col' | 'col2im', copy: number, zero: number, add: number): FnBuilder {
  const f = new FnBuilder(kind, new Array<ValType>(13).fill('i32'));
  const P = { x: 0, col: 1, n: 2, h: 3, w: 4, c: 5, kh: 6, kw: 7, stride: 8, padTop: 9, padLeft: 10, oh: 11, ow: 12 }; // prettier-ignore
  const [b, oy, ox, ky, xb, o, ix0, kx0, kx1, iy, rowBytes, imgBytes] = [
    f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32'),
    f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32'),
  ]; // prettier-ignore
  // rowBytes = kw·c·4; imgBytes = h·w·c·4
  f.get(P.kw).get(P.c).i32Mul().i32(4).i32Mul().set(rowBytes);
  f.get(P.h).get(P.w).i32Mul().get(P.c).i32Mul().i32(4).i32Mul().set(imgBytes);
  if (kind === 'col2im') {
    f.get(P.x).i32(0).get(P.n).get(P.h).i32Mul().get(P.w).i32Mul().get(P.c).i32Mul();
    f.call(zero);
  }
  f.get(P.col).set(o);
  f.get(P.x).set(xb);
  f.forRange(b, P.n, () => {
    f.forRange(oy, P.oh, () => {
      f.forRange(ox, P.ow, () => {
        // ix0 = ox·stride − padLeft; kx0 = max(0, −ix0); kx1 = min(kw, w − ix0)
        f.get(ox).get(P.stride).i32Mul().get(P.padLeft).i32Sub().set(ix0);
        f.i32(0).get(ix0).i32Sub().i32(0).get(ix0).i32(0).i32LtS().select().set(kx0);
        f.get(P.w).get(ix0).i32Sub().set(kx1);
        f.get(kx1).get(P.kw).i32GtS().if().get(P.kw).set(kx1).end();
        f.forRange(ky, P.kh, () => {
          f.get(oy).get(P.stride).i32Mul().get(ky).i32Add().get(P.padTop).i32Sub().set(iy);
          // outside the image (a padding row, or no column inside)?
          f.get(iy).i32(0).i32LtS();
          f.get(iy).get(P.h).i32GeS().i32Or();
          f.get(kx1).get(kx0).i32LeS().i32Or();
          f.if();
          if (kind === 'im2col') {
            f.get(o).i32(0).get(P.kw).get(P.c).i32Mul().call(zero);
          }
          f.else();
          if (kind === 'im2col') {
            f.get(kx0).i32(0).i32GtS().if();
            f.get(o).i32(0).get(kx0).get(P.c).i32Mul().call(zero);
            f.end();
          }
          // x + xb-relative ((iy·w + ix0 + kx0)·c)·4 and col o + kx0·c·4, (kx1 − kx0)·c floats
          const dstCol = (): void => {
            f.get(o).get(kx0).get(P.c).i32Mul().i32(4).i32Mul().i32Add();
          };
          const srcX = (): void => {
            f.get(xb).get(iy).get(P.w).i32Mul().get(ix0).i32Add().get(kx0).i32Add();
            f.get(P.c).i32Mul().i32(4).i32Mul().i32Add();
          };
          if (kind === 'im2col') {
            dstCol();
            srcX();
          } else {
            srcX();
            dstCol();
          }
          f.get(kx1).get(kx0).i32Sub().get(P.c).i32Mul();
          f.call(kind === 'im2col' ? copy : add);
          if (kind === 'im2col') {
            f.get(P.kw).get(kx1).i32GtS().if();
            f.get(o).get(kx1).get(P.c).i32Mul().i32(4).i32Mul().i32Add();
            f.i32(0);
            f.get(P.kw).get(kx1).i32Sub().get(P.c).i32Mul();
            f.call(zero);
            f.end();
          }
          f.end();
          f.incBy(o, rowBytes);
        });
      });
    });
    f.incBy(xb, imgBytes);
  });
  return f;
}

/** relu(x, out, count): out = x > 0 || x ≠ x ? x : 0 (bits kept: NaN stays the same NaN). */
function reluFn(): FnBuilder {
  const f = new FnBuilder('relu', ['i32', 'i32', 'i32']);
  const v = f.local('v128');
  const s = f.local('f32');
  f.overFloats(2, (vec, off) => {
    f.get(1).get(off).i32Add();
    if (vec) {
      f.get(0).get(off).i32Add().v128Load().tee(v);
      f.get(v).v128Zero().f32x4Gt();
      f.get(v).get(v).f32x4Ne().v128Or();
      f.v128And().v128Store();
    } else {
      f.get(0).get(off).i32Add().f32Load().tee(s);
      f.f32(0);
      f.get(s).f32(0).f32Gt();
      f.get(s).get(s).f32Ne().i32Or();
      f.select().f32Store();
    }
  });
  return f;
}

/** The module's bytes (built once per process; the shared-memory variant for threads). */
let moduleBytes: Uint8Array<ArrayBuffer> | undefined;
let sharedModuleBytes: Uint8Array<ArrayBuffer> | undefined;

/** Largest shared memory the threads grow for their own copies (pages of 64 KiB: 2 GiB). */
export const SHARED_MAX_PAGES = 32768;

export function kernelModuleBytes(shared = false): Uint8Array<ArrayBuffer> {
  if (shared) {
    // any shared memory up to 4 GiB may be imported: the threads' own, or tfjs's heap
    sharedModuleBytes ??= assemble(kernelFunctions(), 1, SHARED_HEAP_MAX_PAGES);
    return sharedModuleBytes;
  }
  moduleBytes ??= assemble(kernelFunctions());
  return moduleBytes;
}

/** The register tiles' shapes: [f32x4 vectors, lanes stored of the last]. */
const TILE_SHAPES = [
  [2, 4],
  [1, 4],
  [0, 4],
  [1, 1],
  [1, 2],
  [1, 3],
  [2, 1],
  [2, 2],
  [2, 3],
] as const;

/** Every function of the module, in index order. */
function kernelFunctions(): FnBuilder[] {
  const fns: FnBuilder[] = [];
  const tiles = new Map<string, number>();
  for (const mr of [GEMM_MR, 1]) {
    for (const [nv, lanes] of TILE_SHAPES) {
      tiles.set(`${mr}x${nv}l${lanes}`, fns.length);
      fns.push(tile(mr, nv, lanes));
    }
  }
  const dense = fns.push(gemmDriver((mr, nv, lanes) => tiles.get(`${mr}x${nv}l${lanes}`)!)) - 1;
  fns.push(reluMask());
  // sgd(w, g, outW, count, lr, finite)
  fns.push(
    elementwise(
      'sgd',
      2,
      1,
      1,
      (e) => {
        e.inp(0);
        e.sc(0);
        e.inp(1);
        e.mul();
        e.sub();
        e.out(0);
      },
      true,
    ),
  );
  // momentum(w, g, acc, outW, outAcc, count, lr, mu, finite): a = mu·acc + g; w − lr·a
  fns.push(
    elementwise(
      'momentum',
      3,
      2,
      2,
      (e) => {
        e.sc(1);
        e.inp(2);
        e.mul();
        e.inp(1);
        e.add();
        e.out(1);
        e.inp(0);
        e.sc(0);
        e.res(1);
        e.mul();
        e.sub();
        e.out(0);
      },
      true,
      [2],
    ),
  );
  // adam(w, g, m, v, outW, outM, outV, count, lr, b1, b2, c1, c2, eps, finite)
  fns.push(
    elementwise(
      'adam',
      4,
      3,
      6,
      (e) => {
        // m' = b1·m + c1·g
        e.sc(1);
        e.inp(2);
        e.mul();
        e.sc(3);
        e.inp(1);
        e.mul();
        e.add();
        e.out(1);
        // v' = b2·v + c2·(g·g)
        e.sc(2);
        e.inp(3);
        e.mul();
        e.sc(4);
        e.inp(1);
        e.inp(1);
        e.mul();
        e.mul();
        e.add();
        e.out(2);
        // w' = w − (lr·m') / (√v' + eps)
        e.inp(0);
        e.sc(0);
        e.res(1);
        e.mul();
        e.res(2);
        e.sqrt();
        e.sc(5);
        e.add();
        e.div();
        e.sub();
        e.out(0);
      },
      true,
      [2, 3],
    ),
  );
  fns.push(transpose());
  fns.push(gatherRows());
  fns.push(gatherRows(true));
  const copy = fns.push(run('copy')) - 1;
  const zero = fns.push(run('zero')) - 1;
  const add = fns.push(run('add')) - 1;
  fns.push(window('im2col', copy, zero, add));
  fns.push(window('col2im', copy, zero, add));
  fns.push(reluFn());
  // add(a, b, out, count): out = a + b; addRelu: relu(a + b) (a following ReLU fused)
  for (const relu of [false, true]) {
    fns.push(
      elementwise(relu ? 'addRelu' : 'add', 2, 1, 0, (e) => {
        e.inp(0);
        e.inp(1);
        e.add();
        if (relu) {
          e.relu();
        }
        e.out(0);
      }),
    );
  }
  fns.push(maxPoolFn(false, zero));
  fns.push(bnSumFn(false), bnSumFn(true), bnNormalizeFn(), bnGradSumsFn(), bnGradDxFn());
  fns.push(bnNormalizeFn(true));
  fns.push(maxPoolFn(true, zero));
  fns.push(csrRowsFn());
  fns.push(csrColsFn());
  fns.push(csrTransposeFn());
  fns.push(scaleIdxFn());
  fns.push(nonFiniteFn());
  fns.push(...hashFunctions());
  fns.push(...sparseFunctions(fns.length));
  // the gathered-A GEMM (convolutions without an im2col matrix): A packed per row tile, or read
  // in place when C has one column tile (each A element is then used once); and the padded
  // copy it reads
  for (const mr of [GEMM_MR, 1]) {
    for (const [nv, lanes] of TILE_SHAPES) {
      tiles.set(`g${mr}x${nv}l${lanes}`, fns.length);
      fns.push(tile(mr, nv, lanes, 'gather'));
    }
  }
  const gathered =
    fns.push(gemmDriver((mr, nv, lanes) => tiles.get(`g${mr}x${nv}l${lanes}`)!, true)) - 1;
  for (const mr of [GEMM_MR, 1]) {
    for (const [nv, lanes] of TILE_SHAPES) {
      tiles.set(`p${mr}x${nv}l${lanes}`, fns.length);
      fns.push(tile(mr, nv, lanes, 'packed'));
    }
  }
  const packedTile = (mr: number, nv: number, lanes: number): number =>
    tiles.get(`p${mr}x${nv}l${lanes}`)!;
  for (const [source, unpacked] of [
    ['gather', gathered],
    ['dense', dense],
  ] as const) {
    const pack4 = fns.push(packPanelFn(4, source)) - 1;
    const pack1 = fns.push(packPanelFn(1, source)) - 1;
    const pack = (mr: 1 | 4): number => (mr === 1 ? pack1 : pack4);
    fns.push(gemmPackedFn(source, GEMM_KC, GEMM_MR, 4 * GEMM_NV, unpacked, pack, packedTile));
  }
  fns.push(padFn(copy, zero));
  fns.push(softmaxXentFn());
  return fns;
}

/**
 * pad(x, out, n, h, w, c, padTop, padLeft, hp, wp), pointers in bytes: out [n, hp, wp, c] is
 * x [n, h, w, c] placed at (padTop, padLeft) with +0 everywhere else — the values im2col writes
 * for the padding, so a GEMM reading its windows from `out` sees im2col's matrix exactly.
 */
function padFn(copy: number, zero: number): FnBuilder {
  const f = new FnBuilder('pad', new Array<ValType>(10).fill('i32'));
  const P = { x: 0, out: 1, n: 2, h: 3, w: 4, c: 5, padTop: 6, padLeft: 7, hp: 8, wp: 9 };
  const [b, y, src, dst, rowBytes, cell] = [0, 0, 0, 0, 0, 0].map(() => f.local('i32'));
  // every byte written once: the border's +0 cells between the copied rows, not a zeroed image
  // first (a whole pass over memory: this image is megabytes and the step's bottleneck is DRAM)
  const zeroCells = (count: () => void): void => {
    f.get(dst).i32(0);
    count();
    f.get(P.c).i32Mul().call(zero);
  };
  f.get(P.c).i32(4).i32Mul().set(cell);
  f.get(P.w).get(cell).i32Mul().set(rowBytes);
  f.get(P.x).set(src);
  f.get(P.out).set(dst);
  f.forRange(b, P.n, () => {
    // the top rows and the first row's left border
    zeroCells(() => f.get(P.padTop).get(P.wp).i32Mul().get(P.padLeft).i32Add());
    f.get(dst).get(P.padTop).get(P.wp).i32Mul().get(P.padLeft).i32Add().get(cell).i32Mul().i32Add().set(dst); // prettier-ignore
    f.forRange(y, P.h, () => {
      f.get(dst).get(src).get(P.w).get(P.c).i32Mul().call(copy);
      f.incBy(src, rowBytes).incBy(dst, rowBytes);
      // this row's right border and the next one's left border (after the last row: its right
      // border and the bottom rows)
      f.get(y).i32(1).i32Add().get(P.h).i32LtS().if();
      zeroCells(() => f.get(P.wp).get(P.w).i32Sub());
      f.get(dst).get(P.wp).get(P.w).i32Sub().get(cell).i32Mul().i32Add().set(dst);
      f.else();
      const tail = (): void => {
        f.get(P.wp).get(P.padLeft).i32Sub().get(P.w).i32Sub();
        f.get(P.hp).get(P.padTop).i32Sub().get(P.h).i32Sub().get(P.wp).i32Mul().i32Add();
      };
      zeroCells(tail);
      tail();
      f.get(cell).i32Mul().get(dst).i32Add().set(dst);
      f.end();
    });
  });
  return f;
}

/** The parts of the WebAssembly JS API used here (the Node typings do not declare them). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array<ArrayBuffer>) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  CompileError: new (message?: string) => Error;
}
export const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
let compiled: object | undefined;

/** Instantiates the kernels on `memory` (synchronously; the module is small). */
export function instantiateKernels(memory: WasmMemory): WasmKernels {
  compiled ??= new WA.Module(kernelModuleBytes());
  const instance = new WA.Instance(compiled, { env: { memory } });
  return instance.exports as WasmKernels;
}

let compiledShared: object | undefined;

/** The kernels on a shared memory (for the threads of ./threads.ts). */
export function instantiateSharedKernels(memory: WasmMemory): WasmKernels {
  compiledShared ??= new WA.Module(kernelModuleBytes(true));
  const instance = new WA.Instance(compiledShared, { env: { memory } });
  return instance.exports as WasmKernels;
}
