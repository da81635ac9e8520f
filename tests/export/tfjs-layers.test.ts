/**
 * The tfjs export loads in TensorFlow.js's own `loadLayersModel` (through the same
 * `getModelArtifactsForJSON` path its file/http loaders use, reading the files we wrote) and
 * predicts what a plain float64 computation of x·W + b with ReLU predicts.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { NamedTensor } from '../../src/main/engine/types';
import { toTfjsLayersModel, writeTfjsLayersModel } from '../../src/main/export/tfjs-layers';
import { loadFromDir } from './helpers';
import { removeDir, tempDir } from '../helpers/fixtures';

before(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/** A tiny seeded LCG (Numerical Recipes constants) giving uniform floats in [0, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomParams(rand: () => number, sizes: number[]): Record<string, NamedTensor> {
  const names = [...sizes.slice(1, -1).map((_, i) => `hidden${i + 1}`), 'softmax_linear'];
  const tensors: Record<string, NamedTensor> = {};
  names.forEach((layer, i) => {
    const [fanIn, fanOut] = [sizes[i], sizes[i + 1]];
    const scale = 2 / Math.sqrt(fanIn);
    const w = Float32Array.from({ length: fanIn * fanOut }, () => (rand() - 0.5) * scale);
    const b = Float32Array.from({ length: fanOut }, () => rand() - 0.5);
    tensors[`${layer}/weights`] = { shape: [fanIn, fanOut], data: w };
    tensors[`${layer}/biases`] = { shape: [fanOut], data: b };
    // optimizer slots must be ignored by the export
    tensors[`${layer}/weights/m`] = {
      shape: [fanIn, fanOut],
      data: new Float32Array(fanIn * fanOut),
    };
  });
  return tensors;
}

/** Reference forward pass in float64: ReLU after every hidden layer, linear logits. */
function reference(
  tensors: Record<string, NamedTensor>,
  layers: string[],
  x: Float32Array,
): number[] {
  let act: number[] = Array.from(x);
  layers.forEach((layer, li) => {
    const w = tensors[`${layer}/weights`];
    const b = tensors[`${layer}/biases`];
    const [fanIn, fanOut] = w.shape;
    const out = new Array<number>(fanOut);
    for (let j = 0; j < fanOut; j++) {
      let s = b.data[j];
      for (let i = 0; i < fanIn; i++) {
        s += act[i] * w.data[i * fanOut + j];
      }
      out[j] = li < layers.length - 1 ? Math.max(0, s) : s;
    }
    act = out;
  });
  return act;
}

const argmax = (v: ArrayLike<number>) => {
  let best = 0;
  for (let i = 1; i < v.length; i++) {
    if (v[i] > v[best]) {
      best = i;
    }
  }
  return best;
};

const cases = [
  { kind: 'mlp' as const, hidden: [128, 32], seed: 1 },
  { kind: 'mlp' as const, hidden: [16, 8, 4], seed: 2 },
  { kind: 'softmax' as const, hidden: [] as number[], seed: 3 },
];

for (const c of cases) {
  test(`tf.loadLayersModel loads the ${c.kind} [${c.hidden}] export and predicts like x·W+b`, async () => {
    const rand = lcg(c.seed);
    const sizes = [784, ...c.hidden, 10];
    const tensors = randomParams(rand, sizes);
    const layers = [...c.hidden.map((_, i) => `hidden${i + 1}`), 'softmax_linear'];
    const dir = tempDir('lockstep-tfjs-');
    try {
      const { modelJsonPath } = await writeTfjsLayersModel(dir, c, tensors);
      const model = await loadFromDir(modelJsonPath);
      assert.deepEqual(
        model.layers.map((l) => l.name),
        layers,
      );
      const n = 64;
      const x = Float32Array.from({ length: n * 784 }, () => rand());
      const y = model.predict(tf.tensor2d(x, [n, 784])) as tf.Tensor;
      assert.deepEqual(y.shape, [n, 10]);
      const got = await y.data();
      for (let r = 0; r < n; r++) {
        const want = reference(tensors, layers, x.subarray(r * 784, (r + 1) * 784));
        const row = got.subarray(r * 10, (r + 1) * 10);
        for (let j = 0; j < 10; j++) {
          assert.ok(
            Math.abs(row[j] - want[j]) < 1e-4,
            `row ${r} logit ${j}: ${row[j]} vs ${want[j]}`,
          );
        }
        assert.equal(argmax(row), argmax(want), `prediction of row ${r}`);
      }
      model.dispose();
    } finally {
      removeDir(dir);
    }
  });
}

test('manifest layout, determinism and refusals', () => {
  const tensors = randomParams(lcg(9), [784, 128, 32, 10]);
  const a = toTfjsLayersModel({ kind: 'mlp', hidden: [128, 32] }, tensors);
  const b = toTfjsLayersModel({ kind: 'mlp', hidden: [128, 32] }, tensors);
  assert.deepEqual(a.weightsBin, b.weightsBin);
  const manifest = (
    a.modelJson.weightsManifest as {
      paths: string[];
      weights: { name: string; shape: number[] }[];
    }[]
  )[0];
  assert.deepEqual(manifest.paths, ['weights.bin']);
  assert.deepEqual(
    manifest.weights.map((w) => `${w.name}:${w.shape}`),
    [
      'hidden1/kernel:784,128',
      'hidden1/bias:128',
      'hidden2/kernel:128,32',
      'hidden2/bias:32',
      'softmax_linear/kernel:32,10',
      'softmax_linear/bias:10',
    ],
  );
  assert.equal(a.weightsBin.length, 4 * (784 * 128 + 128 + 128 * 32 + 32 + 32 * 10 + 10));
  // the bytes are the engine's float32 values, little-endian, in manifest order
  const view = new DataView(a.weightsBin.buffer);
  assert.equal(view.getFloat32(0, true), tensors['hidden1/weights'].data[0]);
  assert.equal(view.getFloat32(4 * 784 * 128, true), tensors['hidden1/biases'].data[0]);

  assert.throws(() => toTfjsLayersModel({ kind: 'mlp', hidden: [64, 32] }, tensors), /64/);
  const missing = { ...tensors };
  delete missing['hidden2/biases'];
  assert.throws(
    () => toTfjsLayersModel({ kind: 'mlp', hidden: [128, 32] }, missing),
    /hidden2\/biases is missing/,
  );
  const badBias = { ...tensors, 'hidden2/biases': { shape: [31], data: new Float32Array(31) } };
  assert.throws(
    () => toTfjsLayersModel({ kind: 'mlp', hidden: [128, 32] }, badBias),
    /hidden2\/biases has shape \[31\]/,
  );
  const badChain = {
    ...tensors,
    'hidden2/weights': { shape: [100, 32], data: new Float32Array(3200) },
  };
  assert.throws(
    () => toTfjsLayersModel({ kind: 'mlp', hidden: [128, 32] }, badChain),
    /100 rows, expected 128/,
  );
  assert.throws(
    () => toTfjsLayersModel({ kind: 'softmax', hidden: [10] }, tensors),
    /no hidden layers/,
  );
});
