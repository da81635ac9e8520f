/**
 * The image-layer kernels (convolution forward, gradients w.r.t. input and filter, max/avg/global
 * pooling, batch norm forward/backward) on odd shapes, padding, strides and batch 1:
 * - wasm and cpu give the same bits;
 * - the results equal an independent float64 reference written here (direct loops, no im2col)
 *   within float32 rounding.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../src/main/engine/backend';
import type { Window2d } from '../../src/main/engine/kernels/conv-ref';
import { LAYER_KERNELS as L } from '../../src/main/engine/kernels/layer-kernels';
import { run } from '../../src/main/engine/kernels/register';
import { setKernelThreads } from '../../src/main/engine/kernels/threads';

function filler(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

function rand(n: number, seed: number): Float32Array {
  const f = filler(seed);
  return Float32Array.from({ length: n }, f);
}

function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return a.length === b.length && x.every((v, i) => v === y[i]);
}

function close(
  got: Float32Array,
  want: Float64Array,
  what: string,
  tol = 1e-4,
  floor = 1e-3,
): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let scale = floor;
  for (const v of want) {
    scale = Math.max(scale, Math.abs(v));
  }
  for (let i = 0; i < got.length; i++) {
    assert.ok(Math.abs(got[i] - want[i]) <= tol * scale, `${what}[${i}]: ${got[i]} vs ${want[i]}`);
  }
}

interface Case {
  n: number;
  h: number;
  w: number;
  c: number;
  k: number;
  stride: number;
  pad: 'same' | 'valid' | number;
  oc: number;
}

function geometry(cs: Case): Window2d {
  const axis = (size: number): [number, number] => {
    if (cs.pad === 'valid') {
      return [Math.floor((size - cs.k) / cs.stride) + 1, 0];
    }
    if (cs.pad === 'same') {
      const out = Math.ceil(size / cs.stride);
      return [out, Math.floor(Math.max((out - 1) * cs.stride + cs.k - size, 0) / 2)];
    }
    return [Math.floor((size + 2 * cs.pad - cs.k) / cs.stride) + 1, cs.pad];
  };
  const [oh, padTop] = axis(cs.h);
  const [ow, padLeft] = axis(cs.w);
  return { n: cs.n, h: cs.h, w: cs.w, c: cs.c, kh: cs.k, kw: cs.k, stride: cs.stride, padTop, padLeft, oh, ow }; // prettier-ignore
}

/** float64 direct convolution and its gradients (the reference). */
function convReference(
  x: Float32Array,
  wt: Float32Array,
  b: Float32Array,
  dy: Float32Array,
  g: Window2d,
  oc: number,
) {
  const { n, h, w, c, kh, kw, stride, padTop, padLeft, oh, ow } = g;
  const y = new Float64Array(n * oh * ow * oc);
  const dx = new Float64Array(n * h * w * c);
  const dw = new Float64Array(kh * kw * c * oc);
  const db = new Float64Array(oc);
  for (let bb = 0; bb < n; bb++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let o = 0; o < oc; o++) {
          const yi = ((bb * oh + oy) * ow + ox) * oc + o;
          let s = b[o];
          db[o] += dy[yi];
          for (let ky = 0; ky < kh; ky++) {
            for (let kx = 0; kx < kw; kx++) {
              const iy = oy * stride + ky - padTop;
              const ix = ox * stride + kx - padLeft;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
                continue;
              }
              for (let ci = 0; ci < c; ci++) {
                const xi = ((bb * h + iy) * w + ix) * c + ci;
                const wi = ((ky * kw + kx) * c + ci) * oc + o;
                s += x[xi] * wt[wi];
                dx[xi] += dy[yi] * wt[wi];
                dw[wi] += dy[yi] * x[xi];
              }
            }
          }
          y[yi] = s;
        }
      }
    }
  }
  return { y, dx, dw, db };
}

const CASES: Case[] = [
  { n: 1, h: 7, w: 5, c: 1, k: 3, stride: 1, pad: 'same', oc: 3 },
  { n: 3, h: 9, w: 9, c: 3, k: 3, stride: 2, pad: 1, oc: 5 },
  { n: 2, h: 8, w: 7, c: 2, k: 5, stride: 1, pad: 'valid', oc: 6 },
  { n: 2, h: 6, w: 6, c: 4, k: 1, stride: 2, pad: 0, oc: 7 },
  { n: 1, h: 5, w: 5, c: 3, k: 1, stride: 1, pad: 'valid', oc: 9 },
  { n: 2, h: 10, w: 10, c: 3, k: 3, stride: 2, pad: 'same', oc: 16 },
  { n: 1, h: 11, w: 7, c: 5, k: 4, stride: 3, pad: 2, oc: 1 },
  // more rows of dz·Wᵀ than one group of convInputGrad (wasm): dx computed image by image
  { n: 5, h: 30, w: 30, c: 8, k: 3, stride: 1, pad: 'same', oc: 4 },
  // one image's rows of dz·Wᵀ more than a group, with a stride
  { n: 1, h: 64, w: 48, c: 12, k: 3, stride: 2, pad: 1, oc: 3 },
];

async function onBackend<T>(name: 'wasm' | 'cpu', fn: () => T): Promise<T> {
  await useBackend(name);
  return fn();
}

function convOnActive(cs: Case, relu: boolean): Float32Array[] {
  const g = geometry(cs);
  const x = rand(cs.n * cs.h * cs.w * cs.c, 1);
  const wt = rand(cs.k * cs.k * cs.c * cs.oc, 2);
  const b = rand(cs.oc, 3);
  const dy = rand(cs.n * g.oh * g.ow * cs.oc, 4);
  return tf.tidy(() => {
    const xt = tf.tensor2d(x, [cs.n, cs.h * cs.w * cs.c]);
    const wtt = tf.tensor4d(wt, [cs.k, cs.k, cs.c, cs.oc]);
    const bt = tf.tensor1d(b);
    const y = run<tf.Tensor>(L.conv2d, { x: xt, w: wtt, b: bt }, { geom: g, relu });
    const dyt = tf.tensor2d(dy, [cs.n, g.oh * g.ow * cs.oc]);
    const [dw, db, dx] = run<tf.Tensor[]>(L.conv2dGrad, { x: xt, w: wtt, y, dy: dyt }, { geom: g, relu, bias: true, wantDx: true }); // prettier-ignore
    return [y, dw, db, dx].map((t) => new Float32Array(t.dataSync() as Float32Array));
  });
}

test('conv2d forward, dW, db and dx: wasm == cpu bits, and equal to a float64 direct reference', async () => {
  for (const cs of CASES) {
    const what = JSON.stringify(cs);
    for (const relu of [false, true]) {
      const cpu = await onBackend('cpu', () => convOnActive(cs, relu));
      // one kernel thread (convInputGrad in groups of images) and two (groups split in bands)
      for (const threads of [1, 2]) {
        setKernelThreads(threads);
        const wasm = await onBackend('wasm', () => convOnActive(cs, relu));
        wasm.forEach((t, i) => assert.ok(bitsEqual(t, cpu[i]), `${what} relu=${relu} threads=${threads} output ${i}: wasm != cpu`)); // prettier-ignore
      }
    }
    const g = geometry(cs);
    const [y, dw, db, dx] = await onBackend('cpu', () => convOnActive(cs, false));
    const want = convReference(rand(cs.n * cs.h * cs.w * cs.c, 1), rand(cs.k * cs.k * cs.c * cs.oc, 2), rand(cs.oc, 3), rand(cs.n * g.oh * g.ow * cs.oc, 4), g, cs.oc); // prettier-ignore
    close(y, want.y, `${what} y`);
    close(dw, want.dw, `${what} dw`);
    close(db, want.db, `${what} db`);
    close(dx, want.dx, `${what} dx`);
  }
});

function poolReference(kind: 'max' | 'avg', x: Float32Array, dy: Float32Array, g: Window2d) {
  const { n, h, w, c, kh, kw, stride, oh, ow } = g;
  const y = new Float64Array(n * oh * ow * c);
  const dx = new Float64Array(n * h * w * c);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let ci = 0; ci < c; ci++) {
          const yi = ((b * oh + oy) * ow + ox) * c + ci;
          let best = -Infinity;
          let at = -1;
          let sum = 0;
          for (let ky = 0; ky < kh; ky++) {
            for (let kx = 0; kx < kw; kx++) {
              const xi = ((b * h + oy * stride + ky) * w + ox * stride + kx) * c + ci;
              sum += x[xi];
              if (x[xi] > best) {
                best = x[xi];
                at = xi;
              }
            }
          }
          if (kind === 'max') {
            y[yi] = best;
            dx[at] += dy[yi];
          } else {
            y[yi] = sum / (kh * kw);
            for (let ky = 0; ky < kh; ky++) {
              for (let kx = 0; kx < kw; kx++) {
                dx[((b * h + oy * stride + ky) * w + ox * stride + kx) * c + ci] +=
                  dy[yi] / (kh * kw);
              }
            }
          }
        }
      }
    }
  }
  return { y, dx };
}

test('max, average and global average pooling: wasm == cpu bits, equal to a float64 reference', async () => {
  const geoms: Window2d[] = [
    { n: 1, h: 7, w: 5, c: 3, kh: 2, kw: 2, stride: 2, padTop: 0, padLeft: 0, oh: 3, ow: 2 },
    { n: 3, h: 9, w: 9, c: 2, kh: 3, kw: 3, stride: 2, padTop: 0, padLeft: 0, oh: 4, ow: 4 },
    { n: 2, h: 6, w: 6, c: 5, kh: 6, kw: 6, stride: 1, padTop: 0, padLeft: 0, oh: 1, ow: 1 },
  ];
  for (const g of geoms) {
    for (const kind of ['max', 'avg'] as const) {
      const x = rand(g.n * g.h * g.w * g.c, 5);
      const dy = rand(g.n * g.oh * g.ow * g.c, 6);
      const once = (): Float32Array[] =>
        tf.tidy(() => {
          const xt = tf.tensor2d(x, [g.n, g.h * g.w * g.c]);
          const dyt = tf.tensor2d(dy, [g.n, g.oh * g.ow * g.c]);
          const y = run<tf.Tensor>(kind === 'max' ? L.maxPool : L.avgPool, { x: xt }, { geom: g });
          const dx = kind === 'max' ? run<tf.Tensor>(L.maxPoolGrad, { x: xt, dy: dyt }, { geom: g }) : run<tf.Tensor>(L.avgPoolGrad, { dy: dyt }, { geom: g }); // prettier-ignore
          return [y, dx].map((t) => new Float32Array(t.dataSync() as Float32Array));
        });
      const wasm = await onBackend('wasm', once);
      const cpu = await onBackend('cpu', once);
      assert.ok(
        bitsEqual(wasm[0], cpu[0]) && bitsEqual(wasm[1], cpu[1]),
        `${kind} ${JSON.stringify(g)}`,
      );
      const want = poolReference(kind, x, dy, g);
      close(cpu[0], want.y, `${kind} y`);
      close(cpu[1], want.dx, `${kind} dx`);
    }
  }
});

test('batch norm forward (training and inference) and backward: wasm == cpu bits, equal to a float64 reference', async () => {
  for (const [rows, c] of [
    [1 * 5 * 3, 3],
    [3 * 7 * 7, 4],
    [2, 5],
  ]) {
    const x = rand(rows * c, 7).map((v, i) => v * 3 + (i % c));
    const gamma = rand(c, 8).map((v) => v + 1);
    const beta = rand(c, 9);
    const rm = rand(c, 10);
    const rv = rand(c, 11).map((v) => v + 1);
    const dy = rand(rows * c, 12);
    const once = (): Float32Array[] =>
      tf.tidy(() => {
        const ins = { x: tf.tensor2d(x, [rows, c]), gamma: tf.tensor1d(gamma), beta: tf.tensor1d(beta), mean: tf.tensor1d(rm), variance: tf.tensor1d(rv) }; // prettier-ignore
        const [y, bm, inv, nm, nv] = run<tf.Tensor[]>(L.batchNorm, ins, {
          channels: c,
          training: true,
        });
        const [dg, db, dx] = run<tf.Tensor[]>(L.batchNormGrad, { x: ins.x, dy: tf.tensor2d(dy, [rows, c]), gamma: ins.gamma, batchMean: bm, invstd: inv }, { channels: c, wantDx: true }); // prettier-ignore
        const [yi] = run<tf.Tensor[]>(L.batchNorm, ins, { channels: c, training: false });
        return [y, nm, nv, dg, db, dx, yi].map(
          (t) => new Float32Array(t.dataSync() as Float32Array),
        );
      });
    const wasm = await onBackend('wasm', once);
    const cpu = await onBackend('cpu', once);
    wasm.forEach((t, i) => assert.ok(bitsEqual(t, cpu[i]), `bn rows=${rows} output ${i}`));
    // float64 reference
    const mean = new Float64Array(c);
    const varr = new Float64Array(c);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < c; j++) {
        mean[j] += x[r * c + j] / rows;
      }
    }
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < c; j++) {
        varr[j] += (x[r * c + j] - mean[j]) ** 2 / rows;
      }
    }
    const y = new Float64Array(rows * c);
    const xhat = new Float64Array(rows * c);
    const dg = new Float64Array(c);
    const db = new Float64Array(c);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < c; j++) {
        const i = r * c + j;
        xhat[i] = (x[i] - mean[j]) / Math.sqrt(varr[j] + 1e-5);
        y[i] = gamma[j] * xhat[i] + beta[j];
        dg[j] += dy[i] * xhat[i];
        db[j] += dy[i];
      }
    }
    const dx = new Float64Array(rows * c);
    const yi = new Float64Array(rows * c);
    // dx cancels (Σ over the batch of terms of size γ·invstd·dy): compare on that scale
    let dxScale = 0;
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < c; j++) {
        const i = r * c + j;
        dx[i] = (gamma[j] / Math.sqrt(varr[j] + 1e-5)) * (dy[i] - db[j] / rows - (xhat[i] * dg[j]) / rows); // prettier-ignore
        dxScale = Math.max(dxScale, Math.abs((gamma[j] / Math.sqrt(varr[j] + 1e-5)) * dy[i]));
        yi[i] = (gamma[j] * (x[i] - rm[j])) / Math.sqrt(rv[j] + 1e-5) + beta[j];
      }
    }
    const nm = Float64Array.from(mean, (m, j) => 0.9 * rm[j] + 0.1 * m);
    const nv = Float64Array.from(varr, (v, j) => 0.9 * rv[j] + 0.1 * (rows > 1 ? (v * rows) / (rows - 1) : v)); // prettier-ignore
    close(cpu[0], y, 'bn y');
    close(cpu[1], nm, 'bn running mean');
    close(cpu[2], nv, 'bn running variance');
    close(cpu[3], dg, 'bn dgamma');
    close(cpu[4], db, 'bn dbeta');
    close(cpu[5], dx, 'bn dx', 1e-5, dxScale);
    close(cpu[6], yi, 'bn inference y');
  }
});
