/**
 * Forward and backward passes over a layer graph (./graph.ts), on our kernels.
 *
 * Training: every node's output is kept; the loss is the mean softmax cross-entropy of the last
 * node's output; the backward pass walks the nodes in reverse, and a node's output gradient is
 * the sum of its consumers' contributions in that fixed (reverse-node) order. Batch norm uses the
 * batch statistics and yields the new running statistics as named state; dropout draws its mask
 * from the stream `dropout/<step>/<layer>` (so a resumed run draws exactly the same masks).
 * Inference: batch norm uses the running statistics and dropout is the identity.
 *
 * A batch norm or residual add whose output only the next node, a ReLU, reads runs with that
 * ReLU fused ({@link reluFused}): one pass over the activation instead of two, the same values.
 *
 * Dense layers go through ./ops.ts (the same calls as before the graph existed, so softmax and
 * mlp keep their bits); the image layers need our kernels (wasm or cpu). Callers own memory
 * (wrap calls in tf.tidy).
 */
import * as tf from '@tensorflow/tfjs-core';
import { windowOf, type Graph, type GraphNode } from './graph';
import { LAYER_KERNELS as L } from './kernels/layer-kernels';
import { kernelsActive, run } from './kernels/register';
import { dense, denseBackward, softmaxCrossEntropy } from './ops';
import { stream } from './rng';
import { InputError } from './types';

export type TensorMap = Map<string, tf.Tensor>;

/** Where a training pass draws its randomness: the run's seed and the step being computed. */
export interface StepContext {
  seed: number;
  /** the number of updates before this one (0 for the first) */
  step: number;
}

/** Keep a convolution's im2col matrix for the backward pass up to this many floats (32 MB). */
export const KEEP_COL_FLOATS = 8 * 1024 * 1024;

interface Saved {
  col?: tf.Tensor;
  mean?: tf.Tensor;
  invstd?: tf.Tensor;
  mask?: tf.Tensor;
}

const flat = (t: tf.Tensor, n: number): tf.Tensor2D =>
  (t.rank === 2 ? t : tf.reshape(t, [n, -1])) as tf.Tensor2D;

/** Refuses a graph with image layers when our kernels are not active on the backend. */
export function assertRunnable(graph: Graph): void {
  if (!kernelsActive() && graph.nodes.some((n) => n.op !== 'dense')) {
    throw new InputError(
      `this model's layers run on the wasm and cpu backends only (the active backend is ${tf.getBackend()})`,
    );
  }
}

const fusedByGraph = new WeakMap<Graph, Set<number>>();

/**
 * The nodes that run with the following ReLU fused: a batch norm or an add whose output is read
 * by the next node only, a ReLU. The ReLU node then takes their result as its own output. The
 * unfused output is never needed: the ReLU's backward pass reads the ReLU's output, and batch
 * norm's and add's read their inputs.
 */
export function reluFused(graph: Graph): Set<number> {
  let fused = fusedByGraph.get(graph);
  if (fused === undefined) {
    const readers = new Array<number>(graph.nodes.length).fill(0);
    for (const node of graph.nodes) {
      for (const i of node.inputs) {
        if (i >= 0) {
          readers[i]++;
        }
      }
    }
    fused = new Set();
    graph.nodes.forEach((node, i) => {
      const next = graph.nodes[i + 1];
      if (
        (node.op === 'batchNorm' || node.op === 'add') &&
        next?.op === 'relu' &&
        next.inputs.length === 1 &&
        next.inputs[0] === i &&
        readers[i] === 1
      ) {
        fused!.add(i);
      }
    });
    fusedByGraph.set(graph, fused);
  }
  return fused;
}

/** The dropout mask of a layer for a step: 0 or 1/(1 − rate) per element. */
export function dropoutMask(
  ctx: StepContext,
  layer: string,
  size: number,
  rate: number,
): Float32Array {
  const rng = stream(ctx.seed, `dropout/${ctx.step}/${layer}`);
  const keep = Math.fround(1 / (1 - rate));
  const m = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    m[i] = rng.uniform() >= rate ? keep : 0;
  }
  return m;
}

function forwardNode(
  node: GraphNode,
  ins: tf.Tensor[],
  params: TensorMap,
  state: TensorMap,
  n: number,
  train: { ctx: StepContext; saved: Saved; newState: TensorMap } | null,
  fuseRelu = false,
): tf.Tensor {
  const x = ins[0];
  const p = (s: string): tf.Tensor => params.get(`${node.name}/${s}`)!;
  switch (node.op) {
    case 'dense':
      return dense(flat(x, n), p('weights') as tf.Tensor2D, p('biases') as tf.Tensor1D, node.relu);
    case 'conv2d': {
      const inputs: Record<string, tf.Tensor> = { x, w: p('weights') };
      if (node.bias) {
        inputs.b = p('biases');
      }
      const geom = windowOf(node, n);
      const cols = n * geom.oh * geom.ow * geom.kh * geom.kw * geom.c;
      const pointwise = geom.kh === 1 && geom.kw === 1 && geom.stride === 1;
      if (train && !pointwise && cols <= KEEP_COL_FLOATS) {
        const [y, col] = run<tf.Tensor[]>(L.conv2d, inputs, {
          geom,
          relu: node.relu,
          keepCol: true,
        });
        if (col) {
          train.saved.col = col; // none where the backend reads x's windows directly
        }
        return y;
      }
      return run<tf.Tensor>(L.conv2d, inputs, { geom, relu: node.relu });
    }
    case 'maxPool':
    case 'avgPool':
    case 'globalAvgPool':
      return run<tf.Tensor>(node.op === 'maxPool' ? L.maxPool : L.avgPool, { x }, { geom: windowOf(node, n) }); // prettier-ignore
    case 'flatten':
      return x;
    case 'relu':
      return run<tf.Tensor>(L.relu, { x });
    case 'add':
      return run<tf.Tensor>(L.add, { a: x, b: ins[1] }, { relu: fuseRelu });
    case 'batchNorm': {
      const inputs = {
        x,
        gamma: p('gamma'),
        beta: p('beta'),
        mean: state.get(`${node.name}/moving_mean`)!,
        variance: state.get(`${node.name}/moving_variance`)!,
      };
      const attrs = { channels: node.inShape[2], training: train !== null, relu: fuseRelu };
      const outs = run<tf.Tensor[]>(L.batchNorm, inputs, attrs);
      if (train) {
        train.saved.mean = outs[1];
        train.saved.invstd = outs[2];
        train.newState.set(`${node.name}/moving_mean`, outs[3]);
        train.newState.set(`${node.name}/moving_variance`, outs[4]);
      }
      return outs[0];
    }
    case 'dropout': {
      if (!train || node.rate === 0) {
        return x;
      }
      const mask = tf.tensor(dropoutMask(train.ctx, node.name, x.size, node.rate), x.shape, 'float32'); // prettier-ignore
      train.saved.mask = mask;
      return run<tf.Tensor>(L.mul, { x, mask });
    }
  }
}

function inputsOf(node: GraphNode, x: tf.Tensor, outs: tf.Tensor[]): tf.Tensor[] {
  return node.inputs.map((i) => (i < 0 ? x : outs[i]));
}

/** Logits [n, classes] in inference mode. */
export function predict(
  graph: Graph,
  params: TensorMap,
  state: TensorMap,
  x: tf.Tensor2D,
): tf.Tensor2D {
  const n = x.shape[0];
  const outs: tf.Tensor[] = [];
  const fused = reluFused(graph);
  graph.nodes.forEach((node, i) => {
    // a ReLU fused into the node before it takes that node's result
    outs.push(fused.has(i - 1) ? outs[i - 1] : forwardNode(node, inputsOf(node, x, outs), params, state, n, null, fused.has(i))); // prettier-ignore
  });
  return flat(outs[outs.length - 1], n);
}

/**
 * Mean cross-entropy loss of a batch, the gradient of every parameter by name, and the new value
 * of every state tensor (batch-norm running statistics) by name.
 */
export function lossAndGradients(
  graph: Graph,
  params: TensorMap,
  state: TensorMap,
  x: tf.Tensor2D,
  labels: tf.Tensor1D,
  ctx: StepContext,
): { loss: tf.Scalar; grads: TensorMap; newState: TensorMap } {
  const n = x.shape[0];
  const outs: tf.Tensor[] = [];
  const saved: Saved[] = [];
  const newState: TensorMap = new Map();
  const fused = reluFused(graph);
  graph.nodes.forEach((node, i) => {
    const s: Saved = {};
    // a ReLU fused into the node before it takes that node's result
    outs.push(fused.has(i - 1) ? outs[i - 1] : forwardNode(node, inputsOf(node, x, outs), params, state, n, { ctx, saved: s, newState }, fused.has(i))); // prettier-ignore
    saved.push(s);
  });
  const { loss, dlogits } = softmaxCrossEntropy(flat(outs[outs.length - 1], n), labels);
  const grads: TensorMap = new Map();
  const dOut: (tf.Tensor | undefined)[] = new Array(graph.nodes.length);
  dOut[graph.nodes.length - 1] = dlogits;
  const accumulate = (i: number, d: tf.Tensor): void => {
    if (i < 0) {
      return;
    }
    const prev = dOut[i];
    dOut[i] = prev ? run<tf.Tensor>(L.add, { a: prev, b: d }) : d;
  };
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const node = graph.nodes[i];
    const dy = dOut[i];
    if (!dy) {
      continue; // nothing downstream depends on this node
    }
    const ins = inputsOf(node, x, outs);
    const wantDx = node.inputs.some((j) => j >= 0);
    const dx = backwardNode(node, ins, outs[i], dy, saved[i], params, grads, n, wantDx);
    if (node.op === 'add') {
      accumulate(node.inputs[0], dy);
      accumulate(node.inputs[1], dy);
    } else if (dx) {
      accumulate(node.inputs[0], dx);
    }
  }
  return { loss, grads, newState };
}

function backwardNode(
  node: GraphNode,
  ins: tf.Tensor[],
  y: tf.Tensor,
  dy: tf.Tensor,
  saved: Saved,
  params: TensorMap,
  grads: TensorMap,
  n: number,
  wantDx: boolean,
): tf.Tensor | undefined {
  const x = ins[0];
  const p = (s: string): tf.Tensor => params.get(`${node.name}/${s}`)!;
  switch (node.op) {
    case 'dense': {
      const g = denseBackward(flat(x, n), p('weights') as tf.Tensor2D, y as tf.Tensor2D, flat(dy, n), node.relu, wantDx); // prettier-ignore
      grads.set(`${node.name}/weights`, g.dw);
      grads.set(`${node.name}/biases`, g.db);
      return g.dx;
    }
    case 'conv2d': {
      const inputs: Record<string, tf.Tensor> = { x, w: p('weights'), y, dy };
      if (saved.col) {
        inputs.col = saved.col;
      }
      const outs = run<tf.Tensor[]>(L.conv2dGrad, inputs, {
        geom: windowOf(node, n),
        relu: node.relu,
        bias: node.bias,
        wantDx,
      });
      grads.set(`${node.name}/weights`, outs[0]);
      if (node.bias) {
        grads.set(`${node.name}/biases`, outs[1]);
      }
      return wantDx ? outs[outs.length - 1] : undefined;
    }
    case 'maxPool':
      return wantDx ? run<tf.Tensor>(L.maxPoolGrad, { x, dy }, { geom: windowOf(node, n) }) : undefined; // prettier-ignore
    case 'avgPool':
    case 'globalAvgPool':
      return wantDx ? run<tf.Tensor>(L.avgPoolGrad, { dy }, { geom: windowOf(node, n) }) : undefined; // prettier-ignore
    case 'flatten':
      return dy;
    case 'relu':
      return run<tf.Tensor>(L.reluGrad, { dy, y });
    case 'add':
      return undefined;
    case 'batchNorm': {
      const outs = run<tf.Tensor[]>(
        L.batchNormGrad,
        { x, dy, gamma: p('gamma'), batchMean: saved.mean!, invstd: saved.invstd! },
        { channels: node.inShape[2], wantDx },
      );
      grads.set(`${node.name}/gamma`, outs[0]);
      grads.set(`${node.name}/beta`, outs[1]);
      return outs[2];
    }
    case 'dropout':
      return saved.mask ? run<tf.Tensor>(L.mul, { x: dy, mask: saved.mask }) : dy;
  }
}
