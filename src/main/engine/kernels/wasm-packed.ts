/**
 * The gathered GEMM (`gemmG`, a convolution's product without its im2col matrix) with A packed:
 * for each chunk of k and each register tile of rows, the tile's A elements are first copied
 * from the image into a small panel — [p][r], mr floats per step of k, 4·GEMM_KC floats at most
 * — and every column tile of that row tile then reads the panel through one pointer at constant
 * offsets ('packed' tiles of ./wasm-module.ts) instead of one gathered address per row and step.
 * V8's register allocator keeps the 4×8 tile's inner loop at ≈ 24 GMAC/s here with one A pointer
 * against ≈ 15 with four gathered ones.
 *
 * Why the bits are the same as the unpacked gemmG (and im2col + gemm, and the JS reference):
 * packing moves values, it computes nothing; each output element still starts from 0 (first
 * chunk) or from its partial sum stored in C, adds A[r, p]·B[p, j] for p ascending within the
 * chunk, takes the chunks in order, and applies bias and ReLU in the last chunk only. The order
 * in which row and column tiles are visited changes no sum (each element has its own).
 *
 * Packing a 4-row tile, by the tables' shapes (both int32 byte offsets from x):
 *   - its 4 rows adjacent in memory (rsTab[r] = rsTab[0] + 4r: the weight gradient's rows are
 *     consecutive channels of one window position): one 16-byte copy per step of k;
 *   - else 4 steps of k adjacent (ksTab[p + s] = ksTab[p] + 4s: consecutive channels, the
 *     forward pass): 4 row vectors loaded and transposed 4×4 into 4 steps;
 *   - else one element at a time.
 * A vector load reads only elements of A (adjacency is checked first), never past them.
 */
import { FnBuilder, type ValType } from './wasm-asm';
import { pushTileArgs, walkGemmColumns } from './wasm-sparse';

/** Bytes of one thread's packing panel for chunks of `kc` steps of k and 4-row tiles. */
export function packBytes(kc: number): number {
  return 4 * 4 * kc;
}

/** Where A's elements are: read through offset tables (a convolution's windows) or dense. */
export type PanelSource = 'gather' | 'dense';

/**
 * pack(a, rs, ks, kc, out) for tiles of `mr` rows (4 or 1): out[p·mr + r] = A[r, p] for p < kc,
 * with A[r, p] the f32 at a + rs[r] + ks[p] ('gather': rs and ks point to int32 tables) or at
 * a + r·rs + p·ks ('dense': rs and ks are strides). Pointers and strides in bytes.
 */
export function packPanelFn(mr: 1 | 4, source: PanelSource): FnBuilder {
  const P = { x: 0, rs: 1, ks: 2, kc: 3, out: 4 };
  const gather = source === 'gather';
  const f = new FnBuilder(`pack${gather ? 'G' : 'D'}${mr}`, new Array<ValType>(5).fill('i32'), false); // prettier-ignore
  const row: number[] = [];
  for (let r = 0; r < mr; r++) {
    row.push(f.local('i32'));
    if (gather) {
      f.get(P.x)
        .get(P.rs)
        .i32Load(4 * r)
        .i32Add()
        .set(row[r]);
    } else {
      f.get(P.x).get(P.rs).i32(r).i32Mul().i32Add().set(row[r]);
    }
  }
  const q = f.local('i32');
  // gather: q = ksTab[p] at the pointer ks, which advances by 4; dense: q = p·ks
  const loadQ = (): void => {
    if (gather) {
      f.get(P.ks).i32Load().set(q);
    }
  };
  const nextQ = (steps: number): void => {
    if (gather) {
      f.inc(P.ks, 4 * steps);
    } else {
      for (let s = 0; s < steps; s++) {
        f.incBy(q, P.ks);
      }
    }
  };
  if (!gather) {
    f.i32(0).set(q);
  }
  // one element per row at step p, then the next step
  const single = (): void => {
    for (let r = 0; r < mr; r++) {
      f.get(P.out)
        .get(row[r])
        .get(q)
        .i32Add()
        .f32Load()
        .f32Store(4 * r);
    }
    f.inc(P.out, 4 * mr).inc(P.kc, -1);
    nextQ(1);
  };
  if (mr === 1) {
    f.block().loop();
    f.get(P.kc).i32Eqz().brIf(1);
    loadQ();
    single();
    f.br(0).end().end();
    return f;
  }
  // rows adjacent: one vector per step
  f.get(row[1])
    .get(row[0])
    .i32Sub()
    .i32(4)
    .i32Eq()
    .get(row[2])
    .get(row[0])
    .i32Sub()
    .i32(8)
    .i32Eq()
    .i32And()
    .get(row[3])
    .get(row[0])
    .i32Sub()
    .i32(12)
    .i32Eq()
    .i32And()
    .if();
  f.block().loop();
  f.get(P.kc).i32Eqz().brIf(1);
  loadQ();
  f.get(P.out).get(row[0]).get(q).i32Add().v128Load().v128Store();
  f.inc(P.out, 16).inc(P.kc, -1);
  nextQ(1);
  f.br(0).end().end();
  f.else();
  const v = [f.local('v128'), f.local('v128'), f.local('v128'), f.local('v128')];
  const t = [f.local('v128'), f.local('v128'), f.local('v128'), f.local('v128')];
  const four = f.local('i32');
  f.block().loop();
  f.get(P.kc).i32Eqz().brIf(1);
  loadQ();
  // four = kc ≥ 4 and steps p…p+3 adjacent: ksTab[p + s] = q + 4s for s = 1, 2, 3 (the table
  // is read only when kc ≥ 4), or ks = 4 (dense)
  f.i32(0).set(four);
  f.get(P.kc).i32(4).i32GeS().if();
  if (gather) {
    for (let s = 1; s < 4; s++) {
      f.get(P.ks)
        .i32Load(4 * s)
        .get(q)
        .i32Sub()
        .i32(4 * s)
        .i32Eq();
      if (s > 1) {
        f.i32And();
      }
    }
  } else {
    f.get(P.ks).i32(4).i32Eq();
  }
  f.set(four).end();
  f.get(four).if();
  for (let r = 0; r < 4; r++) {
    f.get(row[r]).get(q).i32Add().v128Load().set(v[r]);
  }
  // rows r = [r_p0 r_p1 r_p2 r_p3] → steps s = [0_s 1_s 2_s 3_s]
  f.transpose4(
    v,
    t,
    () => f.get(P.out),
    (j) => f.v128Store(16 * j),
  );
  f.inc(P.out, 64).inc(P.kc, -4);
  nextQ(4);
  f.else();
  single();
  f.end();
  f.br(0).end().end();
  f.end();
  return f;
}

/**
 * gemmG(x, rsTab, ksTab, b, ldb, c, ldc, m, n, k, bias, relu, tail, panel) ('gather'): C =
 * act(A·B + bias) with A[i, p] = f32 at x + rsTab[i] + ksTab[p] (see ./windows.ts);
 * gemmP(a, rsA, ksA, …, panel) ('dense'): the same with A[i, p] at a + i·rsA + p·ksA; both
 * through a packing panel of packBytes(kc) bytes at `panel` (the calling thread's own).
 * Pointers and strides in bytes. When n ≤ `tileCols` (one column tile) the unpacked driver
 * `unpacked` (same arguments but the panel) reads A in place instead: each A element is then
 * used once, so a packed copy cannot pay. So does panel = 0: the caller's choice where A would
 * be packed one element at a time (a copy that costs about what it saves).
 * For each chunk of `kc` steps of k (in order): for each tile of `mr` rows (mr, then 1): pack,
 * then the column tiles (8 columns, then 5–7 as one tile when `tail` allows over-reading B and
 * the bias by up to 12 bytes, then 4, then 1–3 likewise, then single columns).
 */
export function gemmPackedFn(
  source: PanelSource,
  kcMax: number,
  mr: number,
  tileCols: number,
  unpacked: number,
  pack: (mr: 1 | 4) => number,
  packedTile: (mr: number, nv: number, lanes: number) => number,
): FnBuilder {
  const P = { x: 0, rs: 1, ks: 2, b: 3, ldb: 4, c: 5, ldc: 6, m: 7, n: 8, k: 9, bias: 10, relu: 11, tail: 12, panel: 13 }; // prettier-ignore
  const f = new FnBuilder(source === 'gather' ? 'gemmG' : 'gemmP', new Array<ValType>(14).fill('i32')); // prettier-ignore
  const [j, i, pc, kc, first, last, blocks] = [0, 0, 0, 0, 0, 0, 0].map(() => f.local('i32'));
  // one column tile (every A element is used once, packing would only add a copy), or no panel
  f.get(P.n).i32(tileCols).i32LeS().get(P.panel).i32Eqz().i32Or().if();
  for (let a = 0; a < 13; a++) {
    f.get(a);
  }
  f.call(unpacked).return().end();
  f.i32(0).set(pc);
  // chunks of k (at least one, so k = 0 still writes act(0 + bias))
  f.loop();
  f.get(P.k).get(pc).i32Sub().set(kc);
  f.get(kc).i32(kcMax).i32GtS().if().i32(kcMax).set(kc).end();
  f.get(pc).i32Eqz().set(first);
  f.get(pc).get(kc).i32Add().get(P.k).i32GeS().set(last);
  f.i32(0).set(i);
  for (const rows of [mr, 1]) {
    const emit = (nv: number, lanes = 4): void => {
      f.get(P.panel).i32(0).i32(0);
      pushTileArgs(f, P, { i, j, pc, kc, first, last });
      // whole 8-column tiles in one call, else one tile
      if (nv === 2 && lanes === 4) {
        f.get(P.n).get(j).i32Sub().i32(3).i32ShrS().tee(blocks);
      } else {
        f.i32(1);
      }
      f.call(packedTile(rows, nv, lanes));
      if (nv === 2 && lanes === 4) {
        f.get(j).get(blocks).i32(3).i32Shl().i32Add().i32(8).i32Sub().set(j);
      }
    };
    f.block().loop();
    f.get(P.m).get(i).i32Sub().i32(rows).i32LtS().brIf(1);
    if (source === 'gather') {
      // x, rsTab + 4i, ksTab + 4pc
      f.get(P.x).get(P.rs).get(i).i32(4).i32Mul().i32Add();
      f.get(P.ks).get(pc).i32(4).i32Mul().i32Add();
    } else {
      // a + i·rsA + pc·ksA, rsA, ksA
      f.get(P.x).get(i).get(P.rs).i32Mul().i32Add().get(pc).get(P.ks).i32Mul().i32Add();
      f.get(P.rs).get(P.ks);
    }
    f.get(kc)
      .get(P.panel)
      .call(pack(rows === 1 ? 1 : 4));
    walkGemmColumns(f, j, P.n, P.tail, emit);
    f.inc(i, rows).br(0);
    f.end().end();
  }
  f.incBy(pc, kc);
  f.get(pc).get(P.k).i32LtS().brIf(0);
  f.end();
  return f;
}
