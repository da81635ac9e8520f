/**
 * Our image-layer kernels (convolution, pooling, batch norm, elementwise), written once against
 * the backend-neutral {@link Mem} of ./register.ts and registered for `wasm` and `cpu` there.
 *
 * - LockstepConv2d       {x, w, b?} {geom, relu, keepCol}         → y = act(im2col(x)·W + b)
 *   (with keepCol: [y, col], the im2col matrix kept for the backward pass — or [y] where the
 *   backend reads the windows of x without one: Mem.gemmWindows, ./windows.ts)
 * - LockstepConv2dGrad   {x, w, y, dy, col?} {geom, relu, bias, wantDx} → [dW, db?, dx?]
 *   (col: the forward pass's im2col of x, else it is recomputed: the same values either way)
 *   dW = colᵀ·dz (GEMM, rows in order), db = 1ᵀ·dz, dx = col2im(dz·Wᵀ) (fixed-order scatter-add)
 * - LockstepMaxPool / LockstepAvgPool {x} {geom}                  → y
 * - LockstepMaxPoolGrad {x, dy} {geom}, LockstepAvgPoolGrad {dy} {geom} → dx
 * - LockstepBatchNorm    {x, gamma, beta, mean, variance} {channels, training, relu}
 *   → training: [y, batchMean, invstd, newMean, newVariance]; inference: [y]
 *   (relu: y is relu(batch norm), a following ReLU fused into the same pass)
 * - LockstepBatchNormGrad {x, dy, gamma, batchMean, invstd} {channels, wantDx} → [dγ, dβ, dx?]
 * - LockstepAdd {a, b} {relu} → a + b (relu: relu(a + b));  LockstepRelu {x} → relu(x);
 *   LockstepReluGrad {dy, y} → dx;
 *   LockstepMul {x, mask} → x·mask
 *
 * Activations are 2-D tensors [n, h·w·c] (NHWC, flat); the geometry travels as an attribute.
 * The heavy arithmetic is the shared GEMM (wasm SIMD or its JS twin, same bits); im2col, col2im,
 * add, relu, max pooling and batch norm's row loops run in wasm SIMD on `wasm` (copies, maxima,
 * and the same float32/float64 operations in the same order as ./conv-ref.ts) and in conv-ref's
 * JS on `cpu`; average pooling is conv-ref's JS on both backends, so wasm == cpu.
 * Outputs are allocated before any view is taken (an allocation may move the wasm heap).
 */
import type * as tf from '@tensorflow/tfjs-core';
import * as conv from './conv-ref';
import type { Window2d } from './conv-ref';
import type { Attrs, Inputs, Mem } from './register';

export const LAYER_KERNELS = {
  conv2d: 'LockstepConv2d',
  conv2dGrad: 'LockstepConv2dGrad',
  maxPool: 'LockstepMaxPool',
  maxPoolGrad: 'LockstepMaxPoolGrad',
  avgPool: 'LockstepAvgPool',
  avgPoolGrad: 'LockstepAvgPoolGrad',
  batchNorm: 'LockstepBatchNorm',
  batchNormGrad: 'LockstepBatchNormGrad',
  add: 'LockstepAdd',
  relu: 'LockstepRelu',
  reluGrad: 'LockstepReluGrad',
  mul: 'LockstepMul',
} as const;

type Kernel = (mem: Mem, inputs: Inputs, attrs: Attrs) => tf.TensorInfo | tf.TensorInfo[];

const count = (t: tf.TensorInfo): number => t.shape.reduce((a, b) => a * b, 1);

/** A 1×1 stride-1 unpadded convolution reads x itself as its im2col matrix. */
function isPointwise(g: Window2d): boolean {
  return g.kh === 1 && g.kw === 1 && g.stride === 1 && g.padTop === 0 && g.padLeft === 0;
}

/** im2col of x into a new [rows, kh·kw·c] buffer (or x itself for a pointwise convolution). */
function columns(mem: Mem, x: tf.TensorInfo, g: Window2d): tf.TensorInfo {
  if (isPointwise(g)) {
    return x;
  }
  const col = mem.alloc([g.n * g.oh * g.ow, g.kh * g.kw * g.c]);
  mem.im2col(x, g, col);
  return col;
}

const conv2d: Kernel = (mem, { x, w, b }, attrs) => {
  const g = attrs.geom as Window2d;
  const rows = g.n * g.oh * g.ow;
  const k = g.kh * g.kw * g.c;
  const oc = w.shape[3];
  const y = mem.alloc([g.n, g.oh * g.ow * oc]);
  if (
    !isPointwise(g) &&
    mem.gemmWindows(x, g, false, w, oc, y, oc, oc, b ?? null, attrs.relu === true)
  ) {
    // prettier-ignore
    return attrs.keepCol === true ? [y] : y;
  }
  const col = columns(mem, x, g);
  mem.gemm(col, k, 1, w, oc, y, oc, rows, oc, k, b ?? null, attrs.relu === true);
  if (attrs.keepCol === true && col !== x) {
    return [y, col];
  }
  if (col !== x) {
    mem.free(col);
  }
  return y;
};

const conv2dGrad: Kernel = (mem, { x, w, y, dy, col: kept }, attrs) => {
  const g = attrs.geom as Window2d;
  const rows = g.n * g.oh * g.ow;
  const k = g.kh * g.kw * g.c;
  const oc = w.shape[3];
  let dz = dy;
  if (attrs.relu === true) {
    dz = mem.alloc([...dy.shape]);
    mem.reluMask(dy, y, dz);
  }
  const dw = mem.alloc([...w.shape]);
  const db = attrs.bias === true ? mem.alloc([oc]) : null;
  // dW[i, j] = Σ_rows col[row, i]·dz[row, j], rows in order; db = 1ᵀ·dz (with dW where the
  // windows are read in place: the kernel threads may compute both at once)
  const windowed = !kept && !isPointwise(g) && mem.gemmWindows(x, g, true, dz, oc, dw, oc, oc, null, false, db ?? undefined); // prettier-ignore
  if (!windowed) {
    const col = kept ?? columns(mem, x, g);
    mem.gemm(col, 1, k, dz, oc, dw, oc, k, oc, rows, null, false);
    if (col !== x && col !== kept) {
      mem.free(col);
    }
  }
  const out = [dw];
  if (db) {
    if (!windowed) {
      mem.gemm('ones', 0, 0, dz, oc, db, oc, 1, oc, rows, null, false);
    }
    out.push(db);
  }
  if (attrs.wantDx === true) {
    const wt = mem.alloc([oc, k]);
    mem.transpose(w, wt, k, oc);
    if (isPointwise(g)) {
      const dx = mem.alloc([...x.shape]);
      mem.gemm(dz, oc, 1, wt, k, dx, k, rows, k, oc, null, false);
      out.push(dx);
    } else {
      const dx = mem.alloc([...x.shape]);
      if (!mem.convInputGrad(dz, wt, g, oc, dx)) {
        const dcol = mem.alloc([rows, k]);
        mem.gemm(dz, oc, 1, wt, k, dcol, k, rows, k, oc, null, false);
        mem.col2im(dcol, g, dx);
        mem.free(dcol);
      }
      out.push(dx);
    }
    mem.free(wt);
  }
  if (dz !== dy) {
    mem.free(dz);
  }
  return out;
};

const maxPool: Kernel = (mem, { x }, attrs) => {
  const g = attrs.geom as Window2d;
  const y = mem.alloc([g.n, g.oh * g.ow * g.c]);
  mem.maxPool(x, g, y);
  return y;
};

const maxPoolGrad: Kernel = (mem, { x, dy }, attrs) => {
  const g = attrs.geom as Window2d;
  const dx = mem.alloc([...x.shape]);
  mem.maxPoolGrad(x, dy, g, dx);
  return dx;
};

const avgPool: Kernel = (mem, { x }, attrs) => {
  const g = attrs.geom as Window2d;
  const y = mem.alloc([g.n, g.oh * g.ow * g.c]);
  conv.avgPool(mem.f32(x), 0, g, mem.f32(y), 0);
  return y;
};

const avgPoolGrad: Kernel = (mem, { dy }, attrs) => {
  const g = attrs.geom as Window2d;
  const dx = mem.alloc([g.n, g.h * g.w * g.c]);
  conv.avgPoolGrad(mem.f32(dy), 0, g, mem.f32(dx), 0);
  return dx;
};

const batchNorm: Kernel = (mem, { x, gamma, beta, mean, variance }, attrs) => {
  const c = attrs.channels as number;
  const rows = count(x) / c;
  const y = mem.alloc([...x.shape]);
  const relu = attrs.relu === true;
  if (attrs.training !== true) {
    conv.batchNormInfer(mem.f32(x), 0, rows, c, mem.f32(gamma), 0, mem.f32(beta), 0, mem.f32(mean), 0, mem.f32(variance), 0, mem.f32(y), 0, relu); // prettier-ignore
    return [y];
  }
  const outs = [mem.alloc([c]), mem.alloc([c]), mem.alloc([c]), mem.alloc([c])];
  const [bm, inv, nm, nv] = outs.map((t) => mem.f32(t));
  conv.batchNormTrain(mem.f32(x), 0, rows, c, mem.f32(gamma), 0, mem.f32(beta), 0, mem.f32(mean), 0, mem.f32(variance), 0, mem.f32(y), 0, { mean: bm, invstd: inv, newMean: nm, newVar: nv }, mem.bn, relu); // prettier-ignore
  return [y, ...outs];
};

const batchNormGrad: Kernel = (mem, { x, dy, gamma, batchMean, invstd }, attrs) => {
  const c = attrs.channels as number;
  const rows = count(x) / c;
  const dg = mem.alloc([c]);
  const db = mem.alloc([c]);
  const dx = attrs.wantDx === true ? mem.alloc([...x.shape]) : null;
  conv.batchNormGrad(mem.f32(x), 0, mem.f32(dy), 0, rows, c, mem.f32(gamma), 0, mem.f32(batchMean), mem.f32(invstd), dx ? mem.f32(dx) : null, 0, mem.f32(dg), 0, mem.f32(db), 0, mem.bn); // prettier-ignore
  return dx ? [dg, db, dx] : [dg, db];
};

const add: Kernel = (mem, { a, b }, attrs) => {
  const out = mem.alloc([...a.shape]);
  mem.add(a, b, out, attrs.relu === true);
  return out;
};

const relu: Kernel = (mem, { x }) => {
  const out = mem.alloc([...x.shape]);
  mem.relu(x, out);
  return out;
};

const reluGrad: Kernel = (mem, { dy, y }) => {
  const out = mem.alloc([...dy.shape]);
  mem.reluMask(dy, y, out);
  return out;
};

const mul: Kernel = (mem, { x, mask }) => {
  const out = mem.alloc([...x.shape]);
  conv.mul(mem.f32(x), 0, mem.f32(mask), 0, mem.f32(out), 0, count(x));
  return out;
};

/** Every layer kernel by its registered name. */
export const LAYER_KERNEL_FUNCS: [string, Kernel][] = [
  [LAYER_KERNELS.conv2d, conv2d],
  [LAYER_KERNELS.conv2dGrad, conv2dGrad],
  [LAYER_KERNELS.maxPool, maxPool],
  [LAYER_KERNELS.maxPoolGrad, maxPoolGrad],
  [LAYER_KERNELS.avgPool, avgPool],
  [LAYER_KERNELS.avgPoolGrad, avgPoolGrad],
  [LAYER_KERNELS.batchNorm, batchNorm],
  [LAYER_KERNELS.batchNormGrad, batchNormGrad],
  [LAYER_KERNELS.add, add],
  [LAYER_KERNELS.relu, relu],
  [LAYER_KERNELS.reluGrad, reluGrad],
  [LAYER_KERNELS.mul, mul],
];
