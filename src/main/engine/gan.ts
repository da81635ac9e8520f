/**
 * The `gan` model: an unconditional MNIST GAN of two dense layer graphs, trained in lockstep.
 *
 * - generator: noise [n, noiseDims] → dense+ReLU layers → `logits` [n, 784] → tanh (pixels in
 *   [−1, 1]); discriminator: pixels [n, 784] → dense+ReLU layers → `logits` [n, 1]. Both are
 *   built by the layer graph (./graph.ts: He init for hidden layers, Glorot for `logits`, zero
 *   biases) with every node and tensor named under its role: `generator/dense1/weights`,
 *   `discriminator/logits/biases`, …, so each draws from its own `init/<name>` stream.
 * - Real pixels are (x − 128) / 128. Noise is truncated normal (σ = 1, ±2σ) from the streams
 *   `noise/<step>/discriminator` (the fake half of the discriminator's batch) and
 *   `noise/<step>/generator` (the generator's update), where step = updates before this one.
 * - One step: the discriminator's update on [real; G(z_d)] with targets [1; 0] and loss
 *   d_loss = mean sce(real, 1) + mean sce(fake, 0); then the generator's update with the
 *   non-saturating loss g_loss = mean sce(D(G(z_g)), 1) under the just-updated discriminator.
 *   Each network has its own optimizer (slots `<param>/<slot>`, counters `<role>/<counter>`).
 * - Samples: sample k is G(noise from the stream `samples/<k>`) under the run's root seed,
 *   independent of the step, as bytes round((y + 1) · 127.5).
 * Runs on our kernels only (wasm, cpu). Callers own memory (wrap calls in tf.tidy).
 */
import * as tf from '@tensorflow/tfjs-core';
import { buildGraph, type Graph, type GraphNode } from './graph';
import { GAN_KERNELS as G } from './kernels/gan-kernels';
import { run } from './kernels/register';
import { dense, denseBackward } from './ops';
import { applyUpdate, initialCounters } from './optimizers';
import { stream, truncatedNormal } from './rng';
import { InputError, type GanConfig, type OptimizerConfig } from './types';

export const GAN_ROLES = ['generator', 'discriminator'] as const;
export type GanRole = (typeof GAN_ROLES)[number];

export const GAN_PIXELS = 784;
export const GAN_DEFAULTS: GanConfig = { noiseDims: 64, generator: [256], discriminator: [256] };
export const MAX_NOISE_DIMS = 1024;
export const MAX_GAN_LAYERS = 8;
export const MAX_GAN_UNITS = 4096;
/** Adam with β1 = 0.5 (DCGAN's choice) and lr 2e-4 unless given otherwise */
export const GAN_ADAM = { lr: 0.0002, beta1: 0.5 };

/** float32((x − 128) / 128) for every byte value. */
export const GAN_PIXEL = (() => {
  const t = new Float32Array(256);
  for (let i = 0; i < 256; i++) {
    t[i] = (i - 128) / 128;
  }
  return t;
})();

/** Checks a GAN config and returns it normalized. */
export function normalizeGan(g: GanConfig | undefined): GanConfig {
  const c = g ?? GAN_DEFAULTS;
  if (!Number.isInteger(c.noiseDims) || c.noiseDims < 1 || c.noiseDims > MAX_NOISE_DIMS) {
    throw new InputError(`--noise-dims must be an integer from 1 to ${MAX_NOISE_DIMS}, got ${c.noiseDims}`); // prettier-ignore
  }
  for (const role of GAN_ROLES) {
    const h = c[role];
    if (
      !Array.isArray(h) ||
      h.length < 1 ||
      h.length > MAX_GAN_LAYERS ||
      h.some((u) => !Number.isInteger(u) || u < 1 || u > MAX_GAN_UNITS)
    ) {
      // prettier-ignore
      throw new InputError(
        `the ${role} needs 1 to ${MAX_GAN_LAYERS} hidden layer sizes from 1 to ${MAX_GAN_UNITS} (--${role} 256)`,
      );
    }
  }
  return { noiseDims: c.noiseDims, generator: [...c.generator], discriminator: [...c.discriminator] }; // prettier-ignore
}

/** A network's graph with every node and tensor named under `<role>/`. */
function prefixed(g: Graph, role: GanRole): Graph {
  const p = (s: string): string => `${role}/${s}`;
  return {
    ...g,
    nodes: g.nodes.map((n) => ({ ...n, name: p(n.name) }) as GraphNode),
    params: g.params.map((t) => ({ ...t, name: p(t.name) })),
    state: g.state.map((t) => ({ ...t, name: p(t.name) })),
  };
}

export interface GanNets {
  config: GanConfig;
  generator: Graph;
  discriminator: Graph;
  /** both networks' parameters and nodes, generator first (for bookkeeping) */
  combined: Graph;
}

/** The two layer graphs of a GAN (dense layers with ReLU, then `logits`). */
export function ganNets(config: GanConfig | undefined): GanNets {
  const c = normalizeGan(config);
  const spec = (h: number[]): string => h.map((u) => `dense:${u},relu`).join(',');
  const generator = prefixed(
    buildGraph({ kind: 'layers', hidden: [], layers: spec(c.generator) }, [1, 1, c.noiseDims], GAN_PIXELS), // prettier-ignore
    'generator',
  );
  const discriminator = prefixed(
    buildGraph({ kind: 'layers', hidden: [], layers: spec(c.discriminator) }, [28, 28, 1], 1),
    'discriminator',
  );
  const combined: Graph = {
    nodes: [...generator.nodes, ...discriminator.nodes],
    inputShape: generator.inputShape,
    classes: 1,
    params: [...generator.params, ...discriminator.params],
    state: [],
  };
  return { config: c, generator, discriminator, combined };
}

/** The role a tensor name belongs to, or null. */
export function roleOf(name: string): GanRole | null {
  for (const r of GAN_ROLES) {
    if (name.startsWith(`${r}/`)) {
      return r;
    }
  }
  return null;
}

/** A GAN's optimizer counters: each optimizer's counters under its role. */
export function ganCounters(
  opts: Record<GanRole, OptimizerConfig>,
  saved?: Record<string, number>,
  keep?: Record<GanRole, boolean>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const role of GAN_ROLES) {
    for (const [k, v] of Object.entries(initialCounters(opts[role].kind))) {
      const name = `${role}/${k}`;
      out[name] = keep?.[role] && saved && name in saved ? saved[name] : v;
    }
  }
  return out;
}

/** Truncated-normal noise [n, dims] from one stream. */
export function noise(seed: number, name: string, n: number, dims: number): Float32Array {
  return truncatedNormal(stream(seed, name), new Float32Array(n * dims), 1);
}

/** The noise of sample k: the stream `samples/<k>`. */
export function sampleNoise(seed: number, count: number, dims: number): Float32Array {
  const out = new Float32Array(count * dims);
  for (let k = 0; k < count; k++) {
    truncatedNormal(stream(seed, `samples/${k}`), out.subarray(k * dims, (k + 1) * dims), 1);
  }
  return out;
}

type Params = Map<string, tf.Tensor>;

/** Every node's output, input first: acts[0] = x, acts[i + 1] = node i's output. */
function forwardAll(graph: Graph, params: Params, x: tf.Tensor2D): tf.Tensor2D[] {
  const acts: tf.Tensor2D[] = [x];
  for (const node of graph.nodes) {
    if (node.op !== 'dense') {
      throw new Error(`bug: a GAN network has dense layers only, not ${node.op}`);
    }
    const w = params.get(`${node.name}/weights`) as tf.Tensor2D;
    const b = params.get(`${node.name}/biases`) as tf.Tensor1D;
    acts.push(dense(acts[acts.length - 1], w, b, node.relu));
  }
  return acts;
}

/** Gradients of every parameter of `graph` given ∂L/∂(last output), and ∂L/∂x when wanted. */
function backwardAll(
  graph: Graph,
  params: Params,
  acts: tf.Tensor2D[],
  dlast: tf.Tensor2D,
  wantInputGrad: boolean,
): { grads: Params; dx?: tf.Tensor2D } {
  const grads: Params = new Map();
  let dy = dlast;
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const node = graph.nodes[i] as GraphNode & { op: 'dense'; relu: boolean };
    const wantDx = i > 0 || wantInputGrad;
    const g = denseBackward(acts[i], params.get(`${node.name}/weights`) as tf.Tensor2D, acts[i + 1], dy, node.relu, wantDx); // prettier-ignore
    grads.set(`${node.name}/weights`, g.dw);
    grads.set(`${node.name}/biases`, g.db);
    if (g.dx) {
      dy = g.dx;
    }
  }
  return wantInputGrad ? { grads, dx: dy } : { grads };
}

/** Generated pixels in [−1, 1]: tanh(G(z)), and the generator's activations. */
function generate(
  nets: GanNets,
  params: Params,
  z: tf.Tensor2D,
): { acts: tf.Tensor2D[]; y: tf.Tensor2D } {
  // prettier-ignore
  const acts = forwardAll(nets.generator, params, z);
  return { acts, y: run<tf.Tensor2D>(G.tanh, { x: acts[acts.length - 1] }) };
}

function sigmoidXent(
  logits: tf.Tensor2D,
  targets: Float32Array,
  denom: number,
): [tf.Scalar, tf.Tensor2D] {
  // prettier-ignore
  const t = tf.tensor1d(targets, 'float32');
  return run<[tf.Scalar, tf.Tensor2D]>(G.sigmoidXent, { logits, targets: t }, { denom });
}

/** Applies `cfg` to the grads of one role, with that role's counters. */
function update(
  role: GanRole,
  cfg: OptimizerConfig,
  params: Params,
  slots: Params,
  counters: Record<string, number>,
  grads: Params,
): void {
  const own: Record<string, number> = {};
  const prefix = `${role}/`;
  for (const [k, v] of Object.entries(counters)) {
    if (k.startsWith(prefix)) {
      own[k.slice(prefix.length)] = v;
    }
  }
  applyUpdate(cfg, params, slots, own, grads);
  for (const [k, v] of Object.entries(own)) {
    counters[prefix + k] = v;
  }
}

export interface GanStepInput {
  nets: GanNets;
  seed: number;
  /** updates before this one */
  step: number;
  /** real pixels [n, 784] as (x − 128) / 128 */
  real: Float32Array;
  n: number;
  optimizers: Record<GanRole, OptimizerConfig>;
}

/**
 * One GAN step in place of `params`, `slots` and `counters`: the discriminator's update, then the
 * generator's. Returns both losses (of the batches before each update). Call inside tf.tidy.
 */
export function ganStep(
  input: GanStepInput,
  params: Params,
  slots: Params,
  counters: Record<string, number>,
): { dLoss: tf.Scalar; gLoss: tf.Scalar } {
  const { nets, seed, step, n, optimizers } = input;
  const dims = nets.config.noiseDims;
  // the discriminator: real (target 1) and generated (target 0) rows in one batch
  const zD = tf.tensor2d(noise(seed, `noise/${step}/discriminator`, n, dims), [n, dims], 'float32');
  const fake = generate(nets, params, zD).y;
  const real = tf.tensor2d(input.real, [n, GAN_PIXELS], 'float32');
  const xD = tf.concat([real, fake], 0);
  const targets = new Float32Array(2 * n);
  targets.fill(1, 0, n);
  const dActs = forwardAll(nets.discriminator, params, xD);
  const [dLoss, dl] = sigmoidXent(dActs[dActs.length - 1], targets, n);
  const dGrads = backwardAll(nets.discriminator, params, dActs, dl, false).grads;
  update('discriminator', optimizers.discriminator, params, slots, counters, dGrads);
  // the generator: non-saturating loss under the updated discriminator
  const zG = tf.tensor2d(noise(seed, `noise/${step}/generator`, n, dims), [n, dims], 'float32');
  const gen = generate(nets, params, zG);
  const acts = forwardAll(nets.discriminator, params, gen.y);
  const [gLoss, gl] = sigmoidXent(acts[acts.length - 1], new Float32Array(n).fill(1), n);
  const dx = backwardAll(nets.discriminator, params, acts, gl, true).dx!;
  const dPre = run<tf.Tensor2D>(G.tanhGrad, { dy: dx, y: gen.y });
  const gGrads = backwardAll(nets.generator, params, gen.acts, dPre, false).grads;
  update('generator', optimizers.generator, params, slots, counters, gGrads);
  return { dLoss, gLoss };
}

/** `count` samples as bytes [count, 784]: round((tanh(G(z_k)) + 1) · 127.5), z_k from `samples/<k>`. */
export function generateSamples(
  nets: GanNets,
  params: Params,
  seed: number,
  count: number,
): Uint8Array {
  const dims = nets.config.noiseDims;
  const y = tf.tidy(() => {
    const z = tf.tensor2d(sampleNoise(seed, count, dims), [count, dims], 'float32');
    return generate(nets, params, z).y;
  });
  const v = y.dataSync() as Float32Array;
  y.dispose();
  const out = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) {
    out[i] = Math.max(0, Math.min(255, Math.round((v[i] + 1) * 127.5)));
  }
  return out;
}

/** Checks that a GAN can run on a dataset of this image shape. */
export function assertGanData(shape: [number, number, number], dataset: string): void {
  if (shape[0] * shape[1] * shape[2] !== GAN_PIXELS) {
    throw new InputError(`model gan generates 28×28 grey images: dataset ${dataset} has ${shape.join('×')}`); // prettier-ignore
  }
}
