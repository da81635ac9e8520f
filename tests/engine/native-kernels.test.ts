/**
 * The native kernels (src/main/engine/kernels/native/kernels.c, loaded by native.ts) give their
 * wasm twins' bits, with the dense tiles of every instruction set the CPU runs (AVX2, AVX-512):
 * the dense gemm on A as rows or transposed, A and B with NaN, ±Inf,
 * subnormals, every row remainder and column tail, k = 0, with and without bias and ReLU, C
 * strided; the gathered GEMM of convolutions (gemmG: A read through row and column tables, as
 * wasm reads it in place and packed, and as im2col + gemm); the batch gather with its compressed rows (gatherRowsCsr: the same floats, rows and
 * entries, byte for byte); gemmCsr on compressed rows of every layout (csrRows's compact rows,
 * csrCols's and csrTranspose's slots), A with NaN, ±Inf, subnormals and products that underflow,
 * every column tile and every 1–7 column tail, with and without bias and ReLU, C strided (nothing
 * written past a row's n columns); on a plain and a shared memory, on the calling thread, in the
 * sparse GEMM (WasmSparseGemm) and on worker threads; the floats alone (gatherRows); the
 * optimizers' updates (sgd, momentum, adam: every tail, specials, states through 2⁻⁶⁰ and the
 * subnormals, the finite flag; split into chunks on worker threads); an operand outside the
 * memory is a RangeError, as the wasm kernel traps. Training gives the same stateHash with the native kernels
 * as without them (LOCKSTEP_NATIVE=0), on one thread and on two.
 *
 * Where the kernels cannot be built or run (no C compiler, not x86-64 with AVX2) the tests skip
 * and say why — except in CI, which installs a compiler (.ci/run): there they fail.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { nativeKernels, nativeKernelsFor, nativeStatus, type NativeIsa, type NativeKernels } from '../../src/main/engine/kernels/native'; // prettier-ignore
import { WasmSparseGemm } from '../../src/main/engine/kernels/sparse';
import { GemmPool, Kernel, UPDATE_GRANULE } from '../../src/main/engine/kernels/threads';
import { PANEL_BYTES, ROW_BYTES } from '../../src/main/engine/kernels/wasm-module';
import { compressTable } from '../../src/main/engine/kernels/wasm-sparse';
import { ROOT } from '../helpers/cli';
import { useTempDir } from '../helpers/fixtures';
import { finiteB, lcg } from '../helpers/random';
import { firstDifference, wasmSandbox, type WasmSandbox } from '../helpers/wasm-sandbox';

/** The native kernels, or null having skipped the test with the reason (failing it in CI). */
function nativeOrSkip(t: TestContext): NativeKernels | null {
  const k = nativeKernels();
  if (k === null) {
    const why = nativeStatus().detail;
    assert.ok(process.env.CI === undefined, `CI installs a C compiler, yet: ${why}`);
    t.skip(why);
  }
  return k;
}

/**
 * The native kernels with the dense tiles of every instruction set this CPU runs (AVX2 first);
 * none (the test skipped, see nativeOrSkip) where they do not run.
 */
function everyIsaOrSkip(t: TestContext): [NativeIsa, NativeKernels][] {
  if (nativeOrSkip(t) === null) {
    return [];
  }
  return (['avx2', 'avx512'] as const).flatMap((isa) => {
    const k = nativeKernelsFor(isa);
    return k === null ? [] : [[isa, k] as [NativeIsa, NativeKernels]];
  });
}

/**
 * C from a native kernel (`x`) equals wasm's (`w`) bit for bit, and its rows' columns past n (C's
 * rows are ldc apart) still hold the `guard` they held before.
 */
function assertSameC(
  x: Float32Array,
  w: Float32Array,
  guard: Float32Array,
  m: number,
  n: number,
  ldc: number,
  what: string,
): void {
  // prettier-ignore
  assert.equal(firstDifference(x, w), -1, what);
  for (let i = 0; i < m; i++) {
    const past = firstDifference(x.subarray(i * ldc + n, (i + 1) * ldc), guard.subarray(i * ldc + n, (i + 1) * ldc)); // prettier-ignore
    assert.equal(past, -1, `${what}: row ${i} written past column ${n}`);
  }
}

const SPECIAL = [NaN, Infinity, -Infinity, 1e-40, -3e-39, 1e-30, 3.4e38, -0];

/** m × k with about 75 % zeros (±0) and a sprinkling of special values. */
function sparseA(len: number, rnd: () => number): Float32Array {
  return Float32Array.from({ length: len }, () => {
    const u = rnd();
    if (u < 0.75) {
      return rnd() < 0.5 ? 0 : -0;
    }
    if (u > 0.97) {
      return SPECIAL[Math.floor(rnd() * SPECIAL.length)];
    }
    return (rnd() - 0.5) * (rnd() < 0.1 ? 1e-30 : 2);
  });
}

/** Compressed rows of an m × k A in `sb` (its rows, or its transpose's columns), idx scaled to B's row stride. */
function compressed(
  sb: WasmSandbox,
  a: Float32Array,
  m: number,
  k: number,
  layout: 'rows' | 'cols' | 'transpose',
  ldbBytes: number,
): { rowPtr: number; idx: number; columns: number; val: number } {
  const room = 4 * m * k + 64;
  const [rowPtr, idx, val, out, tab] = [sb.alloc(8 * m), sb.alloc(room), sb.alloc(room), sb.alloc(16), sb.put(compressTable())]; // prettier-ignore
  if (layout === 'rows') {
    sb.k.csrRows(sb.put(a), 4 * k, m, k, rowPtr, idx, val, out, tab);
  } else {
    // M = Aᵀ (k × m, rows contiguous)
    const t = new Float32Array(k * m);
    for (let i = 0; i < m; i++) {
      for (let p = 0; p < k; p++) {
        t[p * m + i] = a[i * k + p];
      }
    }
    if (layout === 'cols') {
      sb.k.csrCols(sb.put(t), 4 * m, m, k, rowPtr, idx, val, out);
    } else {
      const [rp, ix, vl] = [sb.alloc(8 * k), sb.alloc(room), sb.alloc(room)];
      sb.k.csrRows(sb.put(t), 4 * m, k, m, rp, ix, vl, out, tab);
      sb.k.csrTranspose(rp, ix, vl, k, m, rowPtr, idx, val);
    }
  }
  const scaled = sb.alloc(room);
  sb.k.scaleIdx(rowPtr, m, idx, scaled, ldbBytes);
  return { rowPtr, idx: scaled, columns: idx, val };
}

/**
 * n: every column tile of the native kernels (8 or 16 lanes: 8·8, 8·4, 8·2, 8 or 16·8, 16·4, 16·2,
 * 16 columns) and every tail of 1–7 or 1–15, and the MLP's widths.
 */
const WIDTHS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 23, 31, 32, 33, 47, 63, 64, 65, 100, 120, 127, 128, 129, 200, 255]; // prettier-ignore

test('native gemmCsr = wasm gemmCsr bit for bit: every layout, tile and tail, bias and ReLU, on a plain and a shared memory', (t) => {
  const isas = everyIsaOrSkip(t);
  if (isas.length === 0) {
    return;
  }
  const rnd = lcg(11);
  let compared = 0;
  for (const shared of [false, true]) {
    for (const n of WIDTHS) {
      const sb = wasmSandbox(256, shared);
      const [m, k] = [1 + Math.floor(rnd() * 12), 1 + Math.floor(rnd() * 40)];
      const a = sparseA(m * k, rnd);
      // B's rows and C's rows wider than n: the columns past n must stay untouched
      const [ldb, ldc] = [n + 3, n + 5];
      const b = sb.put(finiteB(k * ldb, rnd));
      const bias = sb.put(finiteB(n, rnd));
      for (const layout of ['rows', 'cols', 'transpose'] as const) {
        const r = compressed(sb, a, m, k, layout, 4 * ldb);
        for (const [withBias, relu] of [
          [false, false],
          [true, true],
          [true, false],
          [false, true],
        ] as const) {
          // prettier-ignore
          const what = `m=${m} n=${n} k=${k} ${layout} bias=${withBias} relu=${relu} shared=${shared}`;
          const guard = finiteB(m * ldc, rnd);
          const c1 = sb.put(guard);
          sb.k.gemmCsr(r.rowPtr, r.idx, r.val, b, c1, 4 * ldc, m, n, withBias ? bias : 0, relu ? 1 : 0, 0); // prettier-ignore
          const w = sb.f32(c1, m * ldc);
          for (const [isa, kernels] of isas) {
            const c2 = sb.put(guard);
            kernels.gemmCsr(sb.buffer(), r.rowPtr, r.idx, r.val, b, c2, 4 * ldc, m, n, withBias ? bias : 0, relu ? 1 : 0, 0); // prettier-ignore
            assertSameC(sb.f32(c2, m * ldc), w, guard, m, n, ldc, `${isa}: ${what}`);
            // A's column numbers, B's rows 4·ldb bytes apart: no scaleIdx
            const c3 = sb.put(guard);
            kernels.gemmCsr(sb.buffer(), r.rowPtr, r.columns, r.val, b, c3, 4 * ldc, m, n, withBias ? bias : 0, relu ? 1 : 0, 4 * ldb); // prettier-ignore
            assertSameC(
              sb.f32(c3, m * ldc),
              w,
              guard,
              m,
              n,
              ldc,
              `${isa}, column numbers: ${what}`,
            );
            compared++;
          }
        }
      }
    }
  }
  assert.equal(compared, isas.length * 2 * WIDTHS.length * 3 * 4);
});

test('native gemm = wasm gemm bit for bit: A as rows or transposed, specials, every row remainder and column tail, bias and ReLU', (t) => {
  const isas = everyIsaOrSkip(t);
  if (isas.length === 0) {
    return;
  }
  const rnd = lcg(13);
  const values = (len: number): Float32Array =>
    Float32Array.from({ length: len }, () => (rnd() < 0.03 ? SPECIAL[Math.floor(rnd() * SPECIAL.length)] : (rnd() - 0.5) * (rnd() < 0.1 ? 1e-30 : 2))); // prettier-ignore
  let compared = 0;
  for (const shared of [false, true]) {
    for (const n of WIDTHS) {
      const sb = wasmSandbox(512, shared);
      // k = 3000: in chunks of k (partial sums held in C) wherever B's rows pass 128 KiB
      for (const [m, k] of [
        [1 + Math.floor(rnd() * 9), Math.floor(rnd() * 40)],
        [4, 1],
        [7, 0],
        [6, 3000],
      ]) {
        for (const transA of [false, true]) {
          const [ldb, ldc] = [n + 2, n + 5];
          const a = sb.put(values(m * k));
          const b = sb.put(values(k * ldb));
          const bias = sb.put(values(n));
          const [rsA, ksA] = transA ? [4, 4 * m] : [4 * k, 4];
          for (const [withBias, relu] of [
            [false, false],
            [true, true],
            [true, false],
            [false, true],
          ] as const) {
            // prettier-ignore
            const what = `m=${m} n=${n} k=${k} transA=${transA} bias=${withBias} relu=${relu} shared=${shared}`;
            const guard = values(m * ldc);
            const c1 = sb.put(guard);
            sb.k.gemm(a, rsA, ksA, b, 4 * ldb, c1, 4 * ldc, m, n, k, withBias ? bias : 0, relu ? 1 : 0, 0); // prettier-ignore
            const w = sb.f32(c1, m * ldc);
            for (const [isa, kernels] of isas) {
              const c2 = sb.put(guard);
              kernels.gemm(sb.buffer(), a, rsA, ksA, b, 4 * ldb, c2, 4 * ldc, m, n, k, withBias ? bias : 0, relu ? 1 : 0); // prettier-ignore
              assertSameC(sb.f32(c2, m * ldc), w, guard, m, n, ldc, `${isa}: ${what}`);
              compared++;
            }
          }
        }
      }
    }
  }
  assert.equal(compared, isas.length * 2 * WIDTHS.length * 4 * 2 * 4);
});

test('native gemmG = wasm gemmG (in place and packed) bit for bit: A read through offset tables, every remainder and tail', (t) => {
  const isas = everyIsaOrSkip(t);
  if (isas.length === 0) {
    return;
  }
  const rnd = lcg(19);
  const sb = wasmSandbox(256);
  let compared = 0;
  for (const [m, n, k, adjacent] of [
    [1, 1, 1, false],
    [5, 7, 3, false],
    [9, 16, 12, true],
    [13, 37, 40, true],
    [64, 24, 300, true],
    [7, 65, 600, false],
    [6, 47, 50, true],
  ] as const) {
    // an "image" of floats and tables of byte offsets into it: rows anywhere, steps of k in runs
    // of 4 adjacent floats (a convolution's channels) when `adjacent`, else anywhere
    const floats = 4096;
    const x = sb.put(Float32Array.from({ length: floats }, () => (rnd() < 0.03 ? SPECIAL[Math.floor(rnd() * SPECIAL.length)] : (rnd() - 0.5) * 2))); // prettier-ignore
    const rowTab = sb.put(Int32Array.from({ length: m }, () => 4 * Math.floor(rnd() * 1024)));
    const kTab = sb.put(Int32Array.from({ length: k }, (_, p) => (adjacent ? 4 * ((p % 4) + 8 * Math.floor(p / 4)) : 4 * Math.floor(rnd() * 3000)))); // prettier-ignore
    const b = sb.put(finiteB(k * n, rnd));
    const bias = sb.put(finiteB(n, rnd));
    const panel = sb.alloc(PANEL_BYTES);
    for (const [withBias, relu] of [
      [false, false],
      [true, true],
    ] as const) {
      const what = `m=${m} n=${n} k=${k} adjacent=${adjacent} bias=${withBias} relu=${relu}`;
      const [c0, c1] = [sb.alloc(4 * m * n), sb.alloc(4 * m * n)];
      sb.k.gemmG(x, rowTab, kTab, b, 4 * n, c0, 4 * n, m, n, k, withBias ? bias : 0, relu ? 1 : 0, 0, 0); // prettier-ignore
      sb.k.gemmG(x, rowTab, kTab, b, 4 * n, c1, 4 * n, m, n, k, withBias ? bias : 0, relu ? 1 : 0, 0, panel); // prettier-ignore
      assert.equal(firstDifference(sb.f32(c1, m * n), sb.f32(c0, m * n)), -1, `wasm packed = in place, ${what}`); // prettier-ignore
      for (const [isa, kernels] of isas) {
        const c2 = sb.alloc(4 * m * n);
        kernels.gemmG(sb.buffer(), x, rowTab, kTab, b, 4 * n, c2, 4 * n, m, n, k, withBias ? bias : 0, relu ? 1 : 0); // prettier-ignore
        assert.equal(firstDifference(sb.f32(c2, m * n), sb.f32(c0, m * n)), -1, `${isa}: ${what}`);
        compared++;
      }
    }
  }
  assert.equal(compared, isas.length * 14);
  // a table entry pointing past the memory
  const far = sb.put(Int32Array.of(sb.buffer().byteLength));
  const c = sb.alloc(64);
  for (const [isa, kernels] of isas) {
    assert.throws(() => kernels.gemmG(sb.buffer(), 0, far, far, c, 4, c, 4, 1, 1, 1, 0, 0), RangeError, isa); // prettier-ignore
  }
});

test('native gatherRowsCsr = wasm gatherRowsCsr byte for byte: the floats, the compressed rows, the total; gatherRows the floats', (t) => {
  const native = nativeOrSkip(t);
  if (native === null) {
    return;
  }
  const sb = wasmSandbox(64);
  const rnd = lcg(17);
  // images: black, white, one pixel in each position of a group of eight, sparse and dense noise
  const images: Uint8Array[] = [new Uint8Array(ROW_BYTES), new Uint8Array(ROW_BYTES).fill(255)];
  for (let l = 0; l < 8; l++) {
    images.push(Uint8Array.from({ length: ROW_BYTES }, (_, i) => (i % 8 === l ? 1 + ((i * 37) % 255) : 0))); // prettier-ignore
  }
  for (const density of [0.05, 0.2, 0.5, 0.95]) {
    images.push(Uint8Array.from({ length: ROW_BYTES }, () => (rnd() < density ? Math.floor(rnd() * 256) : 0))); // prettier-ignore
  }
  const pixels = new Uint8Array(images.length * ROW_BYTES);
  images.forEach((img, i) => pixels.set(img, i * ROW_BYTES));
  const p = sb.put(pixels);
  const tab = sb.put(compressTable());
  const bytes = (at: number, n: number): Uint8Array =>
    new Uint8Array(sb.buffer().slice(at, at + n));
  for (const n of [0, 1, 5, 14, 40]) {
    const indices = Int32Array.from({ length: n }, (_, r) => (r < images.length ? r : Math.floor(rnd() * images.length))); // prettier-ignore
    const at = sb.put(indices);
    const [w, x] = [0, 1].map(() => {
      const room = 4 * n * ROW_BYTES + 32;
      return { out: sb.alloc(4 * n * ROW_BYTES), rowPtr: sb.alloc(8 * n), idx: sb.alloc(room), val: sb.alloc(room), total: sb.alloc(4) }; // prettier-ignore
    });
    sb.k.gatherRowsCsr(p, at, n, w.out, w.rowPtr, w.idx, w.val, w.total, tab);
    native.gatherRowsCsr(sb.buffer(), p, at, n, x.out, x.rowPtr, x.idx, x.val, x.total, 0);
    // the floats alone (gatherRows): the same bytes as either kernel's
    const [f1, f2] = [sb.alloc(4 * n * ROW_BYTES), sb.alloc(4 * n * ROW_BYTES)];
    sb.k.gatherRows(p, at, n, f1);
    native.gatherRows(sb.buffer(), p, at, n, f2);
    assert.deepEqual(bytes(f2, 4 * n * ROW_BYTES), bytes(w.out, 4 * n * ROW_BYTES), `n=${n}: gatherRows`); // prettier-ignore
    assert.deepEqual(bytes(f1, 4 * n * ROW_BYTES), bytes(w.out, 4 * n * ROW_BYTES), `n=${n}: wasm gatherRows`); // prettier-ignore
    const total = new Int32Array(sb.buffer(), w.total, 1)[0];
    // the entries from byte `first` on (a band of rows split across threads): the same floats,
    // the same entries there, rowPtr's offsets from idx moved by `first`
    const first = 4 * ROW_BYTES * 3;
    const y = { out: sb.alloc(4 * n * ROW_BYTES), rowPtr: sb.alloc(8 * n), idx: sb.alloc(first + 4 * n * ROW_BYTES + 32), val: sb.alloc(first + 4 * n * ROW_BYTES + 32), total: sb.alloc(4) }; // prettier-ignore
    native.gatherRowsCsr(sb.buffer(), p, at, n, y.out, y.rowPtr, y.idx, y.val, y.total, first);
    assert.equal(new Int32Array(sb.buffer(), y.total, 1)[0], first + total, `n=${n}, first: total`);
    assert.deepEqual(bytes(y.out, 4 * n * ROW_BYTES), bytes(w.out, 4 * n * ROW_BYTES), `n=${n}, first: floats`); // prettier-ignore
    assert.deepEqual(Array.from(new Int32Array(sb.buffer(), y.rowPtr, 2 * n)), Array.from(new Int32Array(sb.buffer(), w.rowPtr, 2 * n)).map((e) => e + first), `n=${n}, first: rowPtr`); // prettier-ignore
    assert.deepEqual(bytes(y.idx + first, total), bytes(w.idx, total), `n=${n}, first: columns`);
    assert.deepEqual(bytes(y.val + first, total), bytes(w.val, total), `n=${n}, first: values`);
    assert.equal(new Int32Array(sb.buffer(), x.total, 1)[0], total, `n=${n}: total`);
    assert.deepEqual(
      bytes(x.out, 4 * n * ROW_BYTES),
      bytes(w.out, 4 * n * ROW_BYTES),
      `n=${n}: floats`,
    );
    assert.deepEqual(bytes(x.rowPtr, 8 * n), bytes(w.rowPtr, 8 * n), `n=${n}: rowPtr`);
    assert.deepEqual(bytes(x.idx, total), bytes(w.idx, total), `n=${n}: columns`);
    assert.deepEqual(bytes(x.val, total), bytes(w.val, total), `n=${n}: values`);
  }
  // an index past the pixels' memory
  const far = sb.put(Int32Array.of(1 << 30));
  const o = sb.alloc(4 * ROW_BYTES + 64);
  assert.throws(() => native.gatherRowsCsr(sb.buffer(), p, far, 1, o, o, o, o, o, 0), RangeError);
  assert.throws(() => native.gatherRows(sb.buffer(), p, far, 1, o), RangeError);
  // entries from a `first` past the memory, or before idx
  const one = sb.put(Int32Array.of(0));
  const size = sb.buffer().byteLength;
  assert.throws(() => native.gatherRowsCsr(sb.buffer(), p, one, 1, o, o, o, o, o, size), RangeError); // prettier-ignore
  assert.throws(() => native.gatherRowsCsr(sb.buffer(), p, one, 1, o, o, o, o, o, -4), RangeError); // prettier-ignore
});

/** The int32 bits of float32(x) (native sgd takes lr so). */
const f32Bits = (x: number): number => new Int32Array(Float32Array.of(x).buffer)[0];

test('native sgd = wasm sgd bit for bit: every tail, NaN, ±Inf, subnormals, and the finite flag', (t) => {
  const native = nativeOrSkip(t);
  if (native === null) {
    return;
  }
  const sb = wasmSandbox(256);
  const rnd = lcg(23);
  const value = (): number =>
    rnd() < 0.1 ? SPECIAL[Math.floor(rnd() * SPECIAL.length)] : (rnd() - 0.5) * 4;
  let flagged = 0;
  for (const n of [...Array.from({ length: 34 }, (_, i) => i), 100, 100352]) {
    for (const [lr, specials] of [
      [0.01, false],
      [0.01, true],
      [3.5, true],
      [1e-39, true],
    ] as const) {
      const w = Float32Array.from({ length: n }, () => (specials ? value() : (rnd() - 0.5) * 2));
      const g = Float32Array.from({ length: n }, () => (specials ? value() : (rnd() - 0.5) * 1e-2));
      const [wo, go] = [sb.put(w), sb.put(g)];
      const [o1, o2, f1, f2] = [sb.alloc(4 * n), sb.alloc(4 * n), sb.alloc(4), sb.alloc(4)];
      sb.k.sgd(wo, go, o1, n, lr, f1);
      native.sgd(sb.buffer(), wo, go, o2, n, f32Bits(lr), f2);
      const what = `n=${n}, lr=${lr}${specials ? ', specials' : ''}`;
      assert.equal(firstDifference(sb.f32(o2, n), sb.f32(o1, n)), -1, what);
      const [flag1, flag2] = [sb.f32(f1, 1)[0], sb.f32(f2, 1)[0]];
      assert.equal(Number.isNaN(flag2), Number.isNaN(flag1), `${what}: the finite flag`);
      assert.ok(Number.isNaN(flag1) || flag1 === 0, `${what}: the flag is NaN or ±0`);
      flagged += Number.isNaN(flag1) ? 1 : 0;
    }
  }
  assert.ok(flagged > 10, 'inputs that made a weight non-finite were among them');
  assert.throws(() => native.sgd(sb.buffer(), 1024, 1024, sb.buffer().byteLength - 8, 4, f32Bits(1), 1024), RangeError); // prettier-ignore
  assert.throws(() => native.sgd(sb.buffer(), 1024, 1024, 1024, 4, f32Bits(1), -4), RangeError);
});

test('native momentum and adam = wasm bit for bit: every tail, specials, states through the subnormals (their float64 path)', (t) => {
  const native = nativeOrSkip(t);
  if (native === null) {
    return;
  }
  const sb = wasmSandbox(512);
  const rnd = lcg(29);
  // a state: normal, or near 2⁻⁶⁰ (either side), subnormal, ±0, or special (the float64 path
  // takes a group of 8 with a nonzero magnitude below 2⁻⁶⁰)
  const state = (tiny: number): number => {
    const u = rnd();
    if (u < tiny) {
      const mags = [2 ** -60 * (1 - 2 ** -20), 2 ** -60, 2 ** -61, 1e-40, 1.4e-45, 3e-39, 1e-20];
      return (rnd() < 0.5 ? -1 : 1) * mags[Math.floor(rnd() * mags.length)];
    }
    if (u < tiny + 0.05) {
      return SPECIAL[Math.floor(rnd() * SPECIAL.length)];
    }
    return (rnd() - 0.5) * 1e-2;
  };
  const vec = (n: number, f: () => number): number => sb.put(Float32Array.from({ length: n }, f));
  const flagOf = (p: number): number => sb.f32(p, 1)[0];
  let paths = 0;
  for (const n of [...Array.from({ length: 26 }, (_, i) => i), 100, 4099]) {
    for (const tiny of [0, 0.02, 0.5]) {
      const what = `n=${n}, tiny=${tiny}`;
      const w = vec(n, () =>
        rnd() < 0.02 ? SPECIAL[Math.floor(rnd() * SPECIAL.length)] : rnd() - 0.5,
      );
      const g = vec(n, () => state(tiny));
      // momentum: acc through the subnormals
      const acc = vec(n, () => state(tiny));
      const [mw, ma, nw, na, mf, nf] = [4 * n, 4 * n, 4 * n, 4 * n, 4, 4].map((b) => sb.alloc(b));
      sb.k.momentum(w, g, acc, mw, ma, n, 0.05, 0.9, mf);
      native.momentum(sb.buffer(), w, g, acc, nw, na, n, f32Bits(0.05), f32Bits(0.9), nf);
      assert.equal(firstDifference(sb.f32(nw, n), sb.f32(mw, n)), -1, `momentum w, ${what}`);
      assert.equal(firstDifference(sb.f32(na, n), sb.f32(ma, n)), -1, `momentum acc, ${what}`);
      assert.equal(Number.isNaN(flagOf(nf)), Number.isNaN(flagOf(mf)), `momentum flag, ${what}`);
      // adam: m and v through the subnormals, the scalars of step 3 at lr 0.01
      const m = vec(n, () => state(tiny));
      const v = vec(n, () => Math.abs(state(tiny)));
      const [lr, b1, b2, eps] = [0.01, 0.9, 0.999, 1e-8];
      const sc = sb.put(Float32Array.of((lr * Math.sqrt(1 - b2 ** 3)) / (1 - b1 ** 3), b1, b2, 1 - b1, 1 - b2, eps)); // prettier-ignore
      const s = sb.f32(sc, 6);
      const outs = Array.from({ length: 8 }, (_, i) => sb.alloc(i % 4 === 3 ? 4 : 4 * n));
      const [aw, am, av, af, xw, xm, xv, xf] = outs;
      sb.k.adam(w, g, m, v, aw, am, av, n, s[0], s[1], s[2], s[3], s[4], s[5], af);
      native.adam(sb.buffer(), w, g, m, v, xw, xm, xv, n, sc, xf);
      assert.equal(firstDifference(sb.f32(xw, n), sb.f32(aw, n)), -1, `adam w, ${what}`);
      assert.equal(firstDifference(sb.f32(xm, n), sb.f32(am, n)), -1, `adam m, ${what}`);
      assert.equal(firstDifference(sb.f32(xv, n), sb.f32(av, n)), -1, `adam v, ${what}`);
      assert.equal(Number.isNaN(flagOf(xf)), Number.isNaN(flagOf(af)), `adam flag, ${what}`);
      paths += tiny > 0 && n >= 8 ? 1 : 0;
    }
  }
  assert.ok(paths > 0);
  assert.throws(() => native.momentum(sb.buffer(), 1024, 1024, 1024, 1024, sb.buffer().byteLength - 8, 4, 0, 0, 1024), RangeError); // prettier-ignore
  assert.throws(() => native.adam(sb.buffer(), 1024, 1024, 1024, 1024, 1024, 1024, 1024, 4, sb.buffer().byteLength - 20, 1024), RangeError); // prettier-ignore
});

test('the sparse GEMM runs the native kernel when given it, with the bits of the wasm kernel', (t) => {
  const native = nativeOrSkip(t);
  if (native === null) {
    return;
  }
  const sb = wasmSandbox(512);
  const heap = { malloc: (bytes: number) => sb.alloc(bytes), free: () => {} };
  let calls = 0;
  const counted: NativeKernels = {
    file: native.file,
    isa: native.isa,
    gemm: (...args) => native.gemm(...args),
    gatherRowsCsr: (...args) => native.gatherRowsCsr(...args),
    gatherRows: (...args) => native.gatherRows(...args),
    gemmG: (...args) => native.gemmG(...args),
    sgd: (...args) => native.sgd(...args),
    momentum: (...args) => native.momentum(...args),
    adam: (...args) => native.adam(...args),
    gemmCsr: (...args) => {
      calls++;
      native.gemmCsr(...args);
    },
  };
  const rnd = lcg(3);
  const [m, n, k] = [100, 128, 784];
  const a = sb.put(sparseA(m * k, rnd));
  const b = sb.put(finiteB(k * n, rnd));
  const [c1, c2] = [sb.alloc(4 * m * n), sb.alloc(4 * m * n)];
  assert.ok(new WasmSparseGemm(sb.k, heap, sb.buffer).gemm(a, k, 1, b, n, c1, n, m, n, k, 0, true, 1)); // prettier-ignore
  assert.equal(calls, 0);
  assert.ok(new WasmSparseGemm(sb.k, heap, sb.buffer, () => null, counted).gemm(a, k, 1, b, n, c2, n, m, n, k, 0, true, 1)); // prettier-ignore
  assert.equal(calls, 1, 'the native kernel ran');
  assert.equal(firstDifference(sb.f32(c2, m * n), sb.f32(c1, m * n)), -1);
});

test('an operand outside the memory is a RangeError, not a crash', (t) => {
  const native = nativeOrSkip(t);
  if (native === null) {
    return;
  }
  const sb = wasmSandbox(16);
  const rnd = lcg(9);
  const [m, n, k] = [4, 16, 8];
  const a = sparseA(m * k, rnd);
  a[0] = 1; // row 0 has an entry
  const b = sb.put(finiteB(k * n, rnd));
  const r = compressed(sb, a, m, k, 'rows', 4 * n);
  const c = sb.alloc(4 * m * n);
  const size = sb.buffer().byteLength;
  const run = (over: Partial<Record<'b' | 'c' | 'bias' | 'rowPtr' | 'm', number>>): void =>
    native.gemmCsr(sb.buffer(), over.rowPtr ?? r.rowPtr, r.idx, r.val, over.b ?? b, over.c ?? c, 4 * n, over.m ?? m, n, over.bias ?? 0, 0, 0); // prettier-ignore
  run({});
  for (const [what, over] of [
    ["B's rows past the end", { b: size - 8 }],
    ["C's rows past the end", { c: size - 4 * n }],
    ['the bias past the end', { bias: size - 8 }],
    ['rowPtr past the end', { rowPtr: size - 8 }],
    ['a negative row count', { m: -1 }],
  ] as const) {
    assert.throws(() => run(over), RangeError, what);
  }
  // the dense GEMM: A, B, C or the bias reaching past the end, or before the start
  const dense = (over: Partial<Record<'a' | 'rsA' | 'b' | 'c' | 'bias', number>>): void =>
    native.gemm(sb.buffer(), over.a ?? b, over.rsA ?? 4 * n, 4, b, 4 * n, c, 4 * n, m, n, k, over.bias ?? 0, 0); // prettier-ignore
  dense({});
  for (const [what, over] of [
    ['A past the end', { a: size - 64 }],
    ['A before the start (a negative stride)', { rsA: -4 * n * 8 }],
    ['the bias past the end', { bias: size - 8 }],
  ] as const) {
    assert.throws(() => dense(over), RangeError, `gemm: ${what}`);
  }
  // an entry's row of B outside the memory
  const idx = new Int32Array(sb.buffer(), r.idx, 1);
  idx[0] = size;
  assert.throws(() => run({}), RangeError, 'an entry past the end');
  idx[0] = -(b + 4);
  assert.throws(() => run({}), RangeError, 'an entry before the start');
  // A's column numbers (rowBytes): a column whose row of B lies outside, a negative rowBytes
  const columns = (col: number, rowBytes: number): void => {
    new Int32Array(sb.buffer(), r.columns, 1)[0] = col;
    native.gemmCsr(sb.buffer(), r.rowPtr, r.columns, r.val, b, c, 4 * n, m, n, 0, 0, rowBytes);
  };
  columns(0, 4 * n);
  assert.throws(() => columns(Math.ceil(size / (4 * n)), 4 * n), RangeError, 'a column past the end'); // prettier-ignore
  assert.throws(() => columns(-Math.ceil(b / (4 * n)) - 1, 4 * n), RangeError, 'a column before the start'); // prettier-ignore
  assert.throws(() => columns(0, -4), RangeError, 'a negative rowBytes');
});

test('worker threads run the native kernels on a shared memory, with the bits of one thread', (t) => {
  const native = nativeOrSkip(t);
  if (native === null) {
    return;
  }
  const sb = wasmSandbox(512, true);
  const heap = { malloc: (bytes: number) => sb.alloc(bytes), free: () => {} };
  const rnd = lcg(5);
  const [m, n, k] = [45, 37, 64];
  const a = sb.put(sparseA(m * k, rnd));
  const b = sb.put(finiteB(k * n, rnd));
  const c1 = sb.alloc(4 * m * n);
  assert.ok(new WasmSparseGemm(sb.k, heap, sb.buffer).gemm(a, k, 1, b, n, c1, n, m, n, k, 0, true, 1)); // prettier-ignore
  // the workers alone compute (the calling thread claims nothing): they loaded the addon
  const pool = new GemmPool(2, 0, true, sb.memory, false, native);
  try {
    const c2 = sb.alloc(4 * m * n);
    const chunks = pool.workerChunks();
    assert.ok(new WasmSparseGemm(sb.k, heap, sb.buffer, () => pool).gemm(a, k, 1, b, n, c2, n, m, n, k, 0, true, 1)); // prettier-ignore
    assert.ok(pool.workerChunks() > chunks, 'the workers computed it');
    assert.equal(firstDifference(sb.f32(c2, m * n), sb.f32(c1, m * n)), -1, 'gemmCsr');
    // with the native kernels on this thread too, the threads read A's column numbers (no scaleIdx)
    const c3 = sb.alloc(4 * m * n);
    const more = pool.workerChunks();
    assert.ok(new WasmSparseGemm(sb.k, heap, sb.buffer, () => pool, native).gemm(a, k, 1, b, n, c3, n, m, n, k, 0, true, 1)); // prettier-ignore
    assert.ok(pool.workerChunks() > more, 'the workers computed it from column numbers');
    assert.equal(firstDifference(sb.f32(c3, m * n), sb.f32(c1, m * n)), -1, 'gemmCsr, column numbers'); // prettier-ignore
    // the dense GEMM, A transposed (as in a weight gradient), with bias and ReLU
    const [d1, d2] = [sb.alloc(4 * m * n), sb.alloc(4 * m * n)];
    const bias = sb.put(finiteB(n, rnd));
    const dense = sb.put(finiteB(m * k, rnd));
    sb.k.gemm(dense, 4, 4 * m, b, 4 * n, d1, 4 * n, m, n, k, bias, 1, 0);
    const before = pool.workerChunks();
    assert.ok(pool.gemm(new Uint8Array(sb.buffer()), dense, 1, m, b, n, d2, n, m, n, k, bias, true)); // prettier-ignore
    assert.ok(pool.workerChunks() > before, 'the workers computed the dense GEMM');
    assert.equal(firstDifference(sb.f32(d2, m * n), sb.f32(d1, m * n)), -1, 'gemm');
    // sgd split into chunks (an optimizer's update), each writing the finite flag of its slot
    const count = 1000;
    const w = sb.put(Float32Array.from({ length: count }, (_, i) => (i === 777 ? Infinity : rnd() - 0.5))); // prettier-ignore
    const g = sb.put(finiteB(count, rnd));
    const [u1, u2, flag] = [sb.alloc(4 * count), sb.alloc(4 * count), sb.alloc(4)];
    const slots = sb.alloc(4 * Math.ceil(count / UPDATE_GRANULE));
    sb.k.sgd(w, g, u1, count, 0.01, flag);
    const chunks2 = pool.workerChunks();
    assert.ok(pool.elements(Kernel.sgd, count, (first, c) => [w + 4 * first, g + 4 * first, u2 + 4 * first, c, f32Bits(0.01), slots, first])); // prettier-ignore
    assert.ok(pool.workerChunks() > chunks2, 'the workers ran sgd');
    assert.equal(firstDifference(sb.f32(u2, count), sb.f32(u1, count)), -1, 'sgd');
    const flags = sb.f32(slots, Math.ceil(count / UPDATE_GRANULE));
    assert.deepEqual([...flags.keys()].filter((i) => Number.isNaN(flags[i])), [Math.floor(777 / UPDATE_GRANULE)], 'sgd: the slot of the weight made infinite'); // prettier-ignore
    // momentum and adam split so, states partly subnormal
    const st = sb.put(Float32Array.from({ length: count }, (_, i) => (i % 3 === 0 ? 1e-40 : (rnd() - 0.5) * 1e-3))); // prettier-ignore
    const [a1, a2, b1, b2, f1] = [0, 1, 2, 3, 4].map((i) => sb.alloc(i === 4 ? 4 : 4 * count));
    sb.k.momentum(w, g, st, a1, b1, count, 0.05, 0.9, f1);
    assert.ok(pool.elements(Kernel.momentum, count, (first, c) => [w + 4 * first, g + 4 * first, st + 4 * first, a2 + 4 * first, b2 + 4 * first, c, f32Bits(0.05), f32Bits(0.9), slots, first])); // prettier-ignore
    assert.equal(firstDifference(sb.f32(a2, count), sb.f32(a1, count)), -1, 'momentum w');
    assert.equal(firstDifference(sb.f32(b2, count), sb.f32(b1, count)), -1, 'momentum acc');
    const sc = sb.put(Float32Array.of(0.001, 0.9, 0.999, 0.1, 0.001, 1e-8));
    const [x1, x2, y1, y2, z1, z2] = [0, 1, 2, 3, 4, 5].map(() => sb.alloc(4 * count));
    sb.k.adam(w, g, st, st, x1, y1, z1, count, 0.001, 0.9, 0.999, 0.1, 0.001, 1e-8, f1);
    const chunks3 = pool.workerChunks();
    assert.ok(pool.elements(Kernel.adam, count, (first, c) => [w, g, st, st, x2, y2, z2].map((p) => p + 4 * first).concat([c, sc, slots, first]))); // prettier-ignore
    assert.ok(pool.workerChunks() > chunks3, 'the workers ran adam');
    for (const [p, q, what] of [
      [x2, x1, 'w'],
      [y2, y1, 'm'],
      [z2, z1, 'v'],
    ] as const) {
      assert.equal(firstDifference(sb.f32(p, count), sb.f32(q, count)), -1, `adam ${what}`);
    }
  } finally {
    pool.close();
  }
});

test('training gives the same stateHash with the native kernels as without, on one thread and two', (t) => {
  if (nativeOrSkip(t) === null) {
    return;
  }
  const dir = useTempDir(t);
  const script = join(dir, 'train.mts');
  // the default MLP on MNIST (its first layer takes the sparse GEMM and the gather with its
  // compressed rows), 12 steps; lenet5 (convolutions: gemmG forward and for the weights, dz·Wᵀ
  // through gemmP or the sparse GEMM), 4 steps
  writeFileSync(
    script,
    `import { Trainer } from ${JSON.stringify(join(ROOT, 'src/main/engine/trainer.ts'))};
import { stateHash } from ${JSON.stringify(join(ROOT, 'src/main/engine/state.ts'))};
import { nativeStatus } from ${JSON.stringify(join(ROOT, 'src/main/engine/kernels/native.ts'))};
const out = {};
for (const [name, model, batchSize, steps] of [['mlp', { kind: 'mlp', hidden: [128, 32] }, 100, 12], ['lenet5', { kind: 'lenet5', hidden: [] }, 16, 4]]) {
  const t = await Trainer.create({ dataset: 'mnist', model, optimizer: { kind: 'sgd', lr: 0.05 }, batchSize, seed: 4, backend: 'wasm' });
  for (let i = 0; i < steps; i++) t.trainStep();
  out[name] = stateHash(t.snapshot());
  t.dispose();
}
console.log(JSON.stringify({ ...out, native: nativeStatus().used }));
`,
  );
  type Hashes = { mlp: string; lenet5: string; native: boolean };
  const run = (env: Record<string, string>): Hashes => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } }); // prettier-ignore
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Hashes;
  };
  const wasm = run({ LOCKSTEP_NATIVE: '0', LOCKSTEP_THREADS: '1' });
  assert.equal(wasm.native, false);
  // the default (AVX-512 tiles where the CPU has them) on 1 and 2 threads, and AVX2 alone
  const runs: [string, Record<string, string>][] = [
    ['1 thread', { LOCKSTEP_NATIVE: '1', LOCKSTEP_THREADS: '1' }],
    ['2 threads', { LOCKSTEP_NATIVE: '1', LOCKSTEP_THREADS: '2' }],
  ];
  if (nativeKernelsFor('avx512') !== null) {
    runs.push(['AVX2 alone', { LOCKSTEP_NATIVE: 'avx2', LOCKSTEP_THREADS: '1' }]);
  }
  for (const [what, env] of runs) {
    const nat = run(env);
    assert.equal(nat.native, true, `native kernels used (${what})`);
    assert.equal(nat.mlp, wasm.mlp, `mlp, ${what}`);
    assert.equal(nat.lenet5, wasm.lenet5, `lenet5, ${what}`);
  }
});
