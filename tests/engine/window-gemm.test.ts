/**
 * The convolution GEMMs that read x's windows instead of an im2col matrix
 * (src/main/engine/kernels/windows.ts, gemmG and pad in wasm-module.ts) give the bits of
 * im2col + the dense GEMM — the wasm GEMM on the materialised matrix and the JS reference the
 * cpu backend runs — for the forward product (with bias and ReLU) and the weight gradient colᵀ·B,
 * on odd shapes: batch 1, strides 1–3, 'same'-style and asymmetric padding, windows larger than
 * the image, 1×1 windows with a stride, 1–21 output columns (SIMD tails), k over one chunk (256),
 * and x and B holding −0, NaN, ±Inf and subnormals (a NaN meets a NaN, see firstDifference); and
 * split across 2 and 3 kernel threads (./threads.ts), the bits of one thread.
 * Whole LeNet-5 and residual training runs are pinned by tests/engine/golden.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as conv from '../../src/main/engine/kernels/conv-ref';
import type { Window2d } from '../../src/main/engine/kernels/conv-ref';
import * as ref from '../../src/main/engine/kernels/reference';
import { GemmPool } from '../../src/main/engine/kernels/threads';
import { paddedSize, WasmWindowGemm } from '../../src/main/engine/kernels/windows';
import { firstDifference, wasmSandbox } from '../helpers/wasm-sandbox';
import { lcg } from '../helpers/random';

const SPECIAL = [-0, 0, NaN, Infinity, -Infinity, 1e-40, -3e-39, 3.4e38];

function data(len: number, rnd: () => number, specials: boolean): Float32Array {
  return Float32Array.from({ length: len }, () => {
    const u = rnd();
    if (specials && u < 0.03) {
      return SPECIAL[Math.floor(rnd() * SPECIAL.length)];
    }
    return u < 0.2 ? (rnd() < 0.5 ? 0 : -0) : (rnd() - 0.5) * 3;
  });
}

/** A geometry with the output size its padding implies (bottom/right padding as needed). */
function geom(
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
): Window2d {
  return { n, h, w, c, kh, kw, stride, padTop, padLeft, oh, ow };
}

const GEOMETRIES: Window2d[] = [
  geom(2, 28, 28, 1, 5, 5, 1, 2, 2, 28, 28), // LeNet-5's first layer ('same')
  geom(3, 14, 14, 6, 5, 5, 1, 0, 0, 10, 10), // its second ('valid': x itself, no copy)
  geom(1, 7, 5, 3, 3, 3, 2, 1, 1, 4, 3), // stride 2, 'same', odd sizes, batch 1
  geom(2, 6, 7, 2, 4, 2, 1, 1, 0, 6, 6), // even window: padding before 1 row, after 2
  geom(1, 3, 3, 4, 5, 5, 1, 2, 2, 3, 3), // window larger than the image
  geom(2, 9, 9, 5, 1, 1, 2, 0, 0, 5, 5), // 1×1 with stride 2 (not pointwise)
  geom(1, 8, 9, 3, 3, 3, 3, 1, 0, 3, 3), // stride 3
  geom(1, 12, 12, 32, 3, 3, 1, 1, 1, 12, 12), // k = 288: two chunks of k
];

const fmt = (g: Window2d): string => JSON.stringify(g);

test('the gathered convolution GEMMs equal im2col + gemm (wasm and the JS reference), forward and transposed', () => {
  const sb = wasmSandbox(1024);
  const windows = new WasmWindowGemm(sb.k, { malloc: (b) => sb.alloc(b), free: () => {} }, sb.buffer); // prettier-ignore
  const rnd = lcg(7);
  let cases = 0;
  for (const g of GEOMETRIES) {
    for (const specials of [false, true]) {
      const rows = g.n * g.oh * g.ow;
      const k = g.kh * g.kw * g.c;
      const x = data(g.n * g.h * g.w * g.c, rnd, specials);
      const col = new Float32Array(rows * k);
      conv.im2col(x, 0, g, col, 0);
      const xp = sb.put(x);
      const colp = sb.put(col);
      for (const n of [1, 3, 6, 7, 16, 21]) {
        for (const transposed of [false, true]) {
          const [m, kk] = transposed ? [k, rows] : [rows, k];
          const b = data(kk * n, rnd, specials);
          const bias = transposed ? null : data(n, rnd, false);
          const relu = !transposed && n % 2 === 1;
          const bp = sb.put(b);
          const biasp = bias ? sb.put(bias) : 0;
          // the materialised matrix: wasm dense GEMM and the JS reference
          const cDense = sb.alloc(4 * m * n);
          const [rsA, ksA] = transposed ? [1, k] : [k, 1];
          sb.k.gemm(colp, 4 * rsA, 4 * ksA, bp, 4 * n, cDense, 4 * n, m, n, kk, biasp, relu ? 1 : 0, 1); // prettier-ignore
          const js = new Float32Array(m * n);
          ref.gemm(col, 0, rsA, ksA, b, 0, n, js, 0, n, m, n, kk, bias, 0, relu);
          // the gathered GEMM, once with the SIMD tail allowed and once not
          for (const tail of [1, 0]) {
            const cWin = sb.alloc(4 * m * n);
            sb.write(cWin, new Float32Array(m * n).fill(12345));
            windows.gemm(xp, g, transposed, bp, n, cWin, n, n, biasp, relu, tail);
            const got = sb.f32(cWin, m * n);
            const what = `${fmt(g)} n=${n} transposed=${transposed} tail=${tail} specials=${specials}`; // prettier-ignore
            let d = firstDifference(got, sb.f32(cDense, m * n));
            assert.equal(d, -1, `wasm dense differs at ${d}: ${what}`);
            d = firstDifference(got, js);
            assert.equal(d, -1, `JS reference differs at ${d}: ${what}`);
            cases++;
          }
        }
      }
    }
  }
  assert.equal(cases, GEOMETRIES.length * 2 * 6 * 2 * 2);
});

test('pad places x inside a +0 border: exactly the values im2col reads', () => {
  const sb = wasmSandbox(64);
  const rnd = lcg(3);
  // border on all sides; none at the top and bottom; a window larger than the image
  const cases: [Window2d, [number, number]][] = [
    [geom(2, 5, 4, 3, 3, 4, 1, 1, 2, 5, 4), [7, 7]],
    [geom(3, 4, 6, 2, 3, 3, 1, 0, 1, 2, 6), [4, 8]],
    [geom(1, 3, 3, 4, 5, 5, 1, 2, 2, 3, 3), [7, 7]],
  ];
  for (const [g, size] of cases) {
    const [hp, wp] = paddedSize(g);
    assert.deepEqual([hp, wp], size);
    const x = data(g.n * g.h * g.w * g.c, rnd, true);
    const xp = sb.put(x);
    const out = sb.alloc(4 * g.n * hp * wp * g.c);
    sb.write(out, new Float32Array(g.n * hp * wp * g.c).fill(-7)); // stale contents are overwritten
    sb.k.pad(xp, out, g.n, g.h, g.w, g.c, g.padTop, g.padLeft, hp, wp);
    const got = sb.f32(out, g.n * hp * wp * g.c);
    const bits = new Uint32Array(got.buffer);
    const xBits = new Uint32Array(x.buffer);
    for (let b = 0; b < g.n; b++) {
      for (let y = 0; y < hp; y++) {
        for (let xx = 0; xx < wp; xx++) {
          for (let ci = 0; ci < g.c; ci++) {
            const at = ((b * hp + y) * wp + xx) * g.c + ci;
            const iy = y - g.padTop;
            const ix = xx - g.padLeft;
            const inside = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
            const want = inside ? xBits[((b * g.h + iy) * g.w + ix) * g.c + ci] : 0; // +0: all bits clear
            assert.equal(bits[at], want, `${fmt(g)} at b${b} y${y} x${xx} c${ci}`);
          }
        }
      }
    }
  }
});

test('split across 2 and 3 threads, the gathered GEMM gives the bits of one thread', () => {
  const sb = wasmSandbox(1024);
  const heap = { malloc: (b: number) => sb.alloc(b), free: () => {} };
  const one = new WasmWindowGemm(sb.k, heap, sb.buffer);
  const rnd = lcg(11);
  for (const threads of [2, 3]) {
    const pool = new GemmPool(threads, 0, true);
    try {
      const split = new WasmWindowGemm(sb.k, heap, sb.buffer, () => pool);
      for (const g of [GEOMETRIES[0], GEOMETRIES[2], GEOMETRIES[7]]) {
        const rows = g.n * g.oh * g.ow;
        const k = g.kh * g.kw * g.c;
        const xp = sb.put(data(g.n * g.h * g.w * g.c, rnd, true));
        for (const transposed of [false, true]) {
          const n = transposed ? 7 : 6;
          const [m, kk] = transposed ? [k, rows] : [rows, k];
          const bp = sb.put(data(kk * n, rnd, true));
          const biasp = transposed ? 0 : sb.put(data(n, rnd, false));
          const [c1, c2] = [sb.alloc(4 * m * n), sb.alloc(4 * m * n)];
          const calls = pool.calls;
          one.gemm(xp, g, transposed, bp, n, c1, n, n, biasp, !transposed, 1);
          split.gemm(xp, g, transposed, bp, n, c2, n, n, biasp, !transposed, 1);
          assert.equal(pool.calls, calls + 1, `${threads} threads ran ${fmt(g)}`);
          const d = firstDifference(sb.f32(c2, m * n), sb.f32(c1, m * n));
          assert.equal(d, -1, `${threads} threads differ at ${d}: ${fmt(g)} transposed=${transposed}`); // prettier-ignore
        }
      }
    } finally {
      pool.close();
    }
  }
});

test('a padded copy is reused only for the same tensor with the same geometry', () => {
  const sb = wasmSandbox(256);
  const windows = new WasmWindowGemm(sb.k, { malloc: (b) => sb.alloc(b), free: () => {} }, sb.buffer); // prettier-ignore
  const rnd = lcg(13);
  const g = GEOMETRIES[0]; // 'same': x is copied into a border
  const g2 = { ...g, padTop: 1, padLeft: 1, oh: 26, ow: 26 }; // the same x, a narrower border
  const rows = g.n * g.oh * g.ow;
  const k = g.kh * g.kw * g.c;
  const n = 6;
  const [x1, x2] = [data(g.n * g.h * g.w * g.c, rnd, true), data(g.n * g.h * g.w * g.c, rnd, true)]; // prettier-ignore
  const [p1, p2] = [sb.put(x1), sb.put(x2)];
  const [key1, key2] = [{}, {}];
  const w = sb.put(data(k * n, rnd, false));
  const dz = sb.put(data(rows * n, rnd, false));
  /** the gathered GEMM of x (at p, named key) against its im2col + the JS reference */
  const check = (
    x: Float32Array,
    p: number,
    key: object | undefined,
    geo: Window2d,
    transposed: boolean,
    what: string,
  ): void => {
    // prettier-ignore
    const r = geo.n * geo.oh * geo.ow;
    const [m, kk, b] = transposed ? [k, r, dz] : [r, k, w];
    const col = new Float32Array(r * k);
    conv.im2col(x, 0, geo, col, 0);
    const want = new Float32Array(m * n);
    const bView = sb.f32(b, kk * n);
    ref.gemm(col, 0, transposed ? 1 : k, transposed ? k : 1, bView, 0, n, want, 0, n, m, n, kk, null, 0, false); // prettier-ignore
    const c = sb.alloc(4 * m * n);
    windows.gemm(p, geo, transposed, b, n, c, n, n, 0, false, 1, key);
    const d = firstDifference(sb.f32(c, m * n), want);
    assert.equal(d, -1, `${what}: differs at ${d}`);
  };
  check(x1, p1, key1, g, false, 'x1 forward');
  assert.equal(windows.reused, 0);
  check(x1, p1, key1, g, true, 'x1 weight gradient: its forward copy');
  assert.equal(windows.reused, 1);
  check(x2, p2, key2, g, true, 'x2: another tensor, the same geometry');
  assert.equal(windows.reused, 1);
  check(x1, p1, key1, g, false, 'x1 again, after x2 took the scratch');
  check(x1, p1, key1, g2, false, 'x1 with another geometry');
  check(x1, p1, undefined, g, false, 'x1 not named');
  check(x1, p1, undefined, g, true, 'x1 not named, again');
  assert.equal(windows.reused, 1);
  check(x1, p1, key1, g, true, 'x1 named');
  assert.equal(windows.reused, 1, 'the unnamed copy before is not taken for a named one');
  check(x1, p1, key1, g, true, 'x1 named, again');
  assert.equal(windows.reused, 2);
  // x1's memory now holds another tensor's data (x1 freed, x2's copy allocated in its place)
  sb.write(p1, x2);
  check(x2, p1, {}, g, true, 'another tensor at the same offset');
  assert.equal(windows.reused, 2);
});
