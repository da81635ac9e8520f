/**
 * Our kernels: the WebAssembly SIMD module against the JS twin (bit for bit) and against a
 * float64 reference (within float32 rounding), and the fused layer kernels through tfjs on both
 * backends (same bits on wasm and cpu; gradients equal to a float64 computation). `run` calls our
 * kernels directly, with tfjs's own tensors, bits and scopes; tfjs's runKernel while it profiles.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../src/main/engine/backend';
import { PIXEL_TO_FLOAT } from '../../src/main/engine/data';
import * as conv from '../../src/main/engine/kernels/conv-ref';
import { JS_BN_LOOPS, type BnLoops } from '../../src/main/engine/kernels/conv-ref';
import { BN_SCRATCH_BYTES, WasmBnLoops } from '../../src/main/engine/kernels/wasm-bn';
import { K, kernelsRunDirectly, run } from '../../src/main/engine/kernels/register';
import { PANEL_BYTES, TINY } from '../../src/main/engine/kernels/wasm-module';
import type { Window2d } from '../../src/main/engine/kernels/conv-ref';
import * as ref from '../../src/main/engine/kernels/reference';
import { dense, denseBackward, softmaxCrossEntropy } from '../../src/main/engine/ops';
import { Trainer } from '../../src/main/engine/trainer';
import { fakeConfig, optimizerOf } from '../helpers/engine';
import { firstDifference, wasmSandbox, type WasmSandbox } from '../helpers/wasm-sandbox';

/** A seeded LCG in [-0.5, 0.5): test data only. */
function filler(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return a.length === b.length && x.every((v, i) => v === y[i]);
}

const sandbox = (): WasmSandbox => wasmSandbox();

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [3, 5, 0],
  [4, 8, 7],
  [5, 10, 13],
  [7, 13, 3],
  [9, 17, 33],
  [100, 128, 784],
  [100, 10, 32],
  // k in several chunks (GEMM_KC = 256, the last one short), rows in several blocks (GEMM_MC = 64)
  [70, 19, 600],
  [131, 6, 257],
  // packed: 2 column tiles and a 5–7 tail, rows 4k + 3, k over two chunks with a partial group
  [67, 21, 259],
];

test('wasm gemm equals the JS kernel bit for bit and a float64 reference within rounding', () => {
  const rnd = filler(42);
  for (const [m, n, k] of SHAPES) {
    for (const transA of [false, true]) {
      for (const [bias, relu] of [
        [false, false],
        [true, true],
        [true, false],
      ] as const) {
        const sb = sandbox();
        const a = Float32Array.from({ length: m * k }, rnd);
        const b = Float32Array.from({ length: k * n }, rnd);
        const bv = Float32Array.from({ length: n }, rnd);
        // A stored as [m,k] (rsA = k, ksA = 1) or as its transpose [k,m] (rsA = 1, ksA = m)
        const [rsA, ksA] = transA ? [1, m] : [k, 1];
        const pa = sb.put(a);
        const pb = sb.put(b);
        const pbias = sb.put(bv);
        const pc = sb.alloc(4 * m * n);
        sb.k.gemm(pa, rsA * 4, ksA * 4, pb, n * 4, pc, n * 4, m, n, k, bias ? pbias : 0, relu ? 1 : 0, 0); // prettier-ignore
        const got = sb.f32(pc, m * n);
        const pc2 = sb.alloc(4 * m * n);
        sb.k.gemm(pa, rsA * 4, ksA * 4, pb, n * 4, pc2, n * 4, m, n, k, bias ? pbias : 0, relu ? 1 : 0, 1); // prettier-ignore
        assert.ok(bitsEqual(sb.f32(pc2, m * n), got), `SIMD column tail = scalar tail`);
        // the packed GEMM (A packed per row tile: by 4×4 transposes when k is contiguous, by
        // vectors when rows are) gives the same bits, with both tails
        const panel = sb.alloc(PANEL_BYTES);
        for (const tail of [0, 1]) {
          const pc3 = sb.alloc(4 * m * n);
          sb.k.gemmP(pa, rsA * 4, ksA * 4, pb, n * 4, pc3, n * 4, m, n, k, bias ? pbias : 0, relu ? 1 : 0, tail, panel); // prettier-ignore
          assert.ok(bitsEqual(sb.f32(pc3, m * n), got), `gemmP = gemm, m=${m} n=${n} k=${k} tail=${tail}`); // prettier-ignore
        }
        // neither rows nor steps of k adjacent (A every other float): packed one element at a time
        const spread = new Float32Array(2 * m * k);
        a.forEach((v, i) => (spread[2 * i] = v));
        const ps = sb.put(spread);
        const pc4 = sb.alloc(4 * m * n);
        sb.k.gemmP(ps, rsA * 8, ksA * 8, pb, n * 4, pc4, n * 4, m, n, k, bias ? pbias : 0, relu ? 1 : 0, 1, panel); // prettier-ignore
        assert.ok(bitsEqual(sb.f32(pc4, m * n), got), `gemmP strided = gemm, m=${m} n=${n} k=${k}`);
        const js = new Float32Array(m * n);
        ref.gemm(a, 0, rsA, ksA, b, 0, n, js, 0, n, m, n, k, bias ? bv : null, 0, relu);
        const what = `m=${m} n=${n} k=${k} transA=${transA} bias=${bias} relu=${relu}`;
        assert.ok(bitsEqual(got, js), `wasm = JS, ${what}`);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let s = 0;
            let mag = 0;
            for (let p = 0; p < k; p++) {
              const t = a[i * rsA + p * ksA] * b[p * n + j];
              s += t;
              mag += Math.abs(t);
            }
            if (bias) {
              s += bv[j];
              mag += Math.abs(bv[j]);
            }
            if (relu) {
              s = Math.max(s, 0);
            }
            const tol = (k + 2) * 2 ** -24 * mag + 1e-30;
            assert.ok(Math.abs(got[i * n + j] - s) <= tol, `${what} [${i},${j}]`);
          }
        }
      }
    }
  }
});

test('wasm elementwise kernels (relu mask, sgd, momentum, adam) equal the JS kernels bit for bit; the optimizers flag a weight that is not finite', () => {
  const rnd = filler(7);
  for (const count of [1, 3, 4, 9, 1003]) {
    // finite weights, then an Inf in the SIMD part (index 0) or in the scalar tail (the last)
    for (const bad of [-1, 0, count - 1]) {
      const what = `${count}${bad < 0 ? '' : `, Inf at ${bad}`}`;
      const sb = sandbox();
      const w = Float32Array.from({ length: count }, rnd);
      if (bad >= 0) {
        w[bad] = Infinity;
      }
      const g = Float32Array.from({ length: count }, rnd);
      const m = Float32Array.from({ length: count }, rnd);
      const v = Float32Array.from({ length: count }, () => Math.abs(rnd()));
      const [pw, pg, pm, pv] = [w, g, m, v].map((t) => sb.put(t));
      const outs = [0, 1, 2].map(() => sb.alloc(4 * count));
      const js = [0, 1, 2].map(() => new Float32Array(count));
      const flag = sb.alloc(4);
      const flagged = (name: string): void => {
        const f = sb.f32(flag, 1)[0];
        assert.equal(Number.isNaN(f), bad >= 0, `${name} flag, ${what}`);
        sb.write(flag, Float32Array.of(7));
      };

      sb.k.reluMask(pg, pw, outs[0], count);
      ref.reluMask(g, 0, w, 0, js[0], 0, count);
      assert.ok(bitsEqual(sb.f32(outs[0], count), js[0]), `reluMask ${what}`);

      sb.k.sgd(pw, pg, outs[0], count, 0.05, flag);
      ref.sgd(w, g, js[0], 0.05);
      assert.ok(bitsEqual(sb.f32(outs[0], count), js[0]), `sgd ${what}`);
      flagged('sgd');

      sb.k.momentum(pw, pg, pm, outs[0], outs[1], count, 0.05, 0.9, flag);
      ref.momentum(w, g, m, js[0], js[1], 0.05, 0.9);
      assert.ok(bitsEqual(sb.f32(outs[0], count), js[0]), `momentum w ${what}`);
      assert.ok(bitsEqual(sb.f32(outs[1], count), js[1]), `momentum acc ${what}`);
      flagged('momentum');

      const s = { lr: 0.0031, b1: 0.9, b2: 0.999, c1: 0.1, c2: 0.001, eps: 1e-8 };
      sb.k.adam(pw, pg, pm, pv, outs[0], outs[1], outs[2], count, s.lr, s.b1, s.b2, s.c1, s.c2, s.eps, flag); // prettier-ignore
      ref.adam(w, g, m, v, js[0], js[1], js[2], s);
      for (let i = 0; i < 3; i++) {
        assert.ok(bitsEqual(sb.f32(outs[i], count), js[i]), `adam output ${i}, ${what}`);
      }
      flagged('adam');
    }
  }
});

test('momentum and adam with subnormal and tiny state (the float64 path) equal the JS kernels bit for bit, flag included', () => {
  const rnd = filler(11);
  const bitsOf = (u: number): number => new Float32Array(new Uint32Array([u >>> 0]).buffer)[0];
  // a value of each kind an optimizer's state and gradient take, with either sign
  const kinds: (() => number)[] = [
    () => rnd(), // ordinary
    () => rnd() * 1e-4,
    () => 0,
    () => bitsOf(1 + Math.floor((rnd() + 0.5) * 0x7ffffe)), // subnormal
    () => bitsOf(1 + Math.floor((rnd() + 0.5) * 15)), // the smallest subnormals
    () => 2 ** -126 * (1 + rnd()), // around the smallest normal
    () => TINY * (1 + rnd() * 1e-6), // around the float64 path's bound
    () => TINY,
    () => bitsOf(new Uint32Array(new Float32Array([TINY]).buffer)[0] - 1), // just below it
    () => 2 ** -100 * (1 + rnd()),
    () => 3e38 * (rnd() + 0.5), // huge: products overflow
  ];
  const pick = (special: boolean): number => {
    const x = special ? kinds[Math.floor((rnd() + 0.5) * kinds.length)]() : rnd();
    return rnd() < 0 ? -x : x;
  };
  const count = 4099; // 1024 groups of 4 and a tail of 3
  for (const [lr, eps] of [
    [0.01, 1e-7],
    [1e-30, 1e-8],
    [3, 1e-30],
  ]) {
    for (const bad of [false, true]) {
      const what = `lr ${lr}, eps ${eps}${bad ? ', with Inf and NaN' : ''}`;
      const sb = sandbox();
      const w = Float32Array.from({ length: count }, () => pick(rnd() < 0.2));
      const g = Float32Array.from({ length: count }, () => pick(rnd() < 0.5));
      const m = Float32Array.from({ length: count }, () => pick(rnd() < 0.7));
      const v = Float32Array.from({ length: count }, () => Math.abs(pick(rnd() < 0.7)));
      if (bad) {
        // an Inf or NaN in some groups that also hold subnormals: those take the float32 path
        for (let i = 0; i < count; i += 97) {
          [w, g, m, v][i % 4][i] = i % 2 ? Infinity : NaN;
        }
      }
      const [pw, pg, pm, pv] = [w, g, m, v].map((t) => sb.put(t));
      const outs = [0, 1, 2].map(() => sb.alloc(4 * count));
      const js = [0, 1, 2].map(() => new Float32Array(count));
      const flag = sb.alloc(4);
      const flagOk = (name: string, outW: Float32Array): void => {
        const f = sb.f32(flag, 1)[0];
        assert.equal(Number.isNaN(f), !outW.every(Number.isFinite), `${name} flag, ${what}`);
        assert.equal(Number.isNaN(f) || f === 0, true, `${name} flag is ±0 or NaN, ${what}`);
      };
      sb.k.momentum(pw, pg, pm, outs[0], outs[1], count, lr, 0.9, flag);
      ref.momentum(w, g, m, js[0], js[1], lr, 0.9);
      for (let i = 0; i < 2; i++) {
        const at = firstDifference(sb.f32(outs[i], count), js[i]);
        assert.ok(bitsEqual(sb.f32(outs[i], count), js[i]), `momentum output ${i}, ${what}: first difference at ${at}`); // prettier-ignore
      }
      flagOk('momentum', js[0]);
      const s = { lr, b1: 0.9, b2: 0.999, c1: 0.1, c2: 0.001, eps };
      sb.k.adam(pw, pg, pm, pv, outs[0], outs[1], outs[2], count, s.lr, s.b1, s.b2, s.c1, s.c2, s.eps, flag); // prettier-ignore
      ref.adam(w, g, m, v, js[0], js[1], js[2], s);
      for (let i = 0; i < 3; i++) {
        const at = firstDifference(sb.f32(outs[i], count), js[i]);
        assert.ok(bitsEqual(sb.f32(outs[i], count), js[i]), `adam output ${i}, ${what}: first difference at ${at}`); // prettier-ignore
      }
      flagOk('adam', js[0]);
    }
  }
});

test('wasm im2col, col2im, relu and add equal conv-ref bit for bit (odd shapes, padding, strides, batch 1)', () => {
  const rnd = filler(11);
  const geoms: Window2d[] = [
    { n: 1, h: 5, w: 7, c: 3, kh: 3, kw: 3, stride: 1, padTop: 1, padLeft: 1, oh: 5, ow: 7 },
    { n: 2, h: 7, w: 6, c: 5, kh: 3, kw: 3, stride: 2, padTop: 1, padLeft: 0, oh: 4, ow: 3 },
    { n: 3, h: 6, w: 5, c: 1, kh: 5, kw: 5, stride: 1, padTop: 2, padLeft: 2, oh: 6, ow: 5 },
    { n: 2, h: 4, w: 4, c: 7, kh: 1, kw: 1, stride: 2, padTop: 0, padLeft: 0, oh: 2, ow: 2 },
    { n: 1, h: 3, w: 3, c: 2, kh: 5, kw: 5, stride: 1, padTop: 2, padLeft: 2, oh: 3, ow: 3 },
    { n: 2, h: 8, w: 9, c: 4, kh: 2, kw: 3, stride: 3, padTop: 0, padLeft: 1, oh: 3, ow: 3 },
  ];
  for (const g of geoms) {
    const what = JSON.stringify(g);
    const sb = sandbox();
    const xs = g.n * g.h * g.w * g.c;
    const cs = g.n * g.oh * g.ow * g.kh * g.kw * g.c;
    const x = Float32Array.from({ length: xs }, rnd);
    const px = sb.put(x);
    const pcol = sb.put(Float32Array.from({ length: cs }, () => 99)); // stale values must go
    const args = [g.n, g.h, g.w, g.c, g.kh, g.kw, g.stride, g.padTop, g.padLeft, g.oh, g.ow] as const; // prettier-ignore
    sb.k.im2col(px, pcol, ...args);
    const col = new Float32Array(cs);
    conv.im2col(x, 0, g, col, 0);
    assert.ok(bitsEqual(sb.f32(pcol, cs), col), `im2col ${what}`);
    const dcol = Float32Array.from({ length: cs }, rnd);
    const pdcol = sb.put(dcol);
    const pdx = sb.put(Float32Array.from({ length: xs }, () => 99));
    sb.k.col2im(pdx, pdcol, ...args);
    const dx = new Float32Array(xs).fill(99);
    conv.col2im(dcol, 0, g, dx, 0);
    assert.ok(bitsEqual(sb.f32(pdx, xs), dx), `col2im ${what}`);
  }
  for (const count of [1, 3, 4, 9, 1003]) {
    const sb = sandbox();
    const a = Float32Array.from({ length: count }, rnd);
    a[0] = -0;
    if (count > 2) {
      a[1] = NaN;
      a[2] = -Infinity;
    }
    const b = Float32Array.from({ length: count }, rnd);
    const [pa, pb] = [a, b].map((t) => sb.put(t));
    const out = sb.alloc(4 * count);
    const js = new Float32Array(count);
    sb.k.relu(pa, out, count);
    conv.relu(a, 0, js, 0, count);
    assert.ok(bitsEqual(sb.f32(out, count), js), `relu ${count}`);
    sb.k.add(pa, pb, out, count);
    conv.add(a, 0, b, 0, js, 0, count);
    assert.ok(bitsEqual(sb.f32(out, count), js), `add ${count}`);
    // add with the following ReLU fused = relu(add), on both
    const unfused = new Float32Array(count);
    conv.relu(js, 0, unfused, 0, count);
    sb.k.addRelu(pa, pb, out, count);
    conv.add(a, 0, b, 0, js, 0, count, true);
    assert.ok(bitsEqual(js, unfused), `add + relu fused (JS) ${count}`);
    assert.ok(bitsEqual(sb.f32(out, count), unfused), `addRelu ${count}`);
  }
});

test('wasm maxPool and maxPoolGrad equal conv-ref bit for bit (ties, NaN, overlapping windows, 1–9 channels)', () => {
  const rnd = filler(13);
  const geoms: Window2d[] = [
    { n: 2, h: 28, w: 28, c: 6, kh: 2, kw: 2, stride: 2, padTop: 0, padLeft: 0, oh: 14, ow: 14 },
    { n: 1, h: 7, w: 6, c: 1, kh: 3, kw: 3, stride: 2, padTop: 0, padLeft: 0, oh: 3, ow: 2 },
    { n: 3, h: 5, w: 5, c: 4, kh: 3, kw: 2, stride: 1, padTop: 0, padLeft: 0, oh: 3, ow: 4 },
    { n: 2, h: 6, w: 7, c: 9, kh: 2, kw: 3, stride: 1, padTop: 0, padLeft: 0, oh: 5, ow: 5 },
    { n: 1, h: 4, w: 4, c: 3, kh: 4, kw: 4, stride: 1, padTop: 0, padLeft: 0, oh: 1, ow: 1 },
  ];
  for (const g of geoms) {
    const what = JSON.stringify(g);
    const xs = g.n * g.h * g.w * g.c;
    const ys = g.n * g.oh * g.ow * g.c;
    // few distinct values, so windows hold ties; some NaN, −0 and +0
    const x = Float32Array.from({ length: xs }, () => {
      const u = rnd() + 0.5;
      return u < 0.05 ? NaN : u < 0.1 ? -0 : u < 0.15 ? 0 : Math.round(u * 6) - 3;
    });
    const dy = Float32Array.from({ length: ys }, rnd);
    const sb = sandbox();
    const px = sb.put(x);
    const py = sb.put(new Float32Array(ys).fill(99));
    const geometry = [g.n, g.h, g.w, g.c, g.kh, g.kw, g.stride, g.oh, g.ow] as const;
    sb.k.maxPool(px, py, ...geometry);
    const y = new Float32Array(ys);
    conv.maxPool(x, 0, g, y, 0);
    assert.ok(bitsEqual(sb.f32(py, ys), y), `maxPool ${what}`);
    const pdx = sb.put(new Float32Array(xs).fill(99)); // stale values must go
    sb.k.maxPoolGrad(px, sb.put(dy), pdx, ...geometry);
    const dx = new Float32Array(xs);
    conv.maxPoolGrad(x, 0, dy, 0, g, dx, 0);
    assert.ok(bitsEqual(sb.f32(pdx, xs), dx), `maxPoolGrad ${what}`);
  }
});

test('wasm batch-norm loops equal conv-ref bit for bit (1–16 channels, 1–300 rows, NaN, ±Inf, tiny and huge values)', () => {
  const rnd = filler(17);
  for (const [rows, c] of [
    [1, 1],
    [3, 4],
    [7, 5],
    [300, 8],
    [50, 13],
    [2, 3],
    [129, 16],
  ] as const) {
    for (const specials of [false, true]) {
      const what = `rows=${rows} c=${c} specials=${specials}`;
      const sb = sandbox();
      const scratch = (sb.alloc(BN_SCRATCH_BYTES + 8) + 7) & ~7; // float64 views need 8-byte alignment
      const wasmLoops = new WasmBnLoops(sb.k, scratch, sb.buffer);
      const special = [NaN, Infinity, -Infinity, 1e-40, -3e30, 0, -0];
      const data = (n: number, scale: number): Float32Array =>
      Float32Array.from({ length: n }, (_, i) => (specials && i % 37 === 5 ? special[i % special.length] : rnd() * scale)); // prettier-ignore
      const inputs = {
        x: data(rows * c, 8),
        dy: data(rows * c, 2),
        gamma: data(c, 3),
        beta: data(c, 1),
        runMean: data(c, 1),
        runVar: Float32Array.from({ length: c }, () => rnd() + 0.6),
      };
      // the same inputs as views of the wasm memory, outputs too
      const heap = (a: Float32Array): Float32Array => new Float32Array(sb.buffer(), sb.put(a), a.length); // prettier-ignore
      const run = (loops: BnLoops, onHeap: boolean): Float32Array[] => {
        const v = (a: Float32Array): Float32Array => (onHeap ? heap(a) : a.slice());
        const x = v(inputs.x);
        const out = () => v(new Float32Array(c).fill(99));
        const saved = { mean: out(), invstd: out(), newMean: out(), newVar: out() };
        const y = v(new Float32Array(rows * c).fill(99));
        conv.batchNormTrain(x, 0, rows, c, v(inputs.gamma), 0, v(inputs.beta), 0, v(inputs.runMean), 0, v(inputs.runVar), 0, y, 0, saved, loops); // prettier-ignore
        // with the following ReLU fused: relu(y), in the same pass
        const yRelu = v(new Float32Array(rows * c).fill(99));
        conv.batchNormTrain(x, 0, rows, c, v(inputs.gamma), 0, v(inputs.beta), 0, v(inputs.runMean), 0, v(inputs.runVar), 0, yRelu, 0, { mean: out(), invstd: out(), newMean: out(), newVar: out() }, loops, true); // prettier-ignore
        const unfused = new Float32Array(rows * c);
        conv.relu(y.slice(), 0, unfused, 0, rows * c);
        assert.equal(firstDifference(yRelu.slice(), unfused), -1, `batch norm + relu fused = relu(batch norm), ${what}`); // prettier-ignore
        const dx = v(new Float32Array(rows * c).fill(99));
        const [dg, db] = [out(), out()];
        conv.batchNormGrad(x, 0, v(inputs.dy), 0, rows, c, v(inputs.gamma), 0, saved.mean, saved.invstd, dx, 0, dg, 0, db, 0, loops); // prettier-ignore
        return [y, saved.mean, saved.invstd, saved.newMean, saved.newVar, dx, dg, db].map((t) => t.slice()); // prettier-ignore
      };
      const want = run(JS_BN_LOOPS, false);
      const got = run(wasmLoops, true);
      ['y', 'mean', 'invstd', 'newMean', 'newVar', 'dx', 'dgamma', 'dbeta'].forEach((name, i) => {
        assert.equal(firstDifference(got[i], want[i]), -1, `${name}, ${what}`);
      });
    }
  }
});

test('wasm transpose moves every float bit for bit (4×4 blocks and every edge, NaN payloads)', () => {
  const sb = wasmSandbox(64);
  const sizes = [1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 31];
  for (const rows of sizes) {
    for (const cols of sizes) {
      // distinct bit patterns, NaN with payloads among them
      const bits = Uint32Array.from({ length: rows * cols }, (_, i) => (i % 5 === 0 ? 0x7fc00000 | i : 0x3f800000 + 977 * i)); // prettier-ignore
      const src = sb.put(new Float32Array(bits.buffer));
      const dst = sb.alloc(4 * rows * cols + 64);
      new Uint32Array(sb.buffer(), dst, rows * cols + 16).fill(0xdeadbeef);
      sb.k.transpose(src, dst, rows, cols);
      const got = new Uint32Array(sb.buffer(), dst, rows * cols + 16);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          assert.equal(got[c * rows + r], bits[r * cols + c], `${rows}×${cols} at (${r}, ${c})`);
        }
      }
      assert.ok(got.subarray(rows * cols).every((v) => v === 0xdeadbeef), `${rows}×${cols}: nothing written past the end`); // prettier-ignore
    }
  }
});

test('wasm gatherRows converts bytes exactly like PIXEL_TO_FLOAT', () => {
  const sb = sandbox();
  const rows = 300;
  // runs of black pixels (whole 8-byte groups, and groups with one lit pixel) between others
  const pixels = Uint8Array.from({ length: rows * 784 }, (_, i) =>
    i % 784 < 200 || (i >> 3) % 3 === 0 ? (i % 61 === 0 ? 1 : 0) : (i * 7 + (i >> 8)) & 255,
  );
  const idx = Int32Array.from([299, 0, 17, 17, 150]);
  const pp = sb.put(pixels);
  const pi = sb.put(idx);
  const out = sb.put(new Float32Array(idx.length * 784).fill(99)); // stale values must go
  sb.k.gatherRows(pp, pi, idx.length, out);
  const want = new Float32Array(idx.length * 784);
  idx.forEach((r, n) => {
    for (let i = 0; i < 784; i++) {
      want[n * 784 + i] = PIXEL_TO_FLOAT[pixels[r * 784 + i]];
    }
  });
  assert.ok(bitsEqual(sb.f32(out, want.length), want));
});

test('fused layer kernels match a float64 forward/backward, on wasm and cpu alike', async () => {
  const rnd = filler(3);
  const [n, k, h] = [6, 11, 5];
  const xs = Float32Array.from({ length: n * k }, rnd);
  const ws = Float32Array.from({ length: k * h }, rnd);
  const bs = Float32Array.from({ length: h }, rnd);
  const dys = Float32Array.from({ length: n * h }, rnd);
  const labels = Int32Array.from({ length: n }, (_, i) => i % h);
  const results: Float32Array[][] = [];
  for (const backend of ['wasm', 'cpu'] as const) {
    await useBackend(backend);
    const out = tf.tidy(() => {
      const x = tf.tensor2d(xs, [n, k]);
      const w = tf.tensor2d(ws, [k, h]);
      const b = tf.tensor1d(bs);
      const y = dense(x, w, b, true);
      const g = denseBackward(x, w, y, tf.tensor2d(dys, [n, h]), true, true);
      const ce = softmaxCrossEntropy(y, tf.tensor1d(labels, 'int32'));
      return [y, g.dw, g.db, g.dx!, ce.loss, ce.dlogits].map(
        (t) => new Float32Array(t.dataSync() as Float32Array),
      );
    });
    results.push(out);
  }
  results[0].forEach((t, i) => assert.ok(bitsEqual(t, results[1][i]), `output ${i}: wasm = cpu`));
  // float64 reference
  const [y, dw, db, dx] = results[0];
  const z = new Float64Array(n * h);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < h; j++) {
      let s = bs[j];
      for (let p = 0; p < k; p++) {
        s += xs[i * k + p] * ws[p * h + j];
      }
      z[i * h + j] = s;
      assert.ok(Math.abs(y[i * h + j] - Math.max(s, 0)) < 1e-6, 'forward');
    }
  }
  const dz = dys.map((d, i) => (z[i] > 0 ? d : 0));
  for (let p = 0; p < k; p++) {
    for (let j = 0; j < h; j++) {
      let s = 0;
      for (let i = 0; i < n; i++) {
        s += xs[i * k + p] * dz[i * h + j];
      }
      assert.ok(Math.abs(dw[p * h + j] - s) < 1e-6, 'dW');
    }
  }
  for (let j = 0; j < h; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) {
      s += dz[i * h + j];
    }
    assert.ok(Math.abs(db[j] - s) < 1e-6, 'db');
  }
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < k; p++) {
      let s = 0;
      for (let j = 0; j < h; j++) {
        s += dz[i * h + j] * ws[p * h + j];
      }
      assert.ok(Math.abs(dx[i * k + p] - s) < 1e-6, 'dx');
    }
  }
});

test('training gives the same weights on wasm and cpu (same kernels, same bits)', async () => {
  for (const kind of ['sgd', 'adam'] as const) {
    const tensors = [];
    for (const backend of ['wasm', 'cpu'] as const) {
      const t = await Trainer.create(fakeConfig({ backend, optimizer: optimizerOf(kind) }));
      try {
        for (let i = 0; i < 5; i++) {
          t.trainStep();
        }
        tensors.push(t.snapshot().tensors);
      } finally {
        t.dispose();
      }
    }
    for (const name of Object.keys(tensors[0])) {
      assert.ok(bitsEqual(tensors[0][name].data, tensors[1][name].data), `${kind} ${name}`);
    }
  }
});

test("run calls our kernels directly: the tensors, bits and scopes of tfjs's runKernel", async () => {
  for (const backend of ['wasm', 'cpu'] as const) {
    await useBackend(backend);
    const rnd = filler(17);
    const x = tf.tensor2d(Float32Array.from({ length: 6 * 5 }, rnd), [6, 5]);
    const w = tf.tensor2d(Float32Array.from({ length: 5 * 4 }, rnd), [5, 4]);
    const b = tf.tensor1d(Float32Array.from({ length: 4 }, rnd));
    try {
      const want = tf.tidy(() => tf.engine().runKernel<tf.Tensor>(K.dense, { x, w, b }, { relu: true }).dataSync()); // prettier-ignore
      const tensors = tf.memory().numTensors;
      const before = kernelsRunDirectly();
      let kept: tf.Tensor[] = [];
      const got = tf.tidy(() => {
        const y = run<tf.Tensor2D>(K.dense, { x, w, b }, { relu: true });
        assert.deepEqual(y.shape, [6, 4]);
        assert.equal(tf.memory().numTensors, tensors + 1, `${backend}: the output is a tracked tensor`); // prettier-ignore
        // several outputs: each a tensor (the weight gradient, its bias's, dx)
        kept = run<tf.Tensor[]>(K.denseGrad, { x, w, y, dy: y }, { relu: true, wantDx: true });
        assert.deepEqual(
          kept.map((t) => t.shape),
          [[5, 4], [4], [6, 5]],
        );
        kept = kept.map((t) => tf.keep(t));
        return y.dataSync();
      });
      assert.equal(kernelsRunDirectly(), before + 2, `${backend}: run called the kernels itself`);
      assert.ok(bitsEqual(got as Float32Array, want as Float32Array), `${backend}: runKernel's bits`); // prettier-ignore
      assert.equal(tf.memory().numTensors, tensors + 3, `${backend}: the scope disposed what it did not keep`); // prettier-ignore
      kept.forEach((t) => t.dispose());
      assert.equal(tf.memory().numTensors, tensors);
      // while tfjs profiles, its runKernel runs (and sees our kernel)
      const profile = await tf.profile(() => tf.tidy(() => tf.sum(run<tf.Tensor>(K.dense, { x, w, b }, { relu: false })))); // prettier-ignore
      assert.ok(profile.kernelNames.includes(K.dense), profile.kernelNames.join(', '));
      assert.equal(kernelsRunDirectly(), before + 2);
    } finally {
      [x, w, b].forEach((t) => t.dispose());
    }
  }
});
