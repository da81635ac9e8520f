/**
 * A model as a small layer graph: an ordered list of nodes, each reading earlier nodes' outputs
 * (−1 = the model input), with named parameters (trained) and named state (batch-norm running
 * statistics: checkpointed and hashed, never trained).
 *
 * - `softmax` / `mlp`: dense layers named as in Mechanics 101 (`hidden1`, …, `softmax_linear`),
 *   weights truncated normal σ = 1/√fan_in, zero biases: the same names, draws and bits as before
 *   the layer graph existed.
 * - `lenet5`, `resnet20` and `layers` (a `--layers` spec, ./layer-spec.ts) expand to nodes named
 *   `conv1`, `bn1`, `dense1`, `res3/conv2`, `res3/shortcut/bn`, …, and `logits`. Their weights
 *   follow each layer's convention: He (truncated normal σ = √(2/fan_in)) for conv and hidden
 *   dense layers, Glorot uniform for `logits`; zero biases; γ = 1, β = 0; running mean 0,
 *   running variance 1. Every tensor's draws come from the stream `init/<tensor name>`.
 *
 * Shapes are per example [h, w, c] (a dense output is [1, 1, units]); activations are NHWC.
 */
import type { Window2d } from './kernels/conv-ref';
import { PRESET_SPECS, parseLayerSpec, type LayerItem } from './layer-spec';
import { stream, truncatedNormal } from './rng';
import { InputError, type ModelConfig, type NamedTensor } from './types';

export type Shape3 = [number, number, number];

interface NodeBase {
  name: string;
  /** indices of the nodes read (−1 = the model input) */
  inputs: number[];
  inShape: Shape3;
  outShape: Shape3;
}

export type GraphNode = NodeBase &
  (
    | { op: 'dense'; units: number; relu: boolean; init: Init }
    | { op: 'conv2d'; filters: number; kernel: number; stride: number; pad: [number, number]; bias: boolean; relu: boolean } // prettier-ignore
    | { op: 'maxPool' | 'avgPool'; size: number; stride: number }
    | { op: 'globalAvgPool' | 'flatten' | 'relu' | 'batchNorm' | 'add' }
    | { op: 'dropout'; rate: number }
  );

type Init = 'legacy' | 'he' | 'glorot';

export interface TensorSpec {
  name: string;
  shape: number[];
  /** how its initial values are drawn */
  init: Init | 'zeros' | 'ones';
  fanIn: number;
  fanOut: number;
}

export interface Graph {
  nodes: GraphNode[];
  inputShape: Shape3;
  classes: number;
  /** trained tensors, in node order */
  params: TensorSpec[];
  /** non-trained state (batch-norm running statistics), in node order */
  state: TensorSpec[];
}

export const MAX_HIDDEN_UNITS = 4096;
export const MAX_HIDDEN_LAYERS = 8;
/** Refuse models whose parameters would not fit comfortably in memory. */
export const MAX_PARAMETERS = 50_000_000;

/** True for models made of dense layers only (these also run on tfjs' generic ops). */
export function isDenseModel(model: ModelConfig): boolean {
  return model.kind === 'softmax' || model.kind === 'mlp';
}

/** The spec a model expands to (lenet5, resnet20, layers), or null for softmax / mlp. */
export function specOf(model: ModelConfig): string | null {
  if (model.kind === 'lenet5' || model.kind === 'resnet20') {
    return PRESET_SPECS[model.kind];
  }
  if (model.kind === 'layers') {
    if (typeof model.layers !== 'string') {
      throw new InputError('model layers needs a --layers spec, e.g. conv:8x3,relu,maxpool:2');
    }
    return model.layers;
  }
  return null;
}

/** Builds (and validates) the graph of a model for an input shape and a class count. */
export function buildGraph(model: ModelConfig, inputShape: Shape3, classes: number): Graph {
  if (!isDenseModel(model) && model.hidden.length > 0) {
    throw new InputError(`model ${model.kind} takes no --hidden sizes`);
  }
  if (model.kind !== 'layers' && model.layers !== undefined) {
    throw new InputError(`--layers needs --model layers (got --model ${model.kind})`);
  }
  const b = new Builder(inputShape);
  const spec = specOf(model);
  if (spec === null) {
    denseStack(b, model);
  } else {
    specStack(b, parseLayerSpec(spec));
    b.dense('logits', classes, false, 'glorot');
  }
  const g: Graph = { nodes: b.nodes, inputShape, classes, params: b.params, state: b.state };
  const total = g.params.reduce((s, p) => s + p.shape.reduce((a, x) => a * x, 1), 0);
  if (total > MAX_PARAMETERS) {
    throw new InputError(`model has ${total} parameters; at most ${MAX_PARAMETERS}`);
  }
  if (g.nodes[g.nodes.length - 1].outShape[2] !== classes) {
    throw new Error('bug: the last layer must produce the classes');
  }
  return g;
}

function denseStack(b: Builder, model: ModelConfig): void {
  if (model.kind === 'softmax') {
    if (model.hidden.length > 0) {
      throw new InputError('model softmax has no hidden layers; drop --hidden or use --model mlp');
    }
  } else if (model.hidden.length === 0 || model.hidden.length > MAX_HIDDEN_LAYERS) {
    throw new InputError(
      `model mlp needs 1 to ${MAX_HIDDEN_LAYERS} hidden layer sizes (--hidden 128,32)`,
    );
  }
  model.hidden.forEach((h, i) => {
    if (!Number.isInteger(h) || h < 1 || h > MAX_HIDDEN_UNITS) {
      throw new InputError(
        `hidden layer size must be an integer from 1 to ${MAX_HIDDEN_UNITS}, got ${h}`,
      );
    }
    b.dense(`hidden${i + 1}`, h, true, 'legacy');
  });
  b.dense('softmax_linear', 10, false, 'legacy');
}

function specStack(b: Builder, items: LayerItem[]): void {
  const count: Record<string, number> = {};
  const next = (k: string): string => `${k}${(count[k] = (count[k] ?? 0) + 1)}`;
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    const following = items[i + 1]?.kind;
    switch (it.kind) {
      case 'conv': {
        // a conv followed by bn has no bias; one followed by relu fuses it (same bits, less work)
        const relu = following === 'relu';
        b.conv(next('conv'), it.filters, it.kernel, it.stride, it.pad, following !== 'bn', relu);
        if (relu) {
          i++;
        }
        break;
      }
      case 'dense': {
        const relu = following === 'relu';
        b.dense(next('dense'), it.units, relu, 'he');
        if (relu) {
          i++;
        }
        break;
      }
      case 'maxpool':
      case 'avgpool':
        b.pool(next(it.kind === 'maxpool' ? 'maxpool' : 'avgpool'), it.kind === 'maxpool' ? 'maxPool' : 'avgPool', it.size, it.stride); // prettier-ignore
        break;
      case 'gap':
        b.simple(next('gap'), 'globalAvgPool');
        break;
      case 'flatten':
        b.simple(next('flatten'), 'flatten');
        break;
      case 'relu':
        b.simple(next('relu'), 'relu');
        break;
      case 'bn':
        b.batchNorm(next('bn'));
        break;
      case 'dropout':
        b.dropout(next('dropout'), it.rate);
        break;
      case 'res':
        b.residual(next('res'), it.filters, it.stride);
        break;
    }
  }
}

/** Appends nodes, tracking the current node and shape. */
class Builder {
  readonly nodes: GraphNode[] = [];
  readonly params: TensorSpec[] = [];
  readonly state: TensorSpec[] = [];
  private current = -1;

  constructor(readonly inputShape: Shape3) {}

  get shape(): Shape3 {
    return this.current < 0 ? this.inputShape : this.nodes[this.current].outShape;
  }

  private push(node: GraphNode): number {
    this.nodes.push(node);
    this.current = this.nodes.length - 1;
    return this.current;
  }

  private param(
    name: string,
    shape: number[],
    init: TensorSpec['init'],
    fanIn: number,
    fanOut: number,
  ): void {
    this.params.push({ name, shape, init, fanIn, fanOut });
  }

  dense(name: string, units: number, relu: boolean, init: Init): void {
    const [h, w, c] = this.shape;
    const fanIn = h * w * c;
    this.param(`${name}/weights`, [fanIn, units], init, fanIn, units);
    this.param(`${name}/biases`, [units], 'zeros', fanIn, units);
    this.push({ op: 'dense', name, inputs: [this.current], inShape: this.shape, outShape: [1, 1, units], units, relu, init }); // prettier-ignore
  }

  conv(
    name: string,
    filters: number,
    kernel: number,
    stride: number,
    pad: 'same' | 'valid' | number,
    bias: boolean,
    relu: boolean,
  ): void {
    const [h, w, c] = this.shape;
    const [oh, top] = outSize(h, kernel, stride, pad);
    const [ow, left] = outSize(w, kernel, stride, pad);
    if (oh < 1 || ow < 1) {
      throw new InputError(
        `layer ${name}: a ${kernel}×${kernel} window does not fit its ${h}×${w} input`,
      );
    }
    const fanIn = kernel * kernel * c;
    this.param(
      `${name}/weights`,
      [kernel, kernel, c, filters],
      'he',
      fanIn,
      kernel * kernel * filters,
    );
    if (bias) {
      this.param(`${name}/biases`, [filters], 'zeros', fanIn, filters);
    }
    this.push({ op: 'conv2d', name, inputs: [this.current], inShape: this.shape, outShape: [oh, ow, filters], filters, kernel, stride, pad: [top, left], bias, relu }); // prettier-ignore
  }

  pool(name: string, op: 'maxPool' | 'avgPool', size: number, stride: number): void {
    const [h, w, c] = this.shape;
    if (size > h || size > w) {
      throw new InputError(
        `layer ${name}: a ${size}×${size} window does not fit its ${h}×${w} input`,
      );
    }
    const oh = Math.floor((h - size) / stride) + 1;
    const ow = Math.floor((w - size) / stride) + 1;
    this.push({ op, name, inputs: [this.current], inShape: this.shape, outShape: [oh, ow, c], size, stride }); // prettier-ignore
  }

  simple(name: string, op: 'globalAvgPool' | 'flatten' | 'relu'): void {
    const [h, w, c] = this.shape;
    const outShape: Shape3 = op === 'globalAvgPool' ? [1, 1, c] : op === 'flatten' ? [1, 1, h * w * c] : [h, w, c]; // prettier-ignore
    this.push({ op, name, inputs: [this.current], inShape: this.shape, outShape });
  }

  batchNorm(name: string): void {
    const c = this.shape[2];
    this.param(`${name}/gamma`, [c], 'ones', c, c);
    this.param(`${name}/beta`, [c], 'zeros', c, c);
    this.state.push({
      name: `${name}/moving_mean`,
      shape: [c],
      init: 'zeros',
      fanIn: c,
      fanOut: c,
    });
    this.state.push({ name: `${name}/moving_variance`, shape: [c], init: 'ones', fanIn: c, fanOut: c }); // prettier-ignore
    this.push({ op: 'batchNorm', name, inputs: [this.current], inShape: this.shape, outShape: this.shape }); // prettier-ignore
  }

  dropout(name: string, rate: number): void {
    this.push({ op: 'dropout', name, inputs: [this.current], inShape: this.shape, outShape: this.shape, rate }); // prettier-ignore
  }

  relu(name: string): void {
    this.simple(name, 'relu');
  }

  residual(name: string, filters: number, stride: number): void {
    const start = this.current;
    const inShape = this.shape;
    this.conv(`${name}/conv1`, filters, 3, stride, 1, false, false);
    this.batchNorm(`${name}/bn1`);
    this.relu(`${name}/relu1`);
    this.conv(`${name}/conv2`, filters, 3, 1, 1, false, false);
    this.batchNorm(`${name}/bn2`);
    const main = this.current;
    let skip = start;
    if (stride !== 1 || inShape[2] !== filters) {
      this.current = start;
      this.conv(`${name}/shortcut/conv`, filters, 1, stride, 0, false, false);
      this.batchNorm(`${name}/shortcut/bn`);
      skip = this.current;
    }
    const out = this.nodes[main].outShape;
    if (skip >= 0 && this.nodes[skip].outShape.join() !== out.join()) {
      throw new Error(`bug: residual shapes differ in ${name}`);
    }
    this.push({
      op: 'add',
      name: `${name}/add`,
      inputs: [main, skip],
      inShape: out,
      outShape: out,
    });
    this.relu(`${name}/relu2`);
  }
}

/** Output size and leading padding of a window op along one axis. */
function outSize(
  n: number,
  k: number,
  s: number,
  pad: 'same' | 'valid' | number,
): [number, number] {
  if (pad === 'valid') {
    return [Math.floor((n - k) / s) + 1, 0];
  }
  if (pad === 'same') {
    const out = Math.ceil(n / s);
    const total = Math.max((out - 1) * s + k - n, 0);
    return [out, Math.floor(total / 2)];
  }
  return [Math.floor((n + 2 * pad - k) / s) + 1, pad];
}

/** The window geometry of a conv or pool node for a batch of n. */
export function windowOf(node: GraphNode, n: number): Window2d {
  const [h, w, c] = node.inShape;
  const [oh, ow] = node.outShape;
  if (node.op === 'conv2d') {
    return { n, h, w, c, kh: node.kernel, kw: node.kernel, stride: node.stride, padTop: node.pad[0], padLeft: node.pad[1], oh, ow }; // prettier-ignore
  }
  if (node.op === 'maxPool' || node.op === 'avgPool') {
    return { n, h, w, c, kh: node.size, kw: node.size, stride: node.stride, padTop: 0, padLeft: 0, oh, ow }; // prettier-ignore
  }
  if (node.op === 'globalAvgPool') {
    return { n, h, w, c, kh: h, kw: w, stride: 1, padTop: 0, padLeft: 0, oh: 1, ow: 1 };
  }
  throw new Error(`bug: ${node.op} has no window`);
}

/** The initial value of every parameter and state tensor, from the streams `init/<name>`. */
export function initialTensors(graph: Graph, seed: number): Record<string, NamedTensor> {
  const out: Record<string, NamedTensor> = {};
  for (const t of [...graph.params, ...graph.state]) {
    const data = new Float32Array(t.shape.reduce((a, b) => a * b, 1));
    switch (t.init) {
      case 'legacy':
        truncatedNormal(stream(seed, `init/${t.name}`), data, 1 / Math.sqrt(t.fanIn));
        break;
      case 'he':
        truncatedNormal(stream(seed, `init/${t.name}`), data, Math.sqrt(2 / t.fanIn));
        break;
      case 'glorot': {
        const rng = stream(seed, `init/${t.name}`);
        const limit = Math.sqrt(6 / (t.fanIn + t.fanOut));
        for (let i = 0; i < data.length; i++) {
          data[i] = (rng.uniform() * 2 - 1) * limit;
        }
        break;
      }
      case 'ones':
        data.fill(1);
        break;
      case 'zeros':
        break;
    }
    out[t.name] = { shape: t.shape, data };
  }
  return out;
}
