/**
 * The few tensor operations the models are written in, with hand-derived gradients.
 *
 * Every model's forward and backward pass goes through these functions, so the hot path has one
 * place to be made fast per backend (DEVELOPERS: tfjs's own matMul gradient uses transpose
 * flags, and the wasm backend's transposed matMul takes a slow scalar path; here each transpose
 * is explicit). All functions are pure: same inputs, same backend → same bits. Callers own
 * memory (wrap calls in tf.tidy).
 */
import * as tf from '@tensorflow/tfjs-core';

/** y = x·W + b, optionally followed by ReLU. x [n, in], W [in, out], b [out]. */
export function dense(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, relu: boolean): tf.Tensor2D {
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
  const n = logits.shape[0];
  const classes = logits.shape[1];
  const logp = tf.logSoftmax(logits);
  const onehot = tf.oneHot(labels, classes);
  const loss = tf.div(tf.neg(tf.sum(tf.mul(onehot, logp))), tf.scalar(n)) as tf.Scalar;
  const dlogits = tf.div(tf.sub(tf.exp(logp), onehot), tf.scalar(n)) as tf.Tensor2D;
  return { loss, dlogits };
}
