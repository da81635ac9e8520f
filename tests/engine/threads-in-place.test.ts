/**
 * Kernel threads in place on a shared heap (src/main/engine/kernels/shared-heap.ts, threads.ts):
 * - withSharedMemory declares a module's one defined memory shared and changes nothing else
 *   (a hand-made module and tfjs's own binary instantiate with a SharedArrayBuffer heap); it
 *   refuses modules that import their memory, already share it, or do not parse;
 * - the wasm backend comes up with its heap shared and trains (the bits are the golden table's);
 * - on a shared memory, the pool splits the dense GEMM (plain and packed), the gathered GEMM
 *   (A read in place and packed, each thread into its own panel), the sparse GEMM's
 *   compressed rows and the pixel gather in bands of rows, col2im, max pooling (forward and
 *   gradient) and the padded copy of x in bands of images, and the ReLU mask in runs of
 *   elements, with no copies, and 2 and 3 threads give the bits of one
 *   (NaN meets NaN, see firstDifference) — with the workers computing every chunk, and with the
 *   calling thread claiming chunks too;
 * - a batch's compressed rows transposed ahead, in the background, serve its weight gradient
 *   xᵀ·dz with the bits of the transpose made on the spot, batch after batch;
 * - a job in the background that has finished leaves its slot to the next before it is joined.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../src/main/engine/backend';
import { SHARED_HEAP_MAX_PAGES, sharedHeap, withSharedMemory } from '../../src/main/engine/kernels/shared-heap'; // prettier-ignore
import { aheadTransposesFound, WasmSparseGemm } from '../../src/main/engine/kernels/sparse';
import { GemmPool, Kernel, MIN_THREADED_FLOATS } from '../../src/main/engine/kernels/threads';
import {
  kernelModuleBytes,
  PANEL_BYTES,
  ROW_BYTES,
  WA,
} from '../../src/main/engine/kernels/wasm-module';
import { WasmWindowGemm } from '../../src/main/engine/kernels/windows';
import { firstDifference, wasmSandbox } from '../helpers/wasm-sandbox';
import { lcg } from '../helpers/random';

const require = createRequire(import.meta.url);

function data(len: number, rnd: () => number, zeros = 0.2, specials = true): Float32Array {
  return Float32Array.from({ length: len }, () => {
    const u = rnd();
    if (specials && u < 0.01) {
      return [NaN, Infinity, -Infinity, -0, 1e-40][Math.floor(rnd() * 5)];
    }
    return u < zeros ? (rnd() < 0.5 ? 0 : -0) : (rnd() - 0.5) * 3;
  });
}

/** A module that defines one memory of `min` pages (max `max` when given) and exports it. */
function memoryModule(min: number, max?: number): Uint8Array {
  const leb = (v: number): number[] => (v < 128 ? [v] : [0x80 | (v & 0x7f), ...leb(v >>> 7)]);
  const limits = max === undefined ? [0x00, ...leb(min)] : [0x01, ...leb(min), ...leb(max)];
  const mem = [1, ...limits];
  const exp = [1, 6, ...Buffer.from('memory'), 0x02, 0];
  return new Uint8Array([
    0, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    5, mem.length, ...mem,
    7, exp.length, ...exp,
  ]); // prettier-ignore
}

test('withSharedMemory: the one defined memory becomes shared, nothing else changes', async () => {
  for (const [min, max] of [
    [1, undefined],
    [2, 100],
  ] as [number, number | undefined][]) {
    const plain = memoryModule(min, max);
    const before = new WA.Instance(new WA.Module(plain as Uint8Array<ArrayBuffer>), {}).exports as { memory: { buffer: unknown } }; // prettier-ignore
    assert.ok(!(before.memory.buffer instanceof SharedArrayBuffer));
    const shared = withSharedMemory(plain)!;
    assert.ok(shared, 'patched');
    const after = new WA.Instance(new WA.Module(shared as Uint8Array<ArrayBuffer>), {}).exports as { memory: { buffer: ArrayBufferLike } }; // prettier-ignore
    assert.ok(after.memory.buffer instanceof SharedArrayBuffer, 'shared');
    assert.equal(after.memory.buffer.byteLength, min * 65536, 'same initial size');
    // only the memory section changed: the export section is byte for byte the same
    assert.deepEqual([...shared.subarray(shared.length - 12)], [...plain.subarray(plain.length - 12)]); // prettier-ignore
  }
  // refused: our kernels import their memory; an already shared memory; garbage; no memory
  assert.equal(withSharedMemory(kernelModuleBytes()), null);
  assert.equal(withSharedMemory(withSharedMemory(memoryModule(1))!), null);
  assert.equal(withSharedMemory(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9])), null);
  assert.equal(withSharedMemory(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])), null);
  assert.equal(withSharedMemory(memoryModule(SHARED_HEAP_MAX_PAGES + 1)), null);
  // tfjs's SIMD binary: patched, and it compiles
  const dist = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  const tfjs = readFileSync(join(dist, 'tfjs-backend-wasm-simd.wasm'));
  const patched = withSharedMemory(tfjs);
  assert.ok(patched, 'tfjs binary patched');
  assert.ok(new WA.Module(patched as Uint8Array<ArrayBuffer>));
});

test('the wasm backend runs on a shared heap', async () => {
  await useBackend('wasm');
  const backend = tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array; asm: { memory: unknown } } }; // prettier-ignore
  assert.ok(backend.wasm.HEAPU8.buffer instanceof SharedArrayBuffer);
  assert.ok(sharedHeap(backend.wasm.asm.memory));
  const y = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5], [6]])); // prettier-ignore
  assert.deepEqual([...y.dataSync()], [17, 39]);
});

test('in place on a shared heap: 2 and 3 threads give the bits of one for every banded kernel', () => {
  const sb = wasmSandbox(512, true);
  const heap = { malloc: (b: number) => sb.alloc(b), free: () => {} };
  const rnd = lcg(5);
  // the calling thread claims no chunk (the workers compute everything), then it claims too
  for (const [threads, callerWorks] of [
    [2, false],
    [3, false],
    [2, true],
  ] as const) {
    const pool = new GemmPool(threads, 0, true, sb.memory, callerWorks);
    try {
      const compare = (
        what: string,
        one: () => number,
        split: () => number,
        floats: number,
        splitCalls = 1,
      ): void => {
        // prettier-ignore
        const [calls, chunks] = [pool.calls, pool.workerChunks()];
        const c1 = one();
        const c2 = split();
        assert.equal(pool.calls, calls + splitCalls, `${what}: ${threads} threads ran`);
        if (!callerWorks) {
          assert.ok(pool.workerChunks() > chunks, `${what}: the workers computed it`);
        }
        const d = firstDifference(sb.f32(c2, floats), sb.f32(c1, floats));
        assert.equal(d, -1, `${what}: ${threads} threads differ at ${d}`);
      };
      // dense GEMM, A strided as in a weight gradient
      const [m, n, k] = [37, 21, 19];
      const a = sb.put(data(m * k, rnd));
      const b = sb.put(data(k * n, rnd));
      const bias = sb.put(data(n, rnd, 0, false));
      compare('gemm', () => {
        const c = sb.alloc(4 * m * n);
        sb.k.gemm(a, 4, 4 * m, b, 4 * n, c, 4 * n, m, n, k, bias, 1, 1);
        return c;
      }, () => {
        const c = sb.alloc(4 * m * n);
        assert.ok(pool.gemm(new Uint8Array(sb.buffer()), a, 1, m, b, n, c, n, m, n, k, bias, true));
        return c;
      }, m * n); // prettier-ignore
      // few rows and many columns: bands of columns (the last one partial, with SIMD tails),
      // A in rows and strided
      for (const [cm, cn, ck, rs, ks] of [
        [20, 83, 19, 19, 1],
        [8, 64, 33, 1, 8],
      ]) {
        const ca = sb.put(data(cm * ck, rnd));
        const cb = sb.put(data(ck * cn, rnd));
        const cbias = sb.put(data(cn, rnd, 0, false));
        const before = pool.columnCalls;
        compare(`gemm in bands of columns m=${cm} n=${cn}`, () => {
          const c = sb.alloc(4 * cm * cn);
          sb.k.gemm(ca, 4 * rs, 4 * ks, cb, 4 * cn, c, 4 * cn, cm, cn, ck, cbias, 1, 1);
          return c;
        }, () => {
          const c = sb.alloc(4 * cm * cn);
          assert.ok(pool.gemm(new Uint8Array(sb.buffer()), ca, rs, ks, cb, cn, c, cn, cm, cn, ck, cbias, true)); // prettier-ignore
          return c;
        }, cm * cn); // prettier-ignore
        assert.equal(pool.columnCalls, before + 1, `m=${cm} n=${cn}: in bands of columns`);
      }
      // the packed dense GEMM (gemmP), each thread packing into its own panel: the strided A
      // above, and one big enough (k over two chunks) that threads run chunks at the same time
      const panels = sb.alloc(threads * PANEL_BYTES);
      const [pm, pn, pk] = [1031, 22, 300];
      const pa = sb.put(data(pm * pk, rnd));
      const pb = sb.put(data(pk * pn, rnd));
      for (const [A, rs, ks, M, N, K, B] of [
        [a, 1, m, m, n, k, b],
        [pa, pk, 1, pm, pn, pk, pb],
      ]) {
        compare(`gemmP m=${M}`, () => {
          const c = sb.alloc(4 * M * N);
          sb.k.gemm(A, 4 * rs, 4 * ks, B, 4 * N, c, 4 * N, M, N, K, bias, 1, 1);
          return c;
        }, () => {
          const c = sb.alloc(4 * M * N);
          const marked = new Uint8Array(sb.buffer(), panels, threads * PANEL_BYTES);
          marked.fill(0xab);
          assert.ok(pool.gemm(new Uint8Array(sb.buffer()), A, rs, ks, B, N, c, N, M, N, K, bias, true, [panels, PANEL_BYTES])); // prettier-ignore
          // each thread packs into its own panel: with the workers claiming every chunk, the
          // caller's (thread 0) stays untouched
          const used = [...Array(threads).keys()].map((t) => new Uint8Array(sb.buffer(), panels + t * PANEL_BYTES, PANEL_BYTES).some((v) => v !== 0xab)); // prettier-ignore
          if (!callerWorks) {
            assert.ok(!used[0], `gemmP m=${M}: the caller's panel is untouched`);
            assert.ok(used.slice(1).some((u) => u), `gemmP m=${M}: the workers packed into their own panels`); // prettier-ignore
          }
          return c;
        }, M * N); // prettier-ignore
      }
      // gathered GEMM (a 'same' convolution), forward and transposed
      const g = { n: 2, h: 9, w: 7, c: 3, kh: 3, kw: 3, stride: 1, padTop: 1, padLeft: 1, oh: 9, ow: 7 }; // prettier-ignore
      const x = sb.put(data(2 * 9 * 7 * 3, rnd));
      const one = new WasmWindowGemm(sb.k, heap, sb.buffer);
      const split = new WasmWindowGemm(sb.k, heap, sb.buffer, () => pool);
      // (3 channels or 5 columns: A read in place; 4 channels and 21 columns: A packed per row
      // tile, into each thread's own panel)
      const g4 = { ...g, c: 4 };
      const x4 = sb.put(data(2 * 9 * 7 * 4, rnd));
      for (const [geo, img, transposed, cols] of [
        [g, x, false, 5],
        [g, x, true, 5],
        [g, x, false, 21],
        [g4, x4, false, 21],
        [g4, x4, true, 21],
      ] as const) {
        // prettier-ignore
        const [rows, kk] = transposed ? [9 * geo.c, 126] : [126, 9 * geo.c];
        const w = sb.put(data(kk * cols, rnd, 0.2, !transposed));
        compare(
          `gemmG c=${geo.c} transposed=${transposed} n=${cols}`,
          () => {
            const c = sb.alloc(4 * rows * cols);
            one.gemm(img, geo, transposed, w, cols, c, cols, cols, 0, !transposed, 1);
            return c;
          },
          () => {
            const c = sb.alloc(4 * rows * cols);
            split.gemm(img, geo, transposed, w, cols, c, cols, cols, 0, !transposed, 1);
            return c;
          },
          rows * cols,
          2,
        ); // (the padded copy of x in bands of images, then the GEMM) // prettier-ignore
      }
      // a weight gradient with its bias gradient alongside (1ᵀ·B, one more chunk of the call)
      const [wr, wk, wn] = [9 * g.c, 126, 5];
      const dzb = sb.put(data(wk * wn, rnd, 0.2, false));
      const unit = sb.put(new Float32Array([1, 0, 0, 0]));
      const sumsArgs = (out: number): number[] => [unit, 0, 0, dzb, 4 * wn, out, 4 * wn, 1, wn, wk, 0, 0, 1]; // prettier-ignore
      const [s1, s2] = [sb.alloc(4 * wn), sb.alloc(4 * wn)];
      compare('gemmG transposed, 1ᵀ·B alongside', () => {
        const c = sb.alloc(4 * wr * wn);
        one.gemm(x, g, true, dzb, wn, c, wn, wn, 0, false, 1);
        sb.k.gemm(unit, 0, 0, dzb, 4 * wn, s1, 4 * wn, 1, wn, wk, 0, 0, 1);
        return c;
      }, () => {
        const c = sb.alloc(4 * wr * wn);
        assert.ok(split.gemm(x, g, true, dzb, wn, c, wn, wn, 0, false, 1, undefined, sumsArgs(s2)), 'run alongside'); // prettier-ignore
        return c;
      }, wr * wn, 2); // prettier-ignore
      assert.equal(firstDifference(sb.f32(s2, wn), sb.f32(s1, wn)), -1, '1ᵀ·B alongside');
      // a pool on a memory of its own (operands copied in) runs nothing alongside: false, and
      // the GEMM itself on one thread, the caller then running 1ᵀ·B
      const apart = new GemmPool(threads, 0, true);
      try {
        const c1 = sb.alloc(4 * wr * wn);
        one.gemm(x, g, true, dzb, wn, c1, wn, wn, 0, false, 1);
        const c2 = sb.alloc(4 * wr * wn);
        const away = new WasmWindowGemm(sb.k, heap, sb.buffer, () => apart);
        assert.equal(away.gemm(x, g, true, dzb, wn, c2, wn, wn, 0, false, 1, undefined, sumsArgs(s2)), false); // prettier-ignore
        assert.equal(firstDifference(sb.f32(c2, wr * wn), sb.f32(c1, wr * wn)), -1, 'out of place');
      } finally {
        apart.close();
      }
      // sparse GEMM: A mostly zeros (NaN in A counts as nonzero), B finite
      const [sm, sn, sk] = [45, 30, 64];
      const sa = sb.put(data(sm * sk, rnd, 0.85));
      const sbm = sb.put(data(sk * sn, rnd, 0.1, false));
      const sparse1 = new WasmSparseGemm(sb.k, heap, sb.buffer);
      const sparse2 = new WasmSparseGemm(sb.k, heap, sb.buffer, () => pool);
      compare('gemmCsr', () => {
        const c = sb.alloc(4 * sm * sn);
        assert.ok(sparse1.gemm(sa, sk, 1, sbm, sn, c, sn, sm, sn, sk, 0, true, 1));
        return c;
      }, () => {
        const c = sb.alloc(4 * sm * sn);
        assert.ok(sparse2.gemm(sa, sk, 1, sbm, sn, c, sn, sm, sn, sk, 0, true, 1));
        return c;
      }, sm * sn); // prettier-ignore
      // pixel gather
      const rowsN = 23;
      const pixels = sb.put(Uint8Array.from({ length: 40 * ROW_BYTES }, () => (rnd() < 0.7 ? 0 : Math.floor(rnd() * 256)))); // prettier-ignore
      const idx = sb.put(Int32Array.from({ length: rowsN }, () => Math.floor(rnd() * 40)));
      compare('gatherRows', () => {
        const out = sb.alloc(4 * rowsN * ROW_BYTES);
        sb.k.gatherRows(pixels, idx, rowsN, out);
        return out;
      }, () => {
        const out = sb.alloc(4 * rowsN * ROW_BYTES);
        assert.ok(pool.gatherRows(pixels, idx, rowsN, out, ROW_BYTES, 1));
        return out;
      }, rowsN * ROW_BYTES); // prettier-ignore
      // per-image kernels in bands of whole images: col2im, max pooling and its gradient
      const [ni, h, w, c] = [5, 12, 10, 3];
      const img = h * w * c;
      const px = sb.put(data(ni * img, rnd));
      const kcol = 27 * h * w;
      const dcol = sb.put(data(ni * kcol, rnd));
      const args = (out: number) => (first: number, count: number): number[] =>
        [out + 4 * first * img, dcol + 4 * first * kcol, count, h, w, c, 3, 3, 1, 1, 1, h, w]; // prettier-ignore
      compare('col2im', () => {
        const out = sb.alloc(4 * ni * img);
        sb.k.col2im(...(args(out)(0, ni) as Parameters<typeof sb.k.col2im>));
        return out;
      }, () => {
        const out = sb.alloc(4 * ni * img);
        assert.ok(pool.images(Kernel.col2im, ni, MIN_THREADED_FLOATS, args(out)));
        return out;
      }, ni * img); // prettier-ignore
      const [oh, ow] = [5, 4]; // 3×3 windows, stride 2 (overlapping)
      const oimg = oh * ow * c;
      const dyp = sb.put(data(ni * oimg, rnd));
      const geo = (count: number): number[] => [count, h, w, c, 3, 3, 2, oh, ow];
      compare('maxPool', () => {
        const y = sb.alloc(4 * ni * oimg);
        sb.k.maxPool(px, y, ...(geo(ni) as [number, number, number, number, number, number, number, number, number])); // prettier-ignore
        return y;
      }, () => {
        const y = sb.alloc(4 * ni * oimg);
        assert.ok(pool.images(Kernel.maxPool, ni, MIN_THREADED_FLOATS, (f, cnt) => [px + 4 * f * img, y + 4 * f * oimg, ...geo(cnt)])); // prettier-ignore
        return y;
      }, ni * oimg); // prettier-ignore
      compare('maxPoolGrad', () => {
        const dx = sb.alloc(4 * ni * img);
        sb.k.maxPoolGrad(px, dyp, dx, ...(geo(ni) as [number, number, number, number, number, number, number, number, number])); // prettier-ignore
        return dx;
      }, () => {
        const dx = sb.alloc(4 * ni * img);
        assert.ok(pool.images(Kernel.maxPoolGrad, ni, MIN_THREADED_FLOATS, (f, cnt) => [px + 4 * f * img, dyp + 4 * f * oimg, dx + 4 * f * img, ...geo(cnt)])); // prettier-ignore
        return dx;
      }, ni * img); // prettier-ignore
      // elementwise in runs of whole lines: the ReLU mask on an odd count (a SIMD tail)
      const count = 4 * 1031 + 3;
      const [dyE, yE] = [sb.put(data(count, rnd)), sb.put(data(count, rnd, 0.4))];
      compare('reluMask', () => {
        const out = sb.alloc(4 * count);
        sb.k.reluMask(dyE, yE, out, count);
        return out;
      }, () => {
        const out = sb.alloc(4 * count);
        assert.ok(pool.elements(Kernel.reluMask, count, (f, cnt) => [dyE + 4 * f, yE + 4 * f, out + 4 * f, cnt])); // prettier-ignore
        return out;
      }, count); // prettier-ignore
      // the padded copy in bands of images (border +0 on every side, stale contents overwritten)
      const [hp, wp] = [h + 3, w + 2];
      const pimg = hp * wp * c;
      const padArgs = (out: number) => (f: number, cnt: number): number[] => [px + 4 * f * img, out + 4 * f * pimg, cnt, h, w, c, 1, 1, hp, wp]; // prettier-ignore
      const stale = (): number => sb.put(new Float32Array(ni * pimg).fill(-7));
      compare('pad', () => {
        const out = stale();
        sb.k.pad(...(padArgs(out)(0, ni) as Parameters<typeof sb.k.pad>));
        return out;
      }, () => {
        const out = stale();
        assert.ok(pool.images(Kernel.pad, ni, MIN_THREADED_FLOATS, padArgs(out)));
        return out;
      }, ni * pimg); // prettier-ignore
    } finally {
      pool.close();
    }
  }
});

test("a batch's transpose ahead outlives the next layer's sparse scan (an MLP trained with adam), with the bits of one thread", () => {
  const sb = wasmSandbox(512, true);
  const heap = { malloc: (b: number) => sb.alloc(b), free: () => {} };
  const rnd = lcg(23);
  const pool = new GemmPool(2, 0, true, sb.memory, true);
  try {
    const one = new WasmSparseGemm(sb.k, heap, sb.buffer);
    const two = new WasmSparseGemm(sb.k, heap, sb.buffer, () => pool);
    // x (m × k) → h = x·W1 (m × n1), sparse like a ReLU's output → h·W2 (m × n2); backward:
    // hᵀ·dz2, then xᵀ·dz1 — the order of a step of a two-layer MLP
    const [m, k, n1, n2] = [40, 96, 36, 12];
    const [w1, w2] = [sb.put(data(k * n1, rnd, 0.1, false)), sb.put(data(n1 * n2, rnd, 0.1, false))]; // prettier-ignore
    const before = [aheadTransposesFound(m, k), aheadTransposesFound(m, n1)];
    const steps = 5;
    for (let step = 0; step < steps; step++) {
      const x = sb.put(data(m * k, rnd, 0.85));
      const h = sb.put(data(m * n1, rnd, 0.8, false));
      const [dz1, dz2] = [sb.put(data(m * n1, rnd, 0.3, false)), sb.put(data(m * n2, rnd, 0.3, false))]; // prettier-ignore
      const [kx, kh] = [{}, {}];
      const outs = [one, two].map((g) => {
        const [y1, y2] = [sb.alloc(4 * m * n1), sb.alloc(4 * m * n2)];
        const [dw2, dw1] = [sb.alloc(4 * n1 * n2), sb.alloc(4 * k * n1)];
        assert.ok(g.gemm(x, k, 1, w1, n1, y1, n1, m, n1, k, 0, true, 1, kx));
        assert.ok(g.gemm(h, n1, 1, w2, n2, y2, n2, m, n2, n1, 0, false, 1, kh));
        assert.ok(g.gemm(h, 1, n1, dz2, n2, dw2, n2, n1, n2, m, 0, false, 1, kh));
        assert.ok(g.gemm(x, 1, k, dz1, n1, dw1, n1, k, n1, m, 0, false, 1, kx));
        return [[y1, m * n1], [y2, m * n2], [dw2, n1 * n2], [dw1, k * n1]] as const; // prettier-ignore
      });
      outs[0].forEach(([c1, floats], i) => {
        const d = firstDifference(sb.f32(outs[1][i][0], floats), sb.f32(c1, floats));
        assert.equal(d, -1, `step ${step}: product ${i} differs at ${d}`);
      });
    }
    // the first step teaches both shapes; in every later one the weight gradient of the first
    // layer found x's transpose made ahead, and h's was made when read (before, h's scan
    // replaced it: the calling thread waited for x's, then made it again)
    assert.equal(aheadTransposesFound(m, k) - before[0], steps - 1);
    assert.equal(aheadTransposesFound(m, n1) - before[1], 0);
  } finally {
    pool.close();
  }
});

test('a kept scan transposed ahead in the background serves xᵀ·dz with the bits of one thread', () => {
  const sb = wasmSandbox(512, true);
  const heap = { malloc: (b: number) => sb.alloc(b), free: () => {} };
  const rnd = lcg(17);
  for (const callerWorks of [false, true]) {
    const pool = new GemmPool(2, 0, true, sb.memory, callerWorks);
    try {
      const one = new WasmSparseGemm(sb.k, heap, sb.buffer);
      const two = new WasmSparseGemm(sb.k, heap, sb.buffer, () => pool);
      // batches of 37 × 83 (mostly zeros, NaN counting as nonzero), W 83 × 30, dz 37 × 30
      const [m, k, n] = [37, 83, 30];
      const w = sb.put(data(k * n, rnd, 0.1, false));
      const found = aheadTransposesFound();
      const batches = 6;
      for (let b = 0; b < batches; b++) {
        // two batches at a time: both forward passes, then both weight gradients — the first
        // gradient finds its batch's transpose made ahead (one at a time: the second batch's,
        // whose forward pass came while the first's was still unread, is made when read)
        const xs = [0, 1].map(() => sb.put(data(m * k, rnd, 0.85)));
        const dz = sb.put(data(m * n, rnd, 0.3, false));
        const keys = [{}, {}];
        const outs = [one, two].map((g) => {
          // the forward x·W keeps x's scan; the weight gradient reads it as Aᵀ (A[i,p] = x[p,i])
          const ys = xs.map((x, i) => {
            const y = sb.alloc(4 * m * n);
            assert.ok(g.gemm(x, k, 1, w, n, y, n, m, n, k, 0, true, 1, keys[i]));
            return y;
          });
          const dws = xs.map((x, i) => {
            const dw = sb.alloc(4 * k * n);
            assert.ok(g.gemm(x, 1, k, dz, n, dw, n, k, n, m, 0, false, 1, keys[i]));
            return dw;
          });
          return [...ys, ...dws];
        });
        outs[0].forEach((c1, i) => {
          const floats = i < 2 ? m * n : k * n;
          const d = firstDifference(sb.f32(outs[1][i], floats), sb.f32(c1, floats));
          assert.equal(d, -1, `batch ${b}, caller ${callerWorks ? 'works too' : 'waits'}: ${i < 2 ? 'x·W' : 'xᵀ·dz'} of the ${i % 2 ? 'second' : 'first'} differs at ${d}`); // prettier-ignore
        });
      }
      // the first pair teaches the shape; in every later one, the first found its transpose
      assert.equal(aheadTransposesFound(), found + batches - 1);
    } finally {
      pool.close();
    }
  }
});

test('a job in the background that has finished leaves its slot to the next one before it is joined', async () => {
  const sb = wasmSandbox(64, true);
  const pool = new GemmPool(2, 0, true, sb.memory, true);
  try {
    // gatherRows jobs: four 784-byte rows of pixels to floats
    const pixels = sb.put(Uint8Array.from({ length: 4 * ROW_BYTES }, (_, i) => i % 251));
    const indices = sb.put(Int32Array.of(3, 0, 2, 1));
    const outs = [sb.alloc(4 * 4 * ROW_BYTES), sb.alloc(4 * 4 * ROW_BYTES)];
    assert.ok(pool.post(Kernel.gatherRows, [pixels, indices, 4, outs[0]]));
    // while it runs the slot is taken; once a worker has finished it, a post takes the slot
    let posted = false;
    for (let i = 0; i < 400 && !posted; i++) {
      await new Promise((done) => setTimeout(done, 5));
      posted = pool.post(Kernel.gatherRows, [pixels, indices, 4, outs[1]]);
    }
    assert.ok(posted, 'the second job was posted without a join');
    pool.join();
    const want = Float32Array.from({ length: 4 * ROW_BYTES }, (_, i) => {
      const [r, c] = [Math.floor(i / ROW_BYTES), i % ROW_BYTES];
      return Math.fround((([3, 0, 2, 1][r] * ROW_BYTES + c) % 251) / 255);
    });
    for (const out of outs) {
      assert.equal(firstDifference(sb.f32(out, 4 * ROW_BYTES), want), -1);
    }
  } finally {
    pool.close();
  }
});
