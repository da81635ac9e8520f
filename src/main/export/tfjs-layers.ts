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
 *
 * Layer-graph models (lenet5, resnet20, --layers; ../engine/graph.ts) need the input shape
 * [h, w, c] and export as a Keras functional Model (class_name 'Model'): an InputLayer
 * `input` [null, h, w, c] (NHWC = channels_last), then one Keras layer per graph node, named
 * like the node with '/' → '_' (`conv1`, `res3_conv2`, `logits`):
 *   conv2d → Conv2D (kernel [k, k, cin, cout] = the engine's HWIO `<node>/weights`, strides,
 *     padding 'valid' or 'same' when the engine's geometry is exactly that, else a
 *     ZeroPadding2D `<name>_pad` of the engine's P pixels then 'valid'; ReLU fused as
 *     activation; use_bias as the node); maxPool/avgPool → MaxPooling2D/AveragePooling2D
 *     (valid); globalAvgPool → GlobalAveragePooling2D; flatten → Flatten (channels_last order
 *     = the engine's NHWC order); dense → Dense (a Flatten `<name>_flatten` first when its
 *     input is an image); relu → Activation relu; batchNorm → BatchNormalization (axis −1,
 *     epsilon = BN_EPSILON, weights gamma, beta, moving_mean, moving_variance = the engine's
 *     running statistics); dropout → Dropout (identity at inference); add → Add. A rank-2
 *     tensor feeding an image layer is reshaped to [1, 1, c] (a Reshape `<name>_reshape`), as
 *     the engine treats it. Every engine tensor is checked against the graph's shapes.
 * `writeTfjsLayersModel(dir, …)` writes both files into `dir` (created if missing), each
 * via a temporary file and rename. The same input always gives the same bytes. Every refusal
 * is an InputError (CLI exit 2) naming what does not map.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildGraph, type GraphNode, type Shape3 } from '../engine/graph';
import { BN_EPSILON } from '../engine/kernels/conv-ref';
import { InputError, type ModelConfig, type NamedTensor } from '../engine/types';

export interface TfjsLayersArtifact {
  modelJson: Record<string, unknown>;
  weightsBin: Uint8Array;
}

export const WEIGHTS_FILE = 'weights.bin';

type ExportedModel = Pick<ModelConfig, 'kind' | 'hidden' | 'gan' | 'layers'>;

export function toTfjsLayersModel(
  model: ExportedModel,
  tensors: Record<string, NamedTensor>,
  inputShape?: Shape3,
): TfjsLayersArtifact {
  if (model.kind === 'lenet5' || model.kind === 'resnet20' || model.kind === 'layers') {
    return graphModel(model, tensors, inputShape ?? fail(`model ${model.kind} needs the input shape [h, w, c]`)); // prettier-ignore
  }
  // a gan exports its generator: Dense `generator_dense1` … (relu), `generator_logits` (tanh)
  const gan = model.kind === 'gan' ? (model.gan ?? fail('a gan config names its networks')) : null; // prettier-ignore
  const layerNames = gan
    ? [...gan.generator.map((_, i) => `generator/dense${i + 1}`), 'generator/logits']
    : model.kind === 'mlp'
      ? [...model.hidden.map((_, i) => `hidden${i + 1}`), 'softmax_linear']
      : model.kind === 'softmax'
        ? ['softmax_linear']
        : fail(
            `the tfjs LayersModel export does not cover model ${String(model.kind)}; export it as safetensors`,
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

  return artifact({ class_name: 'Sequential', config: { name: `lockstep_${model.kind}`, layers } }, manifest, data); // prettier-ignore
}

type Manifest = { name: string; shape: number[]; dtype: 'float32' }[];

function artifact(
  topology: { class_name: string; config: unknown },
  manifest: Manifest,
  data: Float32Array[],
): TfjsLayersArtifact {
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
      ...topology,
      keras_version: 'tfjs-layers 4.22.0',
      backend: 'tensor_flow.js',
    },
    weightsManifest: [{ paths: [WEIGHTS_FILE], weights: manifest }],
  };
  return { modelJson, weightsBin };
}

const ZEROS = { class_name: 'Zeros', config: {} };
const ONES = { class_name: 'Ones', config: {} };
const NO_REG = { kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null }; // prettier-ignore

/** A layer graph as a Keras functional Model (see the module comment). */
function graphModel(
  model: ExportedModel,
  tensors: Record<string, NamedTensor>,
  inputShape: Shape3,
): TfjsLayersArtifact {
  // prettier-ignore
  const graph = buildGraph({ ...model, hidden: model.hidden ?? [] } as ModelConfig, inputShape, 10);
  const layers: Record<string, unknown>[] = [];
  const manifest: Manifest = [];
  const data: Float32Array[] = [];
  /** the Keras name and rank of every node's output (index −1 = the input) */
  const outs = new Map<number, { name: string; rank: 2 | 4 }>([[-1, { name: 'input', rank: 4 }]]);
  const add = (
    className: string,
    name: string,
    config: Record<string, unknown>,
    inputs: string[],
  ): void => {
    // prettier-ignore
    layers.push({
      class_name: className,
      config: { name, trainable: true, dtype: 'float32', ...config },
      name,
      inbound_nodes: inputs.length === 0 ? [] : [inputs.map((i) => [i, 0, 0, {}])],
    });
  };
  const weight = (tensor: string, kerasName: string, shape: number[]): void => {
    const t = need(tensors, tensor);
    if (t.shape.join() !== shape.join() || t.data.length !== shape.reduce((a, b) => a * b, 1)) {
      fail(`${tensor} has shape [${t.shape}], the model says [${shape}]`);
    }
    manifest.push({ name: kerasName, shape, dtype: 'float32' });
    data.push(t.data);
  };
  add('InputLayer', 'input', { batch_input_shape: [null, ...inputShape], sparse: false }, []);

  graph.nodes.forEach((node: GraphNode, idx) => {
    const name = node.name.replace(/\//g, '_');
    const ins = node.inputs.map((i) => outs.get(i)!);
    /** an input as a rank-4 tensor (a rank-2 one reshaped to [1, 1, c]) */
    const image = (k: number): string => {
      const src = ins[k];
      if (src.rank === 4) {
        return src.name;
      }
      const r = `${name}_reshape${ins.length > 1 ? k + 1 : ''}`;
      add('Reshape', r, { target_shape: [1, 1, node.inShape[2]] }, [src.name]);
      return r;
    };
    let rank: 2 | 4 = ins[0].rank;
    switch (node.op) {
      case 'conv2d': {
        const [h, w, c] = node.inShape;
        const [oh, ow] = node.outShape;
        const k = node.kernel;
        const s = node.stride;
        let src = image(0);
        let padding: 'valid' | 'same' = 'valid';
        const [top, left] = node.pad;
        if (
          top === 0 &&
          left === 0 &&
          oh === Math.floor((h - k) / s) + 1 &&
          ow === Math.floor((w - k) / s) + 1
        ) {
          // prettier-ignore
          padding = 'valid';
        } else if (isSame(h, k, s, oh, top) && isSame(w, k, s, ow, left)) {
          padding = 'same';
        } else if (
          oh === Math.floor((h + 2 * top - k) / s) + 1 &&
          ow === Math.floor((w + 2 * left - k) / s) + 1
        ) {
          // prettier-ignore
          add('ZeroPadding2D', `${name}_pad`, { padding: [[top, top], [left, left]], data_format: 'channels_last' }, [src]); // prettier-ignore
          src = `${name}_pad`;
        } else {
          fail(`layer ${node.name}: its padding has no Keras equivalent`);
        }
        add('Conv2D', name, {
          filters: node.filters,
          kernel_size: [k, k],
          strides: [s, s],
          padding,
          data_format: 'channels_last',
          dilation_rate: [1, 1],
          activation: node.relu ? 'relu' : 'linear',
          use_bias: node.bias,
          kernel_initializer: ZEROS,
          bias_initializer: ZEROS,
          ...NO_REG,
        }, [src]); // prettier-ignore
        weight(`${node.name}/weights`, `${name}/kernel`, [k, k, c, node.filters]);
        if (node.bias) {
          weight(`${node.name}/biases`, `${name}/bias`, [node.filters]);
        }
        rank = 4;
        break;
      }
      case 'maxPool':
      case 'avgPool':
        add(node.op === 'maxPool' ? 'MaxPooling2D' : 'AveragePooling2D', name, {
          pool_size: [node.size, node.size],
          strides: [node.stride, node.stride],
          padding: 'valid',
          data_format: 'channels_last',
        }, [image(0)]); // prettier-ignore
        rank = 4;
        break;
      case 'globalAvgPool':
        add('GlobalAveragePooling2D', name, { data_format: 'channels_last' }, [image(0)]);
        rank = 2;
        break;
      case 'flatten':
        add('Flatten', name, {}, [ins[0].name]);
        rank = 2;
        break;
      case 'dense': {
        let src = ins[0].name;
        if (ins[0].rank === 4) {
          add('Flatten', `${name}_flatten`, {}, [src]);
          src = `${name}_flatten`;
        }
        const fanIn = node.inShape.reduce((a, b) => a * b, 1);
        add('Dense', name, {
          units: node.units,
          activation: node.relu ? 'relu' : 'linear',
          use_bias: true,
          kernel_initializer: ZEROS,
          bias_initializer: ZEROS,
          ...NO_REG,
        }, [src]); // prettier-ignore
        weight(`${node.name}/weights`, `${name}/kernel`, [fanIn, node.units]);
        weight(`${node.name}/biases`, `${name}/bias`, [node.units]);
        rank = 2;
        break;
      }
      case 'relu':
        add('Activation', name, { activation: 'relu' }, [ins[0].name]);
        break;
      case 'dropout':
        add('Dropout', name, { rate: node.rate, noise_shape: null, seed: null }, [ins[0].name]);
        break;
      case 'batchNorm': {
        const c = node.inShape[2];
        add('BatchNormalization', name, {
          axis: -1,
          momentum: 0.99,
          epsilon: BN_EPSILON,
          center: true,
          scale: true,
          beta_initializer: ZEROS,
          gamma_initializer: ONES,
          moving_mean_initializer: ZEROS,
          moving_variance_initializer: ONES,
          beta_regularizer: null,
          gamma_regularizer: null,
          beta_constraint: null,
          gamma_constraint: null,
        }, [ins[0].name]); // prettier-ignore
        // tfjs-layers' BatchNormalization weight order: gamma, beta, moving_mean, moving_variance
        weight(`${node.name}/gamma`, `${name}/gamma`, [c]);
        weight(`${node.name}/beta`, `${name}/beta`, [c]);
        weight(`${node.name}/moving_mean`, `${name}/moving_mean`, [c]);
        weight(`${node.name}/moving_variance`, `${name}/moving_variance`, [c]);
        break;
      }
      case 'add': {
        const both = ins.every((i) => i.rank === 2);
        add('Add', name, {}, both ? ins.map((i) => i.name) : [image(0), image(1)]);
        rank = both ? 2 : 4;
        break;
      }
      default:
        fail(`layer ${(node as GraphNode).name} (${(node as GraphNode).op}) has no Keras equivalent`); // prettier-ignore
    }
    outs.set(idx, { name, rank });
  });
  const last = outs.get(graph.nodes.length - 1)!;
  return artifact(
    {
      class_name: 'Model',
      config: {
        name: `lockstep_${model.kind}`,
        layers,
        input_layers: [['input', 0, 0]],
        output_layers: [[last.name, 0, 0]],
      },
    },
    manifest,
    data,
  );
}

/** Whether TensorFlow's 'same' padding gives output `out` and leading padding `lead`. */
function isSame(n: number, k: number, s: number, out: number, lead: number): boolean {
  const o = Math.ceil(n / s);
  return o === out && Math.floor(Math.max((o - 1) * s + k - n, 0) / 2) === lead;
}

/** Writes `model.json` and `weights.bin` into `dir`; returns their paths. */
export async function writeTfjsLayersModel(
  dir: string,
  model: ExportedModel,
  tensors: Record<string, NamedTensor>,
  inputShape?: Shape3,
): Promise<{ modelJsonPath: string; weightsPath: string }> {
  const { modelJson, weightsBin } = toTfjsLayersModel(model, tensors, inputShape);
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
  throw new InputError(`tfjs export: ${message}`);
}
