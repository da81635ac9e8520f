/**
 * Models: factories from a config to named parameters and a forward/backward pass.
 *
 * `softmax` is 784→10 (`softmax_linear/*`); `mlp` is 784→h1→…→10 with ReLU, named as in
 * TensorFlow's Mechanics 101 (`hidden1/weights`, `hidden1/biases`, …, `softmax_linear/weights`).
 * Initial weights are drawn in our own code from the stream `init/<tensor name>`: truncated
 * normal with stddev 1/√fan_in; biases are zero. So the initial state depends only on the seed
 * and the config, never on the tfjs version or backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { INPUT_SIZE, NUM_CLASSES } from './data';
import { dense, denseBackward, softmaxCrossEntropy } from './ops';
import { stream, truncatedNormal } from './rng';
import { InputError, type ModelConfig, type NamedTensor } from './types';

export interface LayerSpec {
  name: string;
  inputs: number;
  outputs: number;
  relu: boolean;
}

export const MAX_HIDDEN_UNITS = 4096;
export const MAX_HIDDEN_LAYERS = 8;

/** The dense layers of a model, input to output. */
export function layersOf(model: ModelConfig): LayerSpec[] {
  if (model.kind === 'softmax') {
    if (model.hidden.length > 0) {
      throw new InputError('model softmax has no hidden layers; drop --hidden or use --model mlp');
    }
    return [{ name: 'softmax_linear', inputs: INPUT_SIZE, outputs: NUM_CLASSES, relu: false }];
  }
  if (model.hidden.length === 0 || model.hidden.length > MAX_HIDDEN_LAYERS) {
    throw new InputError(
      `model mlp needs 1 to ${MAX_HIDDEN_LAYERS} hidden layer sizes (--hidden 128,32)`,
    );
  }
  const layers: LayerSpec[] = [];
  let inputs = INPUT_SIZE;
  model.hidden.forEach((h, i) => {
    if (!Number.isInteger(h) || h < 1 || h > MAX_HIDDEN_UNITS) {
      throw new InputError(
        `hidden layer size must be an integer from 1 to ${MAX_HIDDEN_UNITS}, got ${h}`,
      );
    }
    layers.push({ name: `hidden${i + 1}`, inputs, outputs: h, relu: true });
    inputs = h;
  });
  layers.push({ name: 'softmax_linear', inputs, outputs: NUM_CLASSES, relu: false });
  return layers;
}

/** Names of the model's parameters, in layer order (weights, biases). */
export function parameterNames(model: ModelConfig): string[] {
  return layersOf(model).flatMap((l) => [`${l.name}/weights`, `${l.name}/biases`]);
}

/** The initial parameters for a seed: truncated normal (σ = 1/√fan_in) weights, zero biases. */
export function initialParameters(model: ModelConfig, seed: number): Record<string, NamedTensor> {
  const out: Record<string, NamedTensor> = {};
  for (const l of layersOf(model)) {
    const wName = `${l.name}/weights`;
    const w = new Float32Array(l.inputs * l.outputs);
    truncatedNormal(stream(seed, `init/${wName}`), w, 1 / Math.sqrt(l.inputs));
    out[wName] = { shape: [l.inputs, l.outputs], data: w };
    out[`${l.name}/biases`] = { shape: [l.outputs], data: new Float32Array(l.outputs) };
  }
  return out;
}

export type ParamTensors = Map<string, tf.Tensor>;

/** Logits [n, 10] for inputs x [n, 784]. */
export function forward(layers: LayerSpec[], params: ParamTensors, x: tf.Tensor2D): tf.Tensor2D {
  let a = x;
  for (const l of layers) {
    a = dense(
      a,
      params.get(`${l.name}/weights`) as tf.Tensor2D,
      params.get(`${l.name}/biases`) as tf.Tensor1D,
      l.relu,
    );
  }
  return a;
}

/** Mean cross-entropy loss and the gradient of every parameter, by name. */
export function lossAndGradients(
  layers: LayerSpec[],
  params: ParamTensors,
  x: tf.Tensor2D,
  labels: tf.Tensor1D,
): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } {
  const acts: tf.Tensor2D[] = [x];
  for (const l of layers) {
    const w = params.get(`${l.name}/weights`) as tf.Tensor2D;
    const b = params.get(`${l.name}/biases`) as tf.Tensor1D;
    acts.push(dense(acts[acts.length - 1], w, b, l.relu));
  }
  const { loss, dlogits } = softmaxCrossEntropy(acts[acts.length - 1], labels);
  const grads = new Map<string, tf.Tensor>();
  let dy = dlogits;
  for (let i = layers.length - 1; i >= 0; i--) {
    const l = layers[i];
    const g = denseBackward(
      acts[i],
      params.get(`${l.name}/weights`) as tf.Tensor2D,
      acts[i + 1],
      dy,
      l.relu,
      i > 0,
    );
    grads.set(`${l.name}/weights`, g.dw);
    grads.set(`${l.name}/biases`, g.db);
    if (g.dx) {
      dy = g.dx;
    }
  }
  return { loss, grads };
}
