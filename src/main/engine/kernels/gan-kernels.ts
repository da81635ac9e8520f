/**
 * The GAN's kernels, written once against the backend-neutral {@link Mem} of ./register.ts and
 * registered for `wasm` and `cpu` there (the same JS on both, so wasm == cpu bit for bit):
 *
 * - LockstepSigmoidXent {logits [n, 1], targets [n]} {denom}
 *     → [loss, dlogits]: sigmoid cross-entropy with logits, as TensorFlow's
 *     sigmoid_cross_entropy_with_logits: ℓ_i = max(x,0) − x·z + log(1 + e^{−|x|});
 *     loss = Σ_i ℓ_i / denom (summed in float64 in row order, then rounded to float32),
 *     dlogits_i = (σ(x_i) − z_i) / denom, with σ computed without overflow.
 * - LockstepTanh {x} → y = tanh(x)
 * - LockstepTanhGrad {dy, y} → dx = dy·(1 − y²)
 *
 * Every value is computed in float64 from the float32 inputs with V8's Math.exp, Math.log1p and
 * Math.tanh (fdlibm ports, the same on every platform) and rounded once when stored.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Attrs, Inputs, Mem } from './register';

export const GAN_KERNELS = {
  sigmoidXent: 'LockstepSigmoidXent',
  tanh: 'LockstepTanh',
  tanhGrad: 'LockstepTanhGrad',
} as const;

type Kernel = (mem: Mem, inputs: Inputs, attrs: Attrs) => tf.TensorInfo | tf.TensorInfo[];

const count = (t: tf.TensorInfo): number => t.shape.reduce((a, b) => a * b, 1);

/** σ(x) without overflow for any finite x. */
export function sigmoid(x: number): number {
  if (x >= 0) {
    return 1 / (1 + Math.exp(-x));
  }
  const e = Math.exp(x);
  return e / (1 + e);
}

/**
 * The reference: Σ ℓ_i / denom over `logits` with targets `z`, and writes the gradient into
 * `dlogits`. Returns the loss (float64; stored as float32 by the kernel).
 */
export function sigmoidCrossEntropy(
  logits: Float32Array,
  z: Float32Array,
  denom: number,
  dlogits: Float32Array,
): number {
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i];
    sum += Math.max(x, 0) - x * z[i] + Math.log1p(Math.exp(-Math.abs(x)));
    dlogits[i] = (sigmoid(x) - z[i]) / denom;
  }
  return sum / denom;
}

const sigmoidXent: Kernel = (mem, { logits, targets }, attrs) => {
  const denom = attrs.denom as number;
  if (!(denom > 0) || count(targets) !== count(logits)) {
    throw new Error('bug: LockstepSigmoidXent needs one target per logit and denom > 0');
  }
  const loss = mem.alloc([]);
  const dl = mem.alloc([...logits.shape]);
  const v = sigmoidCrossEntropy(mem.f32(logits), mem.f32(targets), denom, mem.f32(dl));
  mem.f32(loss)[0] = v;
  return [loss, dl];
};

const tanh: Kernel = (mem, { x }) => {
  const y = mem.alloc([...x.shape]);
  const xs = mem.f32(x);
  const ys = mem.f32(y);
  for (let i = 0; i < xs.length; i++) {
    ys[i] = Math.tanh(xs[i]);
  }
  return y;
};

const tanhGrad: Kernel = (mem, { dy, y }) => {
  const dx = mem.alloc([...y.shape]);
  const d = mem.f32(dy);
  const ys = mem.f32(y);
  const out = mem.f32(dx);
  for (let i = 0; i < out.length; i++) {
    out[i] = d[i] * (1 - ys[i] * ys[i]);
  }
  return dx;
};

export const GAN_KERNEL_FUNCS: [string, Kernel][] = [
  [GAN_KERNELS.sigmoidXent, sigmoidXent],
  [GAN_KERNELS.tanh, tanh],
  [GAN_KERNELS.tanhGrad, tanhGrad],
];
