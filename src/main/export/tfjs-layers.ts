/**
 * TensorFlow.js LayersModel export: `model.json` + `weights.bin`, loadable by `tf.loadLayersModel`.
 *
 * Contract: `toTfjsLayersModel(model, tensors)` maps the engine's parameters (TensorFlow Mechanics
 * 101 names) to a Keras-style Sequential of Dense layers:
 *   mlp, hidden [h1, …, hk]: Dense `hidden1` … `hiddenk` (units h_i, relu), then Dense
 *     `softmax_linear` (linear); softmax: Dense `softmax_linear` (linear) only.
 * The first layer has batch_input_shape [null, <inputs>] where <inputs> is the row count of the
 * first weight matrix (784 for MNIST). Dense computes y = x·kernel + bias with kernel [in, out],
 * which is exactly the engine's `<layer>/weights` [in, out] and `<layer>/biases` [out], so the
 * float32 values are copied unchanged. The last layer is LINEAR: the model outputs the logits,
 * whose argmax is the engine's prediction (softmax would not change the argmax but would round
 * differently; apply tf.softmax to the output for probabilities). The weights manifest has one
 * group with paths ['weights.bin'] and entries `<layer>/kernel`, `<layer>/bias` (float32) in
 * layer order; weights.bin is those tensors' little-endian float32 bytes concatenated in that
 * order. Initializers are Zeros so loading draws no random numbers. Other tensors (optimizer
 * slots like `hidden1/weights/m`) are ignored. Throws on a missing tensor or a shape that does not
 * chain. A gan exports its generator: Dense `generator_dense1` … (relu) and `generator_logits`
 * (tanh: the model outputs pixels in [−1, 1]) from `generator/<layer>/…`, input [null, noiseDims].
 * `writeTfjsLayersModel(dir, …)` writes both files into `dir` (created if missing), each
 * via a temporary file and rename. The same input always gives the same bytes.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelConfig, NamedTensor } from '../engine/types';

export interface TfjsLayersArtifact {
  modelJson: Record<string, unknown>;
  weightsBin: Uint8Array;
}

export const WEIGHTS_FILE = 'weights.bin';

export function toTfjsLayersModel(
  model: Pick<ModelConfig, 'kind' | 'hidden' | 'gan'>,
  tensors: Record<string, NamedTensor>,
): TfjsLayersArtifact {
  // a gan exports its generator: Dense `generator_dense1` … (relu), `generator_logits` (tanh)
  const gan = model.kind === 'gan' ? (model.gan ?? fail('a gan config names its networks')) : null; // prettier-ignore
  const layerNames = gan
    ? [...gan.generator.map((_, i) => `generator/dense${i + 1}`), 'generator/logits']
    : model.kind === 'mlp'
      ? [...model.hidden.map((_, i) => `hidden${i + 1}`), 'softmax_linear']
      : model.kind === 'softmax'
        ? ['softmax_linear']
        : fail(
            `the tfjs LayersModel export covers the dense models (softmax, mlp, gan's generator); export ${String(model.kind)} as safetensors`,
          );
  if (model.kind === 'softmax' && model.hidden.length > 0) {
    fail('a softmax model has no hidden layers');
  }

  const layers: unknown[] = [];
  const manifest: { name: string; shape: number[]; dtype: 'float32' }[] = [];
  const data: Float32Array[] = [];
  let inputs = -1;
  let prevUnits = -1;
  layerNames.forEach((layer, i) => {
    const w = need(tensors, `${layer}/weights`);
    const b = need(tensors, `${layer}/biases`);
    if (w.shape.length !== 2 || w.data.length !== w.shape[0] * w.shape[1]) {
      fail(`${layer}/weights must be a matrix, has shape [${w.shape}]`);
    }
    const [fanIn, units] = w.shape;
    if (i === 0) {
      inputs = fanIn;
    } else if (fanIn !== prevUnits) {
      fail(`${layer}/weights has ${fanIn} rows, expected ${prevUnits}`);
    }
    if (model.kind === 'mlp' && i < model.hidden.length && units !== model.hidden[i]) {
      fail(`${layer}/weights has ${units} columns, the model says ${model.hidden[i]}`);
    }
    if (gan && i < gan.generator.length && units !== gan.generator[i]) {
      fail(`${layer}/weights has ${units} columns, the model says ${gan.generator[i]}`);
    }
    const kerasName = layer.replace('/', '_');
    if (b.shape.length !== 1 || b.shape[0] !== units || b.data.length !== units) {
      fail(`${layer}/biases has shape [${b.shape}], expected [${units}]`);
    }
    prevUnits = units;
    const last = i === layerNames.length - 1;
    layers.push({
      class_name: 'Dense',
      config: {
        name: kerasName,
        trainable: true,
        ...(i === 0 ? { batch_input_shape: [null, inputs] } : {}),
        dtype: 'float32',
        units,
        activation: last ? (gan ? 'tanh' : 'linear') : 'relu',
        use_bias: true,
        kernel_initializer: { class_name: 'Zeros', config: {} },
        bias_initializer: { class_name: 'Zeros', config: {} },
        kernel_regularizer: null,
        bias_regularizer: null,
        activity_regularizer: null,
        kernel_constraint: null,
        bias_constraint: null,
      },
    });
    manifest.push({ name: `${kerasName}/kernel`, shape: [fanIn, units], dtype: 'float32' });
    manifest.push({ name: `${kerasName}/bias`, shape: [units], dtype: 'float32' });
    data.push(w.data, b.data);
  });

  const weightsBin = new Uint8Array(data.reduce((n, d) => n + d.byteLength, 0));
  const view = new DataView(weightsBin.buffer);
  let pos = 0;
  for (const d of data) {
    for (let k = 0; k < d.length; k++, pos += 4) {
      view.setFloat32(pos, d[k], true);
    }
  }

  const modelJson = {
    format: 'layers-model',
    generatedBy: 'lockstep',
    convertedBy: null,
    modelTopology: {
      class_name: 'Sequential',
      config: { name: `lockstep_${model.kind}`, layers },
      keras_version: 'tfjs-layers 4.22.0',
      backend: 'tensor_flow.js',
    },
    weightsManifest: [{ paths: [WEIGHTS_FILE], weights: manifest }],
  };
  return { modelJson, weightsBin };
}

/** Writes `model.json` and `weights.bin` into `dir`; returns their paths. */
export async function writeTfjsLayersModel(
  dir: string,
  model: Pick<ModelConfig, 'kind' | 'hidden' | 'gan'>,
  tensors: Record<string, NamedTensor>,
): Promise<{ modelJsonPath: string; weightsPath: string }> {
  const { modelJson, weightsBin } = toTfjsLayersModel(model, tensors);
  await mkdir(dir, { recursive: true });
  const weightsPath = join(dir, WEIGHTS_FILE);
  const modelJsonPath = join(dir, 'model.json');
  await atomicWrite(weightsPath, weightsBin);
  await atomicWrite(modelJsonPath, new TextEncoder().encode(JSON.stringify(modelJson, null, 1)));
  return { modelJsonPath, weightsPath };
}

async function atomicWrite(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
}

function need(tensors: Record<string, NamedTensor>, name: string): NamedTensor {
  const t = Object.prototype.hasOwnProperty.call(tensors, name) ? tensors[name] : undefined;
  return t ?? fail(`tensor ${name} is missing`);
}

function fail(message: string): never {
  throw new Error(`tfjs export: ${message}`);
}
