/**
 * Our optimizers: `sgd`, `momentum` and `adam`, with every slot and counter explicit and named.
 *
 * Slots are tensors named `<param>/<slot>` (`hidden1/weights/momentum`, `…/m`, `…/v`) and
 * counters are numbers named `<optimizer>/<counter>` (`adam/t`), so a checkpoint restores them
 * by name, exactly. Update rules follow TensorFlow's:
 * - sgd:      w ← w − lr·g
 * - momentum: a ← μ·a + g;  w ← w − lr·a                       (MomentumOptimizer, μ = 0.9)
 * - adam:     t ← t+1;  lr_t = lr·√(1−β2^t)/(1−β1^t);  m ← β1·m + (1−β1)·g;
 *             v ← β2·v + (1−β2)·g²;  w ← w − lr_t·m/(√v + ε)    (AdamOptimizer)
 * lr_t is computed in float64 from the counter, never accumulated, so it is the same whether
 * training ran straight through or was resumed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { K, kernelsActive, run } from './kernels/register';
import { InputError, type OptimizerConfig, type OptimizerKind } from './types';

export const DEFAULT_MOMENTUM = 0.9;
export const ADAM_DEFAULTS = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

/** Fills in an optimizer's default hyperparameters and checks them. */
export function normalizeOptimizer(
  kind: OptimizerKind,
  lr: number,
  extra: Partial<OptimizerConfig> = {},
): OptimizerConfig {
  if (!Number.isFinite(lr) || lr <= 0) {
    throw new InputError(`learning rate must be a finite number > 0, got ${lr}`);
  }
  switch (kind) {
    case 'sgd':
      return { kind, lr };
    case 'momentum': {
      const momentum = extra.momentum ?? DEFAULT_MOMENTUM;
      if (!(momentum >= 0 && momentum < 1)) {
        throw new InputError(`momentum must be in [0, 1), got ${momentum}`);
      }
      return { kind, lr, momentum };
    }
    case 'adam': {
      const c = { ...ADAM_DEFAULTS, ...pick(extra) };
      if (!(c.beta1 >= 0 && c.beta1 < 1) || !(c.beta2 >= 0 && c.beta2 < 1) || !(c.epsilon > 0)) {
        throw new InputError('adam needs 0 ≤ beta1, beta2 < 1 and epsilon > 0');
      }
      return { kind, lr, ...c };
    }
    default:
      throw new InputError(`unknown optimizer '${String(kind)}' (choose sgd, momentum or adam)`);
  }
}

function pick(e: Partial<OptimizerConfig>): Partial<typeof ADAM_DEFAULTS> {
  const out: Partial<typeof ADAM_DEFAULTS> = {};
  if (e.beta1 !== undefined) {
    out.beta1 = e.beta1;
  }
  if (e.beta2 !== undefined) {
    out.beta2 = e.beta2;
  }
  if (e.epsilon !== undefined) {
    out.epsilon = e.epsilon;
  }
  return out;
}

/** Slot names of an optimizer for one parameter. */
export function slotNames(kind: OptimizerKind): string[] {
  return kind === 'momentum' ? ['momentum'] : kind === 'adam' ? ['m', 'v'] : [];
}

/** Counter names of an optimizer with their initial values. */
export function initialCounters(kind: OptimizerKind): Record<string, number> {
  return kind === 'adam' ? { 'adam/t': 0 } : {};
}

/**
 * Applies one update in place of the maps: `params` and `slots` get new tensors (old ones are
 * disposed), `counters` is advanced. Gradients are not disposed here.
 */
export function applyUpdate(
  cfg: OptimizerConfig,
  params: Map<string, tf.Tensor>,
  slots: Map<string, tf.Tensor>,
  counters: Record<string, number>,
  grads: Map<string, tf.Tensor>,
): void {
  const replace = (map: Map<string, tf.Tensor>, name: string, t: tf.Tensor): void => {
    const old = map.get(name);
    map.set(name, tf.keep(t));
    old?.dispose();
  };
  if (kernelsActive()) {
    applyWithKernels(cfg, params, slots, counters, grads, replace);
    return;
  }
  tf.tidy(() => {
    if (cfg.kind === 'adam') {
      const t = (counters['adam/t'] ?? 0) + 1;
      counters['adam/t'] = t;
      const { beta1, beta2, epsilon } = { ...ADAM_DEFAULTS, ...pick(cfg) };
      const lrT = (cfg.lr * Math.sqrt(1 - Math.pow(beta2, t))) / (1 - Math.pow(beta1, t));
      const b1 = tf.scalar(beta1);
      const b2 = tf.scalar(beta2);
      const c1 = tf.scalar(1 - beta1);
      const c2 = tf.scalar(1 - beta2);
      const eps = tf.scalar(epsilon);
      const lr = tf.scalar(lrT);
      for (const [name, g] of grads) {
        const m = tf.add(tf.mul(b1, slots.get(`${name}/m`)!), tf.mul(c1, g));
        const v = tf.add(tf.mul(b2, slots.get(`${name}/v`)!), tf.mul(c2, tf.square(g)));
        const w = tf.sub(params.get(name)!, tf.div(tf.mul(lr, m), tf.add(tf.sqrt(v), eps)));
        replace(slots, `${name}/m`, m);
        replace(slots, `${name}/v`, v);
        replace(params, name, w);
      }
    } else if (cfg.kind === 'momentum') {
      const mu = tf.scalar(cfg.momentum ?? DEFAULT_MOMENTUM);
      const lr = tf.scalar(cfg.lr);
      for (const [name, g] of grads) {
        const a = tf.add(tf.mul(mu, slots.get(`${name}/momentum`)!), g);
        const w = tf.sub(params.get(name)!, tf.mul(lr, a));
        replace(slots, `${name}/momentum`, a);
        replace(params, name, w);
      }
    } else {
      const lr = tf.scalar(cfg.lr);
      for (const [name, g] of grads) {
        replace(params, name, tf.sub(params.get(name)!, tf.mul(lr, g)));
      }
    }
  });
}

/** The update rules above as our fused kernels (same float32 operations, one kernel per tensor). */
function applyWithKernels(
  cfg: OptimizerConfig,
  params: Map<string, tf.Tensor>,
  slots: Map<string, tf.Tensor>,
  counters: Record<string, number>,
  grads: Map<string, tf.Tensor>,
  replace: (map: Map<string, tf.Tensor>, name: string, t: tf.Tensor) => void,
): void {
  if (cfg.kind === 'adam') {
    const t = (counters['adam/t'] ?? 0) + 1;
    counters['adam/t'] = t;
    const { beta1, beta2, epsilon } = { ...ADAM_DEFAULTS, ...pick(cfg) };
    const lrT = (cfg.lr * Math.sqrt(1 - Math.pow(beta2, t))) / (1 - Math.pow(beta1, t));
    const attrs = { lr: lrT, b1: beta1, b2: beta2, c1: 1 - beta1, c2: 1 - beta2, eps: epsilon };
    for (const [name, g] of grads) {
      const [w, m, v] = run<tf.Tensor[]>(
        K.adam,
        { w: params.get(name)!, g, m: slots.get(`${name}/m`)!, v: slots.get(`${name}/v`)! },
        attrs,
      );
      replace(slots, `${name}/m`, m);
      replace(slots, `${name}/v`, v);
      replace(params, name, w);
    }
  } else if (cfg.kind === 'momentum') {
    const attrs = { lr: cfg.lr, mu: cfg.momentum ?? DEFAULT_MOMENTUM };
    for (const [name, g] of grads) {
      const [w, a] = run<tf.Tensor[]>(
        K.momentum,
        { w: params.get(name)!, g, acc: slots.get(`${name}/momentum`)! },
        attrs,
      );
      replace(slots, `${name}/momentum`, a);
      replace(params, name, w);
    }
  } else {
    for (const [name, g] of grads) {
      const [w] = run<tf.Tensor[]>(K.sgd, { w: params.get(name)!, g }, { lr: cfg.lr });
      replace(params, name, w);
    }
  }
}
