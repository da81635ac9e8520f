/**
 * The GEMM that skips A's zeros (src/main/engine/kernels/sparse.ts) gives the dense GEMM's bits
 * (every number; a NaN meets a NaN of either sign, see firstDifference):
 * wasm sparse = wasm dense and JS sparse = JS dense, on A with +0, −0, NaN, ±Inf, subnormals and
 * products that underflow, B with negative and subnormal values, odd shapes (k = 0, 1–3 column
 * tails with and without the SIMD tail), A stored as rows or transposed; and it declines (C
 * untouched) when B holds Inf or NaN or A is too dense. A batch gathered from pixels with its
 * compressed rows in the same pass (gatherRowsCsr) gives csrRows's rows exactly, and serves both
 * of a dense layer's GEMMs, and a narrow one's (n = 10, the softmax model on one thread) x·W.
 * Training bits on MNIST, where the path is taken, are pinned by tests/engine/golden.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ref from '../../src/main/engine/kernels/reference';
import { gatheredScansFound, JsSparseGemm, keptScanWorthTrying, looksSparse, SPARSE_KEPT_MIN_N, SPARSE_MAX_DENSITY, sparseWorthTrying, WasmSparseGemm } from '../../src/main/engine/kernels/sparse'; // prettier-ignore
import { setKernelThreads } from '../../src/main/engine/kernels/threads';
import { stateHash } from '../../src/main/engine/state';
import { Trainer } from '../../src/main/engine/trainer';
import { ROW_BYTES } from '../../src/main/engine/kernels/wasm-module';
import { compressTable } from '../../src/main/engine/kernels/wasm-sparse';
import { firstDifference, wasmSandbox, type WasmSandbox } from '../helpers/wasm-sandbox';
import { finiteB, lcg } from '../helpers/random';

const SPECIAL = [-0, 0, NaN, Infinity, -Infinity, 1e-40, -3e-39, 1e-30, 3.4e38];

/**
 * A with about the given share of zeros (half of them −0) and a sprinkling of special values;
 * at most SPARSE_MAX_DENSITY nonzero when `zeros` ≥ 0.5.
 */
function sparseA(len: number, zeros: number, rnd: () => number, specials: boolean): Float32Array {
  const a = Float32Array.from({ length: len }, () => {
    const u = rnd();
    if (u < zeros) {
      return rnd() < 0.5 ? 0 : -0;
    }
    if (specials && u > 0.97) {
      return SPECIAL[Math.floor(rnd() * SPECIAL.length)];
    }
    return (rnd() - 0.5) * (rnd() < 0.1 ? 1e-30 : 2);
  });
  let nonzero = 0;
  for (let i = 0; i < len; i++) {
    if (a[i] !== 0 && zeros >= 0.5 && ++nonzero > SPARSE_MAX_DENSITY * len) {
      a[i] = -0;
    }
  }
  return a;
}

/** A sandbox memory with the kernels, and the sparse GEMM on it. */
function sandbox(): WasmSandbox & { sparse: WasmSparseGemm } {
  const sb = wasmSandbox(512);
  return {
    ...sb,
    sparse: new WasmSparseGemm(sb.k, { malloc: sb.alloc, free: () => {} }, sb.buffer),
  };
}

const SHAPES: [number, number, number][] = [
  [1, 4, 1],
  [3, 5, 0],
  [5, 9, 13],
  [7, 13, 33],
  [9, 6, 70],
  [33, 34, 35],
  [100, 128, 784],
  [17, 10, 129],
  // n = 4·(7 + 4 + 2 + 1) + 3: every sparse tile width once, then the last 3 columns
  [11, 59, 40],
];

test('sparse GEMM = dense GEMM bit for bit, in wasm and in JS', () => {
  const rnd = lcg(7);
  let taken = 0;
  for (const [m, n, k] of SHAPES) {
    for (const transA of [false, true]) {
      for (const [bias, relu, tail] of [
        [false, false, 0],
        [true, true, 1],
        [true, false, 1],
        [false, true, 0],
      ] as const) {
        const what = `m=${m} n=${n} k=${k} transA=${transA} bias=${bias} relu=${relu} tail=${tail}`;
        const a = sparseA(m * k, 0.75, rnd, true);
        const b = finiteB(k * n, rnd);
        const bv = finiteB(n, rnd);
        const [rsA, ksA] = transA ? [1, m] : [k, 1];
        const sb = sandbox();
        const [pa, pb, pbias] = [sb.put(a), sb.put(b), sb.put(bv)];
        const dense = sb.alloc(4 * m * n);
        sb.k.gemm(pa, rsA * 4, ksA * 4, pb, n * 4, dense, n * 4, m, n, k, bias ? pbias : 0, relu ? 1 : 0, tail); // prettier-ignore
        const sparse = sb.alloc(4 * m * n);
        const ok = sb.sparse.gemm(pa, rsA, ksA, pb, n, sparse, n, m, n, k, bias ? pbias : 0, relu, tail); // prettier-ignore
        assert.ok(ok, `wasm sparse path taken, ${what}`);
        assert.equal(
          firstDifference(sb.f32(sparse, m * n), sb.f32(dense, m * n)),
          -1,
          `wasm, ${what}`,
        );

        const jsDense = new Float32Array(m * n);
        ref.gemm(a, 0, rsA, ksA, b, 0, n, jsDense, 0, n, m, n, k, bias ? bv : null, 0, relu);
        const jsSparse = new Float32Array(m * n);
        const okJs = new JsSparseGemm().gemm(a, 0, rsA, ksA, b, 0, n, jsSparse, 0, n, m, n, k, bias ? bv : null, 0, relu); // prettier-ignore
        assert.ok(okJs, `JS sparse path taken, ${what}`);
        assert.equal(firstDifference(jsSparse, jsDense), -1, `JS, ${what}`);
        taken++;
      }
    }
  }
  assert.equal(taken, SHAPES.length * 8);
});

test('the sparse GEMM declines, writing nothing, when B is not all finite or A is too dense', () => {
  const rnd = lcg(11);
  const [m, n, k] = [20, 12, 40];
  const cases: [string, Float32Array, Float32Array][] = [
    ['Inf in B', sparseA(m * k, 0.9, rnd, false), finiteB(k * n, rnd).fill(Infinity, 37, 38)],
    ['NaN in B', sparseA(m * k, 0.9, rnd, false), finiteB(k * n, rnd).fill(NaN, k * n - 1)],
    ['A too dense', sparseA(m * k, SPARSE_MAX_DENSITY - 0.2, rnd, false), finiteB(k * n, rnd)],
  ];
  for (const [what, a, b] of cases) {
    const sb = sandbox();
    const c = sb.put(new Float32Array(m * n).fill(7));
    assert.equal(sb.sparse.gemm(sb.put(a), k, 1, sb.put(b), n, c, n, m, n, k, 0, false, 0), false, what); // prettier-ignore
    assert.ok(
      sb.f32(c, m * n).every((x) => x === 7),
      `${what}: C untouched (wasm)`,
    );
    const jc = new Float32Array(m * n).fill(7);
    assert.equal(new JsSparseGemm().gemm(a, 0, k, 1, b, 0, n, jc, 0, n, m, n, k, null, 0, false), false, what); // prettier-ignore
    assert.ok(
      jc.every((x) => x === 7),
      `${what}: C untouched (JS)`,
    );
  }
  // the zero products of 0·Inf are why: the dense GEMM's NaN must not be lost
  const a = new Float32Array([0, 1]);
  const b = new Float32Array([Infinity, 2]);
  const c = new Float32Array(1);
  ref.gemm(a, 0, 2, 1, b, 0, 1, c, 0, 1, 1, 1, 2, null, 0, false);
  assert.ok(Number.isNaN(c[0]));
});

test('a kept scan of x serves xᵀ·dz (csrTranspose) with the dense bits; another tensor is scanned anew', () => {
  const rnd = lcg(23);
  for (const [m, k, n1, n2] of [
    [100, 784, 128, 128],
    [7, 33, 17, 9],
    [64, 50, 24, 35],
  ]) {
    const what = `x ${m}×${k}`;
    const sb = sandbox();
    const x = sparseA(m * k, 0.8, rnd, true);
    const px = sb.put(x);
    const w = sb.put(finiteB(k * n1, rnd));
    const dz = sb.put(finiteB(m * n2, rnd));
    const key = {};
    // forward x·W: keeps the scan of x
    const y = sb.alloc(4 * m * n1);
    assert.ok(sb.sparse.gemm(px, k, 1, w, n1, y, n1, m, n1, k, 0, false, 0, key), what);
    const yDense = sb.alloc(4 * m * n1);
    sb.k.gemm(px, k * 4, 4, w, n1 * 4, yDense, n1 * 4, m, n1, k, 0, 0, 0);
    assert.equal(
      firstDifference(sb.f32(y, m * n1), sb.f32(yDense, m * n1)),
      -1,
      `forward, ${what}`,
    );
    const dwDense = sb.alloc(4 * k * n2);
    sb.k.gemm(px, 4, k * 4, dz, n2 * 4, dwDense, n2 * 4, k, n2, m, 0, 0, 0);
    // x's memory now holds other values: a tensor with the same key is served from the kept
    // scan (what proves it is used), a new key is scanned anew
    const other = sparseA(m * k, 0.8, rnd, false);
    sb.write(px, other);
    const dw = sb.alloc(4 * k * n2);
    assert.ok(sb.sparse.gemm(px, 1, k, dz, n2, dw, n2, k, n2, m, 0, false, 0, key), what);
    assert.equal(firstDifference(sb.f32(dw, k * n2), sb.f32(dwDense, k * n2)), -1, `xᵀ·dz from the kept scan, ${what}`); // prettier-ignore
    const dw2 = sb.alloc(4 * k * n2);
    assert.ok(sb.sparse.gemm(px, 1, k, dz, n2, dw2, n2, k, n2, m, 0, false, 0, {}), what);
    const dw2Dense = sb.alloc(4 * k * n2);
    sb.k.gemm(px, 4, k * 4, dz, n2 * 4, dw2Dense, n2 * 4, k, n2, m, 0, 0, 0);
    assert.equal(firstDifference(sb.f32(dw2, k * n2), sb.f32(dw2Dense, k * n2)), -1, `a new key, ${what}`); // prettier-ignore
  }
});

test('the sample before a scan is not fooled by a periodic A, and a shape found or sampled dense is not sampled again at once', () => {
  // an im2col-like A whose first column is all zeros: samples spaced total/256 apart would all
  // land in that column (4096·144/256 = 16 rows exactly)
  const [m, k] = [4096, 144];
  const a = new Float32Array(m * k).fill(1);
  for (let i = 0; i < m; i++) {
    a[i * k] = 0;
  }
  assert.equal(looksSparse(a, 0, k, 1, m, k), false);

  const rnd = lcg(5);
  const [mm, n, kk] = [40, 24, 50];
  const sb = sandbox();
  const b = sb.put(finiteB(kk * n, rnd));
  const c = sb.put(new Float32Array(mm * n).fill(7));
  // a little denser than SPARSE_MAX_DENSITY: it passes the sample, and the scan declines …
  const dense = Float32Array.from({ length: mm * kk }, (_, i) => (i % 25 < 8 ? 0.5 : 0));
  assert.ok(8 / 25 > SPARSE_MAX_DENSITY && looksSparse(dense, 0, kk, 1, mm, kk));
  assert.equal(sb.sparse.gemm(sb.put(dense), kk, 1, b, n, c, n, mm, n, kk, 0, false, 0), false);
  // … and the next GEMM of that shape goes dense without a look, however sparse its A
  const sparse = sb.put(sparseA(mm * kk, 0.9, rnd, false));
  assert.equal(sb.sparse.gemm(sparse, kk, 1, b, n, c, n, mm, n, kk, 0, false, 0), false);
  assert.ok(sb.f32(c, mm * n).every((x) => x === 7));
  // another shape is tried
  assert.equal(sb.sparse.gemm(sparse, kk, 1, b, n, c, n, mm - 1, n, kk, 0, false, 0), true);

  // a shape whose sample looks dense is declined as well, so it is not sampled every call (in
  // wasm and in JS): the next GEMM of that shape goes dense however sparse its A
  const full = Float32Array.from({ length: mm * kk }, () => 0.5 + rnd());
  assert.equal(looksSparse(full, 0, kk, 1, mm, kk), false);
  const [m2, c2] = [mm - 2, sb.put(new Float32Array(mm * n).fill(7))];
  assert.equal(sb.sparse.gemm(sb.put(full), kk, 1, b, n, c2, n, m2, n, kk, 0, false, 0), false);
  assert.equal(sb.sparse.gemm(sparse, kk, 1, b, n, c2, n, m2, n, kk, 0, false, 0), false);
  assert.ok(sb.f32(c2, mm * n).every((x) => x === 7));
  assert.equal(sb.sparse.gemm(sparse, kk, 1, b, n, c2, n, m2 - 1, n, kk, 0, false, 0), true);
  const js = new JsSparseGemm();
  const [jb, jc] = [finiteB(kk * n, rnd), new Float32Array(mm * n).fill(7)];
  const jsSparse = sparseA(mm * kk, 0.9, rnd, false);
  assert.equal(js.gemm(full, 0, kk, 1, jb, 0, n, jc, 0, n, m2, n, kk, null, 0, false), false);
  assert.equal(js.gemm(jsSparse, 0, kk, 1, jb, 0, n, jc, 0, n, m2, n, kk, null, 0, false), false);
  assert.ok(jc.every((x) => x === 7));
  assert.equal(js.gemm(jsSparse, 0, kk, 1, jb, 0, n, jc, 0, n, m2 - 1, n, kk, null, 0, false), true);
});

/** Rows of 784 pixels like MNIST's (a stroke in a black field), one black and one white row. */
function pixelRows(rows: number, rnd: () => number): Uint8Array {
  const px = new Uint8Array(rows * ROW_BYTES);
  for (let r = 2; r < rows; r++) {
    const ink = 0.05 + 0.3 * rnd();
    for (let i = 0; i < ROW_BYTES; i++) {
      px[r * ROW_BYTES + i] = rnd() < ink ? 1 + Math.floor(rnd() * 255) : 0;
    }
  }
  px.fill(255, ROW_BYTES, 2 * ROW_BYTES);
  return px;
}

/** Row i's entries [column, float bits] from compressed rows in a sandbox. */
function csrEntries(
  sb: WasmSandbox,
  rowPtr: number,
  idx: number,
  val: number,
  m: number,
): [number, number][][] {
  // prettier-ignore
  const ptr = new Int32Array(sb.buffer(), rowPtr, 2 * m);
  return Array.from({ length: m }, (_, i) =>
    Array.from({ length: (ptr[2 * i + 1] - ptr[2 * i]) / 4 }, (_, t) => {
      const at = ptr[2 * i] + 4 * t;
      return [new Int32Array(sb.buffer(), idx + at, 1)[0], new Int32Array(sb.buffer(), val + at, 1)[0]]; // prettier-ignore
    }),
  );
}

/** Row i's entries [column, float bits] of A (m × k, rows lda floats apart): its nonzeros (NaN counts, ±0 not). */
function entriesOf(a: Float32Array, m: number, k: number, lda = k): number[][][] {
  const bits = new Int32Array(a.buffer, a.byteOffset, a.length);
  return Array.from({ length: m }, (_, i) => {
    const row: number[][] = [];
    for (let p = 0; p < k; p++) {
      if (a[i * lda + p] !== 0) {
        row.push([p, bits[i * lda + p]]);
      }
    }
    return row;
  });
}

test("csrRows: each row's nonzero elements in column order (NaN counts, ±0 does not), runs of zeros and tails of 1–3", () => {
  const rnd = lcg(53);
  const sb = sandbox();
  const tab = sb.put(compressTable());
  for (const [m, k, lda, zeros] of [[1, 1, 1, 0], [3, 3, 5, 0.3], [4, 17, 17, 0.9], [5, 34, 40, 0.5], [7, 70, 70, 0.97], [2, 64, 64, 0], [6, 131, 133, 0.8]] as const) { // prettier-ignore
    const a = sparseA(m * lda, zeros, rnd, true);
    const ap = sb.put(a);
    const [rp, idx, val, total] = [sb.alloc(8 * m), sb.alloc(4 * m * k), sb.alloc(4 * m * k), sb.alloc(4)]; // prettier-ignore
    sb.k.csrRows(ap, 4 * lda, m, k, rp, idx, val, total, tab);
    const want = entriesOf(a, m, k, lda);
    assert.deepEqual(csrEntries(sb, rp, idx, val, m), want, `m=${m} k=${k} lda=${lda} zeros=${zeros}`); // prettier-ignore
    assert.equal(new Int32Array(sb.buffer(), total, 1)[0], 4 * want.flat().length);
  }
});

test("gatherRowsCsr writes gatherRows's floats and exactly the compressed rows csrRows scans from them", () => {
  const rnd = lcg(41);
  const sb = sandbox();
  const pixels = sb.put(pixelRows(50, rnd));
  const tab = sb.put(compressTable());
  for (const m of [1, 3, 100, 131]) {
    // rows in any order, some twice; the black row and the white row among them
    const rows = Int32Array.from({ length: m }, (_, i) => (i < 2 ? i : Math.floor(rnd() * 50)));
    const indices = sb.put(rows);
    const plain = sb.alloc(4 * m * ROW_BYTES);
    sb.k.gatherRows(pixels, indices, m, plain);
    const fused = sb.alloc(4 * m * ROW_BYTES);
    const [rp, idx, val, total] = [sb.alloc(8 * m), sb.alloc(4 * m * ROW_BYTES), sb.alloc(4 * m * ROW_BYTES), sb.alloc(4)]; // prettier-ignore
    sb.k.gatherRowsCsr(pixels, indices, m, fused, rp, idx, val, total, tab);
    assert.equal(firstDifference(sb.f32(fused, m * ROW_BYTES), sb.f32(plain, m * ROW_BYTES)), -1, `floats, ${m} rows`); // prettier-ignore
    const [rp2, idx2, val2, total2] = [sb.alloc(8 * m), sb.alloc(4 * m * ROW_BYTES), sb.alloc(4 * m * ROW_BYTES), sb.alloc(4)]; // prettier-ignore
    sb.k.csrRows(plain, 4 * ROW_BYTES, m, ROW_BYTES, rp2, idx2, val2, total2, tab);
    const scanned = csrEntries(sb, rp2, idx2, val2, m);
    assert.deepEqual(csrEntries(sb, rp, idx, val, m), scanned, `compressed rows, ${m} rows`);
    assert.deepEqual(scanned, entriesOf(sb.f32(plain, m * ROW_BYTES), m, ROW_BYTES), `the nonzero floats, ${m} rows`); // prettier-ignore
    assert.equal(new Int32Array(sb.buffer(), total, 1)[0], new Int32Array(sb.buffer(), total2, 1)[0]); // prettier-ignore
    assert.equal(scanned[0].length, 0);
    assert.equal(scanned[1]?.length, m > 1 ? ROW_BYTES : undefined);
  }
});

test('a gathered batch serves x·W and xᵀ·dz from its own compressed rows; gathers no GEMM uses pause', () => {
  const rnd = lcg(43);
  const sb = sandbox();
  const [m, k, n] = [100, ROW_BYTES, 128];
  const pixels = sb.put(pixelRows(300, rnd));
  const indices = sb.put(Int32Array.from({ length: m }, () => Math.floor(rnd() * 300)));
  const x = sb.alloc(4 * m * k);
  const key = {};
  const gather = (at: number, onto: object): boolean =>
    sb.sparse.gathered(onto, m, k, (rowPtr, idx, val, total, tab) =>
      sb.k.gatherRowsCsr(pixels, indices, m, at, rowPtr, idx, val, total, tab),
    );
  const found = gatheredScansFound();
  assert.ok(gather(x, key));
  const w = sb.put(finiteB(k * n, rnd));
  const dz = sb.put(finiteB(m * n, rnd));
  const yDense = sb.alloc(4 * m * n);
  sb.k.gemm(x, k * 4, 4, w, n * 4, yDense, n * 4, m, n, k, 0, 0, 0);
  const dwDense = sb.alloc(4 * k * n);
  sb.k.gemm(x, 4, k * 4, dz, n * 4, dwDense, n * 4, k, n, m, 0, 0, 0);
  // x's memory now holds other values: only the compressed rows kept by the gather give x's bits
  sb.write(x, sparseA(m * k, 0.8, rnd, false));
  const y = sb.alloc(4 * m * n);
  assert.ok(sb.sparse.gemm(x, k, 1, w, n, y, n, m, n, k, 0, false, 0, key));
  assert.equal(firstDifference(sb.f32(y, m * n), sb.f32(yDense, m * n)), -1, 'x·W');
  const dw = sb.alloc(4 * k * n);
  assert.ok(sb.sparse.gemm(x, 1, k, dz, n, dw, n, k, n, m, 0, false, 0, key));
  assert.equal(firstDifference(sb.f32(dw, k * n), sb.f32(dwDense, k * n)), -1, 'xᵀ·dz');
  assert.equal(gatheredScansFound(), found + 1);
  // a gather whose rows no GEMM uses (a convolution's input): the next ones write the floats
  // alone, without running the fused kernel
  assert.ok(gather(sb.alloc(4 * m * k), {}));
  let ran = false;
  const declined = sb.sparse.gathered({}, m, k, () => {
    ran = true;
  });
  assert.equal(declined, false);
  assert.equal(ran, false);
});

test("a narrow GEMM (n = 10) takes a gathered batch's free compressed rows (keptOnly), and nothing else", () => {
  const rnd = lcg(53);
  const sb = sandbox();
  const [m, k, n] = [100, ROW_BYTES, 10];
  assert.ok(keptScanWorthTrying(m, n, k) && !sparseWorthTrying(m, n, k));
  assert.ok(!keptScanWorthTrying(m, SPARSE_KEPT_MIN_N - 1, k) && !keptScanWorthTrying(m, 16, k));
  const pixels = sb.put(pixelRows(300, rnd));
  const indices = sb.put(Int32Array.from({ length: m }, () => Math.floor(rnd() * 300)));
  const x = sb.alloc(4 * m * k);
  const key = {};
  assert.ok(
    sb.sparse.gathered(key, m, k, (rowPtr, idx, val, total, tab) =>
      sb.k.gatherRowsCsr(pixels, indices, m, x, rowPtr, idx, val, total, tab),
    ),
  );
  const w = sb.put(finiteB(k * n, rnd));
  const yDense = sb.alloc(4 * m * n);
  sb.k.gemm(x, k * 4, 4, w, n * 4, yDense, n * 4, m, n, k, 0, 0, 0);
  const found = gatheredScansFound();
  const y = sb.alloc(4 * m * n);
  assert.ok(sb.sparse.gemm(x, k, 1, w, n, y, n, m, n, k, 0, false, 0, key, undefined, true));
  assert.equal(firstDifference(sb.f32(y, m * n), sb.f32(yDense, m * n)), -1, 'x·W, n = 10');
  assert.equal(gatheredScansFound(), found + 1);
  // another tensor (no kept scan) and the batch read transposed decline, writing nothing
  const other = sb.put(sparseA(m * k, 0.9, rnd, false));
  const untouched = sb.alloc(4 * k * n);
  assert.equal(sb.sparse.gemm(other, k, 1, w, n, y, n, m, n, k, 0, false, 0, {}, undefined, true), false); // prettier-ignore
  const dl = sb.put(finiteB(m * n, rnd));
  assert.equal(sb.sparse.gemm(x, 1, k, dl, n, untouched, n, k, n, m, 0, false, 0, key, undefined, true), false); // prettier-ignore
  assert.ok(sb.f32(untouched, k * n).every((v) => v === 0));
});

test('the softmax model on one thread reads its batches through their compressed rows, with the bits of two threads', async () => {
  const run = async (threads: number): Promise<string> => {
    setKernelThreads(threads, true);
    const t = await Trainer.create({ dataset: 'mnist', model: { kind: 'softmax', hidden: [] }, optimizer: { kind: 'sgd', lr: 0.05 }, batchSize: 100, seed: 6, backend: 'wasm' }); // prettier-ignore
    try {
      const found = gatheredScansFound();
      for (let i = 0; i < 4; i++) {
        t.trainStep();
      }
      if (threads === 1) {
        assert.ok(gatheredScansFound() >= found + 4, 'each step found its gathered scan');
      }
      return stateHash(t.snapshot());
    } finally {
      t.dispose();
    }
  };
  try {
    assert.equal(await run(1), await run(2));
  } finally {
    setKernelThreads(1);
  }
});

test('B known finite (an optimizer found it so) is not checked again; any other B is', () => {
  const rnd = lcg(47);
  const sb = sandbox();
  const [m, n, k] = [20, 24, 50];
  const a = sb.put(sparseA(m * k, 0.8, rnd, false));
  // a NaN in B: only a B taken on trust runs sparse (a lie here, to see that no check ran)
  const bValues = finiteB(k * n, rnd);
  bValues[7] = NaN;
  const b = sb.put(bValues);
  const c = sb.alloc(4 * m * n);
  const [trusted, other] = [{}, {}];
  sb.sparse.knownFinite(trusted);
  assert.equal(sb.sparse.gemm(a, k, 1, b, n, c, n, m, n, k, 0, false, 0, undefined, other), false);
  assert.equal(sb.sparse.gemm(a, k, 1, b, n, c, n, m, n, k, 0, false, 0, undefined, undefined), false); // prettier-ignore
  assert.equal(sb.sparse.gemm(a, k, 1, b, n, c, n, m, n, k, 0, false, 0, undefined, trusted), true);
});

test("scaleIdx scales every entry of every row, whatever the rows' layout, and writes at most 12 bytes past the entries", () => {
  const sb = wasmSandbox();
  const rnd = lcg(77);
  const i32 = (): Int32Array => new Int32Array(sb.buffer());
  // row r has counts[r] entries (0 to 9: every remainder mod 4); compact (each row right after
  // the one before, as csrRows writes them) and in slots of 12 entries (as csrCols and
  // csrTranspose write them), with gaps after a row's entries
  const counts = [0, 1, 2, 3, 4, 5, 7, 9, 0, 6, 8, 3];
  for (const slots of [false, true]) {
    const total = slots ? 12 * counts.length : counts.reduce((a, b) => a + b, 0);
    const idx = sb.put(Int32Array.from({ length: total + 4 }, () => Math.floor(rnd() * 1000)));
    const rowPtr = sb.alloc(8 * counts.length);
    let t = 0;
    counts.forEach((n, r) => {
      const start = slots ? 48 * r : t;
      i32()[rowPtr / 4 + 2 * r] = start;
      i32()[rowPtr / 4 + 2 * r + 1] = start + 4 * n;
      t = start + 4 * n;
    });
    const out = sb.alloc(4 * (total + 8));
    const sentinel = -123456;
    i32().fill(sentinel, out / 4, out / 4 + total + 8);
    const scale = 4 * 129; // B's rows of 129 floats
    sb.k.scaleIdx(rowPtr, counts.length, idx, out, scale);
    const o = i32();
    let end = 0;
    counts.forEach((n, r) => {
      const start = o[rowPtr / 4 + 2 * r] / 4;
      for (let e = start; e < start + n; e++) {
        assert.equal(o[out / 4 + e], o[idx / 4 + e] * scale, `${slots ? 'slots' : 'compact'}: row ${r}, entry ${e - start}`); // prettier-ignore
      }
      end = Math.max(end, start + n);
    });
    // past the last row's entries: at most 3 entries (12 bytes) written
    for (let e = end + 3; e < total + 8; e++) {
      assert.equal(o[out / 4 + e], sentinel, `${slots ? 'slots' : 'compact'}: entry ${e} written`);
    }
  }
});
