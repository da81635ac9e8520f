/**
 * The WebAssembly functions of the GEMM that skips A's zeros (the rule and its proof are in
 * ./sparse.ts; the JS twins are csr/gemmCsr/nonFinite in ./reference.ts), and the tile epilogue
 * the dense tiles of ./wasm-module.ts share. Pointers, strides and the `t` offsets are in bytes.
 *
 * - csrRows(a, lda, m, k, rowPtr, idx, val, out, tab) / csrCols(a, lda, m, k, rowPtr, idx, val,
 *   out): A in compressed rows, from A (row i at a + i·lda) or from M = Aᵀ (row p at a + p·lda):
 *   for each row i, its nonzero A[i,p] (p ascending; NaN counts as nonzero, ±0 does not) go to
 *   val, p to idx, and rowPtr[2i], rowPtr[2i+1] = the byte offsets of the row's first entry and
 *   its end; the total (bytes of entries) goes to out. idx and val have room for m·k entries and
 *   16 bytes more (an element is written before it is counted; csrRows writes four at a time,
 *   with compressTable's shuffles at `tab`).
 * - nonFinite(ptr, count, out): f32 at out = Σ x·0 over the count floats — ±0 when all are
 *   finite, NaN otherwise.
 * - csrTranspose: the compressed rows of Aᵀ from those of A (no scan).
 * - scaleIdx(rowPtr, m, idx, out, scale): out[t] = idx[t]·scale for every entry t of the m rows
 *   (a column index times B's row stride in bytes: the byte offset of the entry's row of B).
 * - gemmCsr(rowPtr, idx, val, b, c, ldc, m, n, bias, relu, tail): C[i,:] = act(Σ_t val[t]·B[t]
 *   + bias) over row i's entries in order, B[t] the row of B at b + idx[t] (idx: scaleIdx's byte
 *   offsets), in tiles of 28, 16, 8, then 4 columns, then the last 1–3 (one SIMD tile reading up
 *   to 12 bytes past B's rows and the bias when tail = 1, else single columns) — the same float32
 *   operations per element as the dense tiles' (0 + a·b) + …
 */
import { FnBuilder, type ValType } from './wasm-asm';

/**
 * f32x4 vectors per row of a sparse tile (columns = 4·SPARSE_NV): 7 accumulators and the splat
 * stay in registers (with 8, TurboFan hoists the loads and spills). Measured in one process,
 * modules alternating, real MNIST batches (100 × 784 at 19 % nonzero): the first layer's
 * x·W and xᵀ·dz at n = 128 took 153 and 149 µs in tiles of 7, 4 against 161 and 160 in tiles
 * of 6, 2; 5–12 % less at n = 32, 64, 150 and 256 too; tiles of 8 took 210.
 */
export const SPARSE_NV = 7;

/**
 * Stores one row of a register tile at `cp` (a local or parameter holding the row's address):
 * for each column vector v, acc + bias[v] when `bias` (a pointer, 0 for none) is set, then
 * max(·, 0) when `relu` is set, then the store — of the last vector only the first `lanes` lanes
 * when lanes < 4.
 */
export function storeTileRow(
  f: FnBuilder,
  acc: number[],
  vec: boolean,
  lanes: number,
  cp: number,
  bias: number,
  relu: number,
): void {
  acc.forEach((x, v) => {
    f.get(bias).if();
    f.get(x).get(bias);
    if (vec) {
      f.v128Load(16 * v).f32x4Add();
    } else {
      f.f32Load().f32Add();
    }
    f.set(x).end();
    f.get(relu).if();
    if (vec) {
      f.get(x).v128Zero().f32x4Max().set(x);
    } else {
      f.get(x).f32(0).f32Max().set(x);
    }
    f.end();
    if (vec && lanes < 4 && v === acc.length - 1) {
      for (let l = 0; l < lanes; l++) {
        f.get(cp)
          .get(x)
          .f32x4ExtractLane(l)
          .f32Store(16 * v + 4 * l);
      }
    } else {
      f.get(cp).get(x);
      if (vec) {
        f.v128Store(16 * v);
      } else {
        f.f32Store();
      }
    }
  });
}

/**
 * Walks C's columns j (a local, from 0) up to n in register tiles: for each width nv in
 * `widths` (f32x4 vectors, the last one 1), tiles of 4·nv columns while they fit — `before(nv)`
 * may emit code ahead of them —; then, when `tail` ≠ 0 (over-reading allowed), the last 1–3
 * columns as one partial vector; then single columns. `emit(nv, lanes)` emits one tile at j
 * (nv = 0: one scalar column).
 */
export function walkColumns(
  f: FnBuilder,
  j: number,
  n: number,
  tail: number,
  widths: number[],
  emit: (nv: number, lanes?: number) => void,
  before?: (nv: number) => void,
): void {
  f.i32(0).set(j);
  for (const nv of widths) {
    before?.(nv);
    f.block().loop();
    f.get(n)
      .get(j)
      .i32Sub()
      .i32(4 * nv)
      .i32LtS()
      .brIf(1);
    emit(nv);
    f.inc(j, 4 * nv).br(0);
    f.end().end();
  }
  f.get(tail).get(n).get(j).i32Sub().i32(0).i32GtS().i32And().if();
  for (const lanes of [1, 2, 3]) {
    f.get(n).get(j).i32Sub().i32(lanes).i32Eq().if();
    emit(1, lanes);
    f.end();
  }
  f.get(n).set(j);
  f.end();
  f.block().loop();
  f.get(n).get(j).i32Sub().i32(1).i32LtS().brIf(1);
  emit(0);
  f.inc(j, 1).br(0);
  f.end().end();
}

/**
 * The dense GEMM drivers' column walk (./wasm-module.ts, ./wasm-packed.ts): tiles of 8 columns,
 * then — when `tail` ≠ 0 (over-reading allowed) — 5–7 columns left as one 8-column tile that
 * stores 1–3 lanes of its second vector, then tiles of 4, the last 1–3 columns, single columns
 * (see walkColumns). `emit(nv, lanes)` as walkColumns's.
 */
export function walkGemmColumns(
  f: FnBuilder,
  j: number,
  n: number,
  tail: number,
  emit: (nv: number, lanes?: number) => void,
): void {
  walkColumns(f, j, n, tail, [2, 1], emit, (nv) => {
    if (nv === 1) {
      f.get(tail).get(n).get(j).i32Sub().i32(4).i32GtS().i32And().if();
      for (const lanes of [1, 2, 3]) {
        f.get(n)
          .get(j)
          .i32Sub()
          .i32(4 + lanes)
          .i32Eq()
          .if();
        emit(2, lanes);
        f.end();
      }
      f.get(n).set(j);
      f.end();
    }
  });
}

/**
 * Pushes a dense GEMM tile's arguments after its A operands (tile parameters 3–10 of
 * ./wasm-module.ts): b + pc·ldb + 4j, ldb, c + i·ldc + 4j, ldc, kc, the bias at column j in the
 * last chunk of k only (else 0), relu in the last chunk only, first. Locals and parameters by
 * index; `P` names the driver's parameters.
 */
export function pushTileArgs(
  f: FnBuilder,
  P: { b: number; ldb: number; c: number; ldc: number; bias: number; relu: number },
  { i, j, pc, kc, first, last }: Record<'i' | 'j' | 'pc' | 'kc' | 'first' | 'last', number>,
): void {
  f.get(P.b).get(pc).get(P.ldb).i32Mul().i32Add().get(j).i32(4).i32Mul().i32Add();
  f.get(P.ldb);
  f.get(P.c).get(i).get(P.ldc).i32Mul().i32Add().get(j).i32(4).i32Mul().i32Add();
  f.get(P.ldc).get(kc);
  f.get(P.bias).get(j).i32(4).i32Mul().i32Add().i32(0).get(P.bias).select();
  f.i32(0).get(last).select();
  f.get(P.relu).get(last).i32And();
  f.get(first);
}

/**
 * Appends A's element at `ap` + offset (its column index in the local `col`) at byte `e` of the
 * compressed rows (csrCols, and csrRows's last 0–3 elements; {@link appendVec} appends four at
 * once for csrRows and gatherRowsCsr of ./wasm-module.ts).
 */
export function append(
  f: FnBuilder,
  ap: number,
  offset: number,
  col: number,
  e: number,
  P: { idx: number; val: number },
): void {
  f.get(P.val).get(e).i32Add().get(ap).f32Load(offset).f32Store();
  f.get(P.idx).get(e).i32Add().get(col).i32Store();
  // e += 4 when the element ≠ 0 (NaN ≠ 0 too)
  f.get(e).get(ap).f32Load(offset).f32(0).f32Ne().i32(4).i32Mul().i32Add().set(e);
}

/** Bytes of {@link compressTable}: 16 shuffles of 16 bytes. */
export const COMPRESS_TABLE_BYTES = 256;

/**
 * The shuffles (i8x16.swizzle indices) that move the lanes set in a 4-bit mask to the front of
 * a v128 of four 32-bit lanes, in lane order, zeros after them: shuffle m at byte 16·m.
 */
export function compressTable(): Uint8Array {
  const t = new Uint8Array(COMPRESS_TABLE_BYTES).fill(0x80);
  for (let m = 0; m < 16; m++) {
    let to = 0;
    for (let l = 0; l < 4; l++) {
      if ((m & (1 << l)) !== 0) {
        for (let b = 0; b < 4; b++) {
          t[16 * m + 4 * to + b] = 4 * l + b;
        }
        to++;
      }
    }
  }
  return t;
}

/**
 * {@link append} for the four floats of the v128 local `v` at once (lane l has column `col` +
 * l): the entries append would make — each nonzero lane's bits (NaN ≠ 0 counts, ±0 does not)
 * with its column, in lane order — moved to the front by a shuffle of `P.tab`
 * ({@link compressTable}) and stored whole, so up to 12 bytes past the last entry of idx and val
 * are written (the regions keep that room). `iota` holds the i32 lanes 0, 1, 2, 3 (setIota);
 * `mask` and `shuf` are scratch locals (i32, v128).
 */
export function appendVec(
  f: FnBuilder,
  v: number,
  col: number,
  e: number,
  P: { idx: number; val: number; tab: number },
  [iota, mask, shuf]: [number, number, number],
): void {
  f.get(v).v128Zero().f32x4Ne().i32x4Bitmask().set(mask);
  f.get(P.tab).get(mask).i32(4).i32Shl().i32Add().v128Load().set(shuf);
  f.get(P.val).get(e).i32Add().get(v).get(shuf).i8x16Swizzle().v128Store();
  f.get(P.idx).get(e).i32Add();
  f.get(col).i32x4Splat().get(iota).i32x4Add().get(shuf).i8x16Swizzle().v128Store();
  // e += 4 per nonzero lane
  f.get(e).get(mask).i32Popcnt().i32(2).i32Shl().i32Add().set(e);
}

/** Sets the v128 local `iota` to the i32 lanes 0, 1, 2, 3 (for {@link appendVec}). */
export function setIota(f: FnBuilder, iota: number): void {
  f.i32(0).i32x4Splat();
  for (let l = 1; l < 4; l++) {
    f.i32(l).i32x4ReplaceLane(l);
  }
  f.set(iota);
}

/**
 * csrRows(a, lda, m, k, rowPtr, idx, val, out, tab): A's rows are contiguous (row i at
 * a + i·lda). Groups of 16 zeros are skipped with one SIMD test; the rest is appended four
 * elements at a time (appendVec, compressTable's shuffles at `tab`), the last 0–3 one by one.
 */
export function csrRowsFn(): FnBuilder {
  const P = { a: 0, lda: 1, m: 2, k: 3, rowPtr: 4, idx: 5, val: 6, out: 7, tab: 8 };
  const f = new FnBuilder('csrRows', new Array<ValType>(9).fill('i32'));
  const [r, p, q, tb, ap] = [f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32')]; // prettier-ignore
  const v = f.local('v128');
  const vecLocals: [number, number, number] = [f.local('v128'), f.local('i32'), f.local('v128')];
  setIota(f, vecLocals[0]);
  f.i32(0).set(tb);
  f.i32(0).set(r);
  f.block().loop();
  f.get(r).get(P.m).i32GeS().brIf(1);
  f.get(P.rowPtr).get(r).i32(8).i32Mul().i32Add().get(tb).i32Store();
  f.get(P.a).get(r).get(P.lda).i32Mul().i32Add().set(ap);
  f.i32(0).set(p);
  /** the 4 elements at ap + 16·g (column p + 4·g) */
  const group = (g: number): void => {
    f.get(ap).v128Load(16 * g).set(v);
    f.get(p).i32(4 * g).i32Add().set(q);
    appendVec(f, v, q, tb, P, vecLocals);
  };
  // groups of 16 (an image's zeros come in runs): one test for 16 zeros, else its groups of 4
  f.block().loop();
  f.get(P.k).get(p).i32Sub().i32(16).i32LtS().brIf(1);
  for (let g = 0; g < 4; g++) {
    f.get(ap).v128Load(16 * g).v128Zero().f32x4Ne();
    if (g > 0) {
      f.v128Or();
    }
  }
  f.v128AnyTrue().if();
  for (let g = 0; g < 4; g++) {
    group(g);
  }
  f.end();
  f.inc(ap, 64);
  f.inc(p, 16).br(0);
  f.end().end();
  // groups of 4
  f.block().loop();
  f.get(P.k).get(p).i32Sub().i32(4).i32LtS().brIf(1);
  group(0);
  f.inc(ap, 16);
  f.inc(p, 4).br(0);
  f.end().end();
  // the last 0–3
  f.block().loop();
  f.get(p).get(P.k).i32GeS().brIf(1);
  append(f, ap, 0, p, tb, P);
  f.inc(ap, 4);
  f.inc(p, 1).br(0);
  f.end().end();
  f.get(P.rowPtr).get(r).i32(8).i32Mul().i32Add().get(tb).i32Store(4);
  f.inc(r, 1).br(0);
  f.end().end();
  f.get(P.out).get(tb).i32Store();
  return f;
}

/**
 * csrCols(a, lda, m, k, ldb, rowPtr, idx, val, out): A = Mᵀ where M (k × m) has contiguous
 * rows (row p at a + p·lda), so A's row i is M's column i. M is read row by row (groups of 4
 * zeros skipped with one SIMD test); row i's entries go to a slot of k entries at byte i·4k,
 * appended in p order.
 */
export function csrColsFn(): FnBuilder {
  const P = { a: 0, lda: 1, m: 2, k: 3, rowPtr: 4, idx: 5, val: 6, out: 7 };
  const f = new FnBuilder('csrCols', new Array<ValType>(8).fill('i32'));
  const [i, p, ap, boff, e, ep, total] = [f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32')]; // prettier-ignore
  const forRows = (body: () => void): void => {
    f.i32(0).set(i);
    f.block().loop();
    f.get(i).get(P.m).i32GeS().brIf(1);
    f.get(P.rowPtr).get(i).i32(8).i32Mul().i32Add().set(ep);
    body();
    f.inc(i, 1).br(0);
    f.end().end();
  };
  // every row's slot starts empty at i·4k
  forRows(() => {
    f.get(ep).get(i).get(P.k).i32Mul().i32(4).i32Mul().tee(e).i32Store();
    f.get(ep).get(e).i32Store(4);
  });
  // appends M[p, i] (at ap + offset) to row i: e = rowPtr end, stored back
  const add = (offset: number, lane: number): void => {
    f.get(P.rowPtr).get(i).i32(lane).i32Add().i32(8).i32Mul().i32Add().set(ep);
    f.get(ep).i32Load(4).set(e);
    append(f, ap, offset, boff, e, P);
    f.get(ep).get(e).i32Store(4);
  };
  f.i32(0).set(p);
  f.i32(0).set(boff);
  f.block().loop();
  f.get(p).get(P.k).i32GeS().brIf(1);
  f.get(P.a).get(p).get(P.lda).i32Mul().i32Add().set(ap);
  f.i32(0).set(i);
  f.block().loop();
  f.get(P.m).get(i).i32Sub().i32(4).i32LtS().brIf(1);
  f.get(ap).v128Load().v128Zero().f32x4Ne().v128AnyTrue().if();
  for (let l = 0; l < 4; l++) {
    add(4 * l, l);
  }
  f.end();
  f.inc(ap, 16);
  f.inc(i, 4).br(0);
  f.end().end();
  f.block().loop();
  f.get(i).get(P.m).i32GeS().brIf(1);
  add(0, 0);
  f.inc(ap, 4);
  f.inc(i, 1).br(0);
  f.end().end();
  f.inc(boff, 1);
  f.inc(p, 1).br(0);
  f.end().end();
  // total = Σ (end − start)
  f.i32(0).set(total);
  forRows(() => {
    f.get(total).get(ep).i32Load(4).i32Add().get(ep).i32Load().i32Sub().set(total);
  });
  f.get(P.out).get(total).i32Store();
  return f;
}

/**
 * csrTranspose(rowPtr, idx, val, m, k, rowPtrT, idxT, valT): the compressed rows of Aᵀ (k rows,
 * row p in a slot of m entries at byte p·4m) from those of A (m rows, k columns): A's rows are
 * walked in order, so each row of Aᵀ gets its entries with ascending column — exactly what
 * csrCols would have found by scanning.
 */
export function csrTransposeFn(): FnBuilder {
  const P = { rowPtr: 0, idx: 1, val: 2, m: 3, k: 4, rowPtrT: 5, idxT: 6, valT: 7 };
  const f = new FnBuilder('csrTranspose', new Array<ValType>(8).fill('i32'));
  const [i, p, t, t1, ep, e] = Array.from({ length: 6 }, () => f.local('i32'));
  f.i32(0).set(p);
  f.block().loop();
  f.get(p).get(P.k).i32GeS().brIf(1);
  f.get(P.rowPtrT).get(p).i32(8).i32Mul().i32Add().tee(ep);
  f.get(p).get(P.m).i32Mul().i32(4).i32Mul().tee(e).i32Store();
  f.get(ep).get(e).i32Store(4);
  f.inc(p, 1).br(0);
  f.end().end();
  f.i32(0).set(i);
  f.block().loop();
  f.get(i).get(P.m).i32GeS().brIf(1);
  f.get(P.rowPtr).get(i).i32(8).i32Mul().i32Add().tee(ep).i32Load().set(t);
  f.get(ep).i32Load(4).set(t1);
  f.block().loop();
  f.get(t).get(t1).i32GeS().brIf(1);
  f.get(P.rowPtrT).get(P.idx).get(t).i32Add().i32Load().i32(8).i32Mul().i32Add().tee(ep);
  f.i32Load(4).set(e);
  f.get(P.valT).get(e).i32Add().get(P.val).get(t).i32Add().f32Load().f32Store();
  f.get(P.idxT).get(e).i32Add().get(i).i32Store();
  f.get(ep).get(e).i32(4).i32Add().i32Store(4);
  f.inc(t, 4).br(0);
  f.end().end();
  f.inc(i, 1).br(0);
  f.end().end();
  return f;
}

/** nonFinite(ptr, count, out) */
export function nonFiniteFn(): FnBuilder {
  const f = new FnBuilder('nonFinite', ['i32', 'i32', 'i32']);
  const v = f.local('v128');
  const s = f.local('f32');
  f.v128Zero().set(v);
  f.f32(0).set(s);
  f.overFloats(1, (vec, off) => {
    if (vec) {
      f.get(v).get(0).get(off).i32Add().v128Load().v128Zero().f32x4Mul().f32x4Add().set(v);
    } else {
      f.get(s).get(0).get(off).i32Add().f32Load().f32(0).f32Mul().f32Add().set(s);
    }
  });
  f.get(2);
  f.get(s);
  for (let l = 0; l < 4; l++) {
    f.get(v).f32x4ExtractLane(l).f32Add();
  }
  f.f32Store();
  return f;
}

/**
 * scaleIdx(rowPtr, m, idx, out, scale): see the header. Four entries at a time, so up to 12
 * bytes past a row's last entry are read from idx and written to out: the next row's first
 * entries, written again when their row comes (rows go in order), or the room after the last
 * row's entries (idx and out have 16 spare bytes after their entries, as the regions of
 * ./sparse.ts do).
 */
export function scaleIdxFn(): FnBuilder {
  const P = { rowPtr: 0, m: 1, idx: 2, out: 3, scale: 4 };
  const f = new FnBuilder('scaleIdx', new Array<ValType>(5).fill('i32'));
  const [r, t, t1] = [f.local('i32'), f.local('i32'), f.local('i32')];
  const s = f.local('v128');
  f.get(P.scale).i32x4Splat().set(s);
  f.i32(0).set(r);
  f.block().loop();
  f.get(r).get(P.m).i32GeS().brIf(1);
  f.get(P.rowPtr).get(r).i32(8).i32Mul().i32Add().i32Load().set(t);
  f.get(P.rowPtr).get(r).i32(8).i32Mul().i32Add().i32Load(4).set(t1);
  f.block().loop();
  f.get(t).get(t1).i32GeS().brIf(1);
  f.get(P.out).get(t).i32Add();
  f.get(P.idx).get(t).i32Add().v128Load().get(s).i32x4Mul();
  f.v128Store();
  f.inc(t, 16).br(0);
  f.end().end();
  f.inc(r, 1).br(0);
  f.end().end();
  return f;
}

const SP = { t0: 0, t1: 1, idx: 2, val: 3, b: 4, c: 5, bias: 6, relu: 7 };

/**
 * One row × (nv vectors, or one scalar column when nv = 0) over entries t0…t1 of the row. The
 * entries' rows of B are at b + idx[t] (scaleIdx's byte offsets): measured in one process,
 * alternating, on a real MNIST batch (100 × 784, 19 % nonzero, n = 128), x·W took 197 µs
 * against 228 and xᵀ·dz 183 against 216 when each entry's offset was still idx[t]·ldb (a
 * multiply and a load of ldb on the path from the entry to its loads).
 */
function sparseTile(nv: number, lanes: number): FnBuilder {
  const f = new FnBuilder(`sptile${nv}l${lanes}`, new Array<ValType>(8).fill('i32'), false);
  const vec = nv > 0;
  const cols = vec ? nv : 1;
  const acc: number[] = [];
  for (let v = 0; v < cols; v++) {
    acc.push(f.local(vec ? 'v128' : 'f32'));
  }
  const av = f.local(vec ? 'v128' : 'f32');
  const t = f.local('i32');
  const bp = f.local('i32');
  for (const x of acc) {
    if (vec) {
      f.v128Zero().set(x);
    } else {
      f.f32(0).set(x);
    }
  }
  const entry = (offset: number): void => {
    f.get(SP.b).get(SP.idx).get(t).i32Add().i32Load(offset).i32Add().set(bp);
    f.get(SP.val).get(t).i32Add();
    if (vec) {
      f.v128Load32Splat(offset).set(av);
    } else {
      f.f32Load(offset).set(av);
    }
    acc.forEach((x, v) => {
      f.get(x).get(av).get(bp);
      if (vec) {
        f.v128Load(16 * v)
          .f32x4Mul()
          .f32x4Add();
      } else {
        f.f32Load().f32Mul().f32Add();
      }
      f.set(x);
    });
  };
  f.get(SP.t0).set(t);
  f.block().loop();
  f.get(t).get(SP.t1).i32GeS().brIf(1);
  entry(0);
  f.inc(t, 4).br(0);
  f.end().end();
  storeTileRow(f, acc, vec, lanes, SP.c, SP.bias, SP.relu);
  return f;
}

/** The tiles gemmCsr calls, then gemmCsr itself (the last function). */
export function sparseFunctions(firstIndex: number): FnBuilder[] {
  const fns: FnBuilder[] = [];
  const index = new Map<string, number>();
  for (const [nv, lanes] of [
    [SPARSE_NV, 4],
    [4, 4],
    [2, 4],
    [1, 4],
    [0, 4],
    [1, 1],
    [1, 2],
    [1, 3],
  ]) {
    index.set(`${nv}l${lanes}`, firstIndex + fns.length);
    fns.push(sparseTile(nv, lanes));
  }
  const P = { rowPtr: 0, idx: 1, val: 2, b: 3, c: 4, ldc: 5, m: 6, n: 7, bias: 8, relu: 9, tail: 10 }; // prettier-ignore
  const f = new FnBuilder('gemmCsr', new Array<ValType>(11).fill('i32'));
  const r = f.local('i32');
  const j = f.local('i32');
  const t0 = f.local('i32');
  const t1 = f.local('i32');
  const crow = f.local('i32');
  const call = (nv: number, lanes: number): void => {
    f.get(t0).get(t1).get(P.idx).get(P.val);
    f.get(P.b).get(j).i32(4).i32Mul().i32Add();
    f.get(crow).get(j).i32(4).i32Mul().i32Add();
    f.get(P.bias).get(j).i32(4).i32Mul().i32Add().i32(0).get(P.bias).select();
    f.get(P.relu);
    f.call(index.get(`${nv}l${lanes}`)!);
  };
  f.i32(0).set(r);
  f.block().loop();
  f.get(r).get(P.m).i32GeS().brIf(1);
  f.get(P.rowPtr).get(r).i32(8).i32Mul().i32Add().i32Load().set(t0);
  f.get(P.rowPtr).get(r).i32(8).i32Mul().i32Add().i32Load(4).set(t1);
  f.get(P.c).get(r).get(P.ldc).i32Mul().i32Add().set(crow);
  walkColumns(f, j, P.n, P.tail, [SPARSE_NV, 4, 2, 1], (nv, lanes = 4) => call(nv, lanes));
  f.inc(r, 1).br(0);
  f.end().end();
  fns.push(f);
  return fns;
}
