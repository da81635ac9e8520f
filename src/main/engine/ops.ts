/**
 * The few tensor operations the models are written in, with hand-derived gradients.
 *
 * Every model's forward and backward pass goes through these functions, so the hot path has one
 * place to be made fast per backend. On `wasm` and `cpu` they run our fused kernels
 * (./kernels/register.ts: a WebAssembly SIMD GEMM on wasm, the same float32 operations in JS on
 * cpu); on other backends (`tensorflow`) they fall back to tfjs ops, with each transpose explicit
 * (tfjs's own matMul gradient uses transpose flags, a slow path on some backends). All functions
 * are pure: same inputs, same backend → same bits. Callers own memory (wrap calls in tf.tidy).
 */
import * as tf from '@tensorflow/tfjs-core';
import { INPUT_SIZE, PIXEL_TO_FLOAT } from './data';
import { K, kernelsActive, run } from './kernels/register';

/** y = x·W + b, optionally followed by ReLU. x [n, in], W [in, out], b [out]. */
export function dense(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, relu: boolean): tf.Tensor2D {
  if (kernelsActive()) {
    return run<tf.Tensor2D>(K.dense, { x, w, b }, { relu });
  }
  return tf.fused.matMul({
    a: x,
    b: w,
    bias: b,
    activation: relu ? 'relu' : 'linear',
  }) as tf.Tensor2D;
}

/**
 * Gradients of y = act(x·W + b) given dy = ∂L/∂y and the layer's output y (ReLU's mask is y > 0).
 * Returns dW = xᵀ·dz, db = Σ_rows dz and, when wanted, dx = dz·Wᵀ.
 */
export function denseBackward(
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  y: tf.Tensor2D,
  dy: tf.Tensor2D,
  relu: boolean,
  wantDx: boolean,
): { dw: tf.Tensor2D; db: tf.Tensor1D; dx?: tf.Tensor2D } {
  if (kernelsActive()) {
    const [dw, db, dx] = run<tf.Tensor[]>(K.denseGrad, { x, w, y, dy }, { relu, wantDx });
    return { dw: dw as tf.Tensor2D, db: db as tf.Tensor1D, dx: dx as tf.Tensor2D | undefined };
  }
  const dz: tf.Tensor2D = relu ? tf.mul(dy, tf.step(y, 0)) : dy;
  const dw = tf.matMul(tf.transpose(x), dz) as tf.Tensor2D;
  const db = tf.sum(dz, 0) as tf.Tensor1D;
  const dx = wantDx ? (tf.matMul(dz, tf.transpose(w)) as tf.Tensor2D) : undefined;
  return { dw, db, dx };
}

/**
 * Mean sparse softmax cross-entropy over the batch and its gradient with respect to the logits:
 * loss = mean_i(logsumexp(z_i) − z_i[y_i]), ∂loss/∂z = (softmax(z) − onehot(y)) / n.
 */
export function softmaxCrossEntropy(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
): { loss: tf.Scalar; dlogits: tf.Tensor2D } {
  if (kernelsActive()) {
    const [loss, dlogits] = run<tf.Tensor[]>(K.softmaxXent, { logits, labels });
    return { loss: loss as tf.Scalar, dlogits: dlogits as tf.Tensor2D };
  }
  const n = logits.shape[0];
  const classes = logits.shape[1];
  const logp = tf.logSoftmax(logits);
  const onehot = tf.oneHot(labels, classes);
  const loss = tf.div(tf.neg(tf.sum(tf.mul(onehot, logp))), tf.scalar(n)) as tf.Scalar;
  const dlogits = tf.div(tf.sub(tf.exp(logp), onehot), tf.scalar(n)) as tf.Tensor2D;
  return { loss, dlogits };
}

/**
 * The float32 pixels [n, rowBytes] of examples `indices` of a split of bytes (x/255). With our
 * kernels the bytes stay on the backend and the batch is gathered there; otherwise it is
 * gathered in JS into `scratch` (at least n·rowBytes floats) and uploaded.
 */
export function gatherPixels(
  pixels: Uint8Array,
  indices: Uint32Array,
  scratch: Float32Array,
  rowBytes = INPUT_SIZE,
): tf.Tensor2D {
  if (kernelsActive()) {
    const idx = tf.tensor1d(
      new Int32Array(indices.buffer, indices.byteOffset, indices.length),
      'int32',
    );
    return run<tf.Tensor2D>(K.gatherPixels, { indices: idx }, { pixels, rowBytes });
  }
  const n = indices.length;
  const x = scratch.subarray(0, n * rowBytes);
  for (let r = 0; r < n; r++) {
    const src = indices[r] * rowBytes;
    const dst = r * rowBytes;
    for (let i = 0; i < rowBytes; i++) {
      x[dst + i] = PIXEL_TO_FLOAT[pixels[src + i]];
    }
  }
  return tf.tensor2d(x, [n, rowBytes], 'float32');
}
