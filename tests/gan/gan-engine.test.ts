/**
 * The `gan` model in the engine, on real training (fake data, small nets), with `--shuffle
 * buffer:1000` and with the per-epoch shuffle:
 * - I1: same stateHash and the same D and G losses at every step, run after run;
 * - I2 in-process: split at odd steps (1, 3, 7) equals the straight run, bitwise;
 * - I5: a branch with a new generator or discriminator learning rate shares every step ≤ k;
 * - wasm == cpu: the same tensors (parameters, slots, buffer) and losses, bit for bit;
 * - the kernels against float64 references (sigmoid cross-entropy with logits and its gradient,
 *   tanh and its gradient through the generator), and the tensor names per network.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../src/main/engine/backend';
import { GAN_KERNELS } from '../../src/main/engine/kernels/gan-kernels';
import { run } from '../../src/main/engine/kernels/register';
import { stateHash } from '../../src/main/engine/state';
import { Trainer, validateConfig } from '../../src/main/engine/trainer';
import { InputError, type TrainingConfig } from '../../src/main/engine/types';
import { trainFrom } from '../helpers/engine';
import { fakeConfig } from '../helpers/fixtures';

export function ganConfig(over: Partial<TrainingConfig> = {}): TrainingConfig {
  return fakeConfig({
    model: { kind: 'gan', hidden: [], gan: { noiseDims: 8, generator: [16], discriminator: [16] } },
    optimizer: { kind: 'adam', lr: 0.001, beta1: 0.5 },
    discriminatorOptimizer: { kind: 'adam', lr: 0.002, beta1: 0.5 },
    batchSize: 40,
    ...over,
  });
}

/** stateHash and both losses after every step (index 0 = step 0, losses from step 1). */
async function runOf(config: TrainingConfig, steps: number) {
  const t = await Trainer.create(config);
  try {
    const hashes = [stateHash(t.snapshot())];
    const losses: [number, number][] = [];
    for (let i = 0; i < steps; i++) {
      const r = t.trainStep();
      losses.push([r.dLoss!, r.gLoss!]);
      hashes.push(stateHash(t.snapshot()));
    }
    return { hashes, losses, final: t.snapshot() };
  } finally {
    t.dispose();
  }
}

const SHUFFLES: [string, TrainingConfig['shuffle']][] = [
  ['buffer:1000', { kind: 'buffer', size: 1000 }],
  ['epoch', undefined],
];

describe('gan engine', () => {
  test('names every tensor under its network, with per-network optimizer slots and counters', async () => {
    const t = await Trainer.create(ganConfig({ optimizer: { kind: 'momentum', lr: 0.01, momentum: 0.9 } })); // prettier-ignore
    try {
      const s = t.snapshot();
      const names = Object.keys(s.tensors).sort();
      assert.deepEqual(names, [
        'discriminator/dense1/biases',
        'discriminator/dense1/biases/m',
        'discriminator/dense1/biases/v',
        'discriminator/dense1/weights',
        'discriminator/dense1/weights/m',
        'discriminator/dense1/weights/v',
        'discriminator/logits/biases',
        'discriminator/logits/biases/m',
        'discriminator/logits/biases/v',
        'discriminator/logits/weights',
        'discriminator/logits/weights/m',
        'discriminator/logits/weights/v',
        'generator/dense1/biases',
        'generator/dense1/biases/momentum',
        'generator/dense1/weights',
        'generator/dense1/weights/momentum',
        'generator/logits/biases',
        'generator/logits/biases/momentum',
        'generator/logits/weights',
        'generator/logits/weights/momentum',
      ]);
      assert.deepEqual(s.tensors['generator/dense1/weights'].shape, [8, 16]);
      assert.deepEqual(s.tensors['generator/logits/weights'].shape, [16, 784]);
      assert.deepEqual(s.tensors['discriminator/dense1/weights'].shape, [784, 16]);
      assert.deepEqual(s.tensors['discriminator/logits/weights'].shape, [16, 1]);
      assert.deepEqual(s.counters, { 'discriminator/adam/t': 0 });
      t.trainStep();
      assert.deepEqual(t.snapshot().counters, { 'discriminator/adam/t': 1 });
    } finally {
      t.dispose();
    }
  });

  test('refuses what a gan cannot do, in one clear line', () => {
    const bad: [string, TrainingConfig][] = [
      ['no discriminator optimizer', { ...ganConfig(), discriminatorOptimizer: undefined }],
      ['a discriminator optimizer on an mlp', fakeConfig({ discriminatorOptimizer: { kind: 'sgd', lr: 0.1 } })], // prettier-ignore
      ['zero noise', ganConfig({ model: { kind: 'gan', hidden: [], gan: { noiseDims: 0, generator: [4], discriminator: [4] } } })], // prettier-ignore
      ['no generator layers', ganConfig({ model: { kind: 'gan', hidden: [], gan: { noiseDims: 4, generator: [], discriminator: [4] } } })], // prettier-ignore
      ['augmentation', ganConfig({ augment: { crop: 2, flip: false } })],
      ['tensorflow backend', ganConfig({ backend: 'tensorflow' })],
    ];
    for (const [why, c] of bad) {
      assert.throws(() => validateConfig(c), InputError, why);
    }
  });

  for (const [label, shuffle] of SHUFFLES) {
    const perBackend: Record<string, Awaited<ReturnType<typeof runOf>>> = {};
    for (const backend of ['wasm', 'cpu'] as const) {
      const config = ganConfig({ backend, ...(shuffle ? { shuffle } : {}) });
      test(`I1 and I2 (split at odd steps 1, 3, 7) with --shuffle ${label} on ${backend}`, async () => {
        const a = await runOf(config, 9);
        const b = await runOf(config, 9);
        assert.deepEqual(a.hashes, b.hashes);
        assert.deepEqual(a.losses, b.losses, 'identical per-step D and G losses');
        assert.equal(new Set(a.hashes).size, a.hashes.length, 'every step changes the state');
        assert.ok(a.losses.every(([d, g]) => Number.isFinite(d) && Number.isFinite(g) && d !== g));
        for (const k of [1, 3, 7]) {
          const rest = await trainFrom(await trainFrom(config, k), 9 - k);
          assert.equal(stateHash(rest), a.hashes[9], `split at ${k}`);
        }
        perBackend[backend] = a;
      });
    }

    test(`wasm == cpu with --shuffle ${label}: the same tensors and losses, bit for bit`, () => {
      const w = perBackend.wasm;
      const c = perBackend.cpu;
      assert.ok(w && c, 'both backends ran');
      assert.deepEqual(w.losses, c.losses);
      const names = Object.keys(w.final.tensors).sort();
      assert.deepEqual(Object.keys(c.final.tensors).sort(), names);
      for (const n of names) {
        const a = new Uint32Array(w.final.tensors[n].data.buffer);
        const b = new Uint32Array(c.final.tensors[n].data.buffer);
        assert.deepEqual(a, b, n);
      }
      assert.deepEqual(w.final.counters, c.final.counters);
    });
  }

  test('I5: a branch with a new discriminator or generator lr shares every step up to k', async () => {
    const config = ganConfig({ shuffle: { kind: 'buffer', size: 1000 } });
    const parent = await runOf(config, 8);
    const k = 5;
    const atK = await trainFrom(config, k);
    assert.equal(stateHash(atK), parent.hashes[k]);
    for (const over of [
      { discriminatorOptimizer: { kind: 'adam' as const, lr: 0.01, beta1: 0.5 } },
      { optimizer: { kind: 'adam' as const, lr: 0.01, beta1: 0.5 } },
    ]) {
      const branch = await trainFrom(atK, 3, over);
      assert.equal(branch.step, k + 3);
      assert.notEqual(stateHash(branch), parent.hashes[k + 3], 'the branch diverges after k');
      const role = 'optimizer' in over ? 'generator' : 'discriminator';
      const other = role === 'generator' ? 'discriminator' : 'generator';
      assert.equal(
        'optimizer' in over ? branch.config.optimizer.lr : branch.config.discriminatorOptimizer!.lr,
        0.01,
      );
      assert.equal(branch.counters[`${role}/adam/t`], k + 3, 'same kind: slots and counters kept');
      assert.equal(branch.counters[`${other}/adam/t`], k + 3);
    }
    assert.deepEqual((await runOf(config, 8)).hashes, parent.hashes, 'the parent is untouched');
  });

  test('the same samples from the same checkpoint; samples differ by k and after training', async () => {
    const t = await Trainer.create(ganConfig());
    try {
      const a = t.samples(6);
      assert.equal(a.length, 6 * 784);
      assert.deepEqual(t.samples(6), a);
      assert.deepEqual(
        t.samples(3),
        a.subarray(0, 3 * 784),
        'sample k does not depend on the count',
      );
      assert.notDeepEqual(a.subarray(0, 784), a.subarray(784, 2 * 784));
      t.trainStep();
      assert.notDeepEqual(t.samples(6), a);
    } finally {
      t.dispose();
    }
  });

  for (const backend of ['wasm', 'cpu'] as const) {
    test(`kernels match float64 references on ${backend}`, async () => {
      await useBackend(backend);
      const x = Float32Array.from([-30, -2.5, -0.1, 0, 0.3, 4, 25]);
      const z = Float32Array.from([1, 0, 1, 0, 1, 1, 0]);
      const [loss, dl] = tf.tidy(
        () =>
        run<tf.Tensor[]>(GAN_KERNELS.sigmoidXent, { logits: tf.tensor2d(x, [7, 1]), targets: tf.tensor1d(z) }, { denom: 4 }).map((t) => tf.keep(t)), // prettier-ignore
      );
      let want = 0;
      for (let i = 0; i < x.length; i++) {
        const p = 1 / (1 + Math.exp(-x[i]));
        // the textbook form, stable enough in float64 for these logits
        want += -(z[i] * Math.log(Math.max(p, 1e-300)) + (1 - z[i]) * Math.log(Math.max(1 - p, 1e-300))); // prettier-ignore
        assert.ok(Math.abs(dl.dataSync()[i] - (p - z[i]) / 4) < 1e-7, `dlogit ${i}`);
      }
      assert.ok(Math.abs(loss.dataSync()[0] - want / 4) < 1e-5, `${loss.dataSync()[0]} vs ${want / 4}`); // prettier-ignore
      const xs = Float32Array.from([-3, -0.5, 0, 0.25, 2]);
      const y = tf.tidy(() => tf.keep(run<tf.Tensor>(GAN_KERNELS.tanh, { x: tf.tensor1d(xs) })));
      const dy = Float32Array.from([1, -2, 0.5, 3, 1]);
      const dx = tf.tidy(() => tf.keep(run<tf.Tensor>(GAN_KERNELS.tanhGrad, { dy: tf.tensor1d(dy), y }))); // prettier-ignore
      xs.forEach((v, i) => {
        assert.ok(Math.abs(y.dataSync()[i] - Math.tanh(v)) < 1e-7);
        const h = 1e-4; // central difference of tanh
        const num = (dy[i] * (Math.tanh(v + h) - Math.tanh(v - h))) / (2 * h);
        assert.ok(Math.abs(dx.dataSync()[i] - num) < 1e-4, `tanh grad ${i}`);
      });
      tf.dispose([loss, dl, y, dx]);
    });
  }
});
