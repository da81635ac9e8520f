/**
 * Accuracy on the real MNIST (issue 2), as in TensorFlow's reference runs: softmax regression
 * reaches ≥ 0.91 test precision in 1,000 batches of 100 (TF: 0.9178), the Mechanics 101 MLP
 * ≥ 0.87 with sgd and ≥ 0.95 with adam in 2,000 steps.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Trainer } from '../../src/main/engine/trainer';
import type { TrainingConfig } from '../../src/main/engine/types';

async function testPrecision(config: TrainingConfig, steps: number): Promise<number> {
  const t = await Trainer.create(config);
  try {
    for (let i = 0; i < steps; i++) {
      t.trainStep();
    }
    return t.evaluate(['test']).test!.precision;
  } finally {
    t.dispose();
  }
}

const base = { dataset: 'mnist', batchSize: 100, seed: 1, backend: 'wasm' } as const;

test('softmax, sgd lr 0.5, 1,000 steps → test precision ≥ 0.91', async () => {
  const p = await testPrecision(
    { ...base, model: { kind: 'softmax', hidden: [] }, optimizer: { kind: 'sgd', lr: 0.5 } },
    1000,
  );
  assert.ok(p >= 0.91, `precision ${p}`);
});

test('mlp 128,32, sgd lr 0.01, 2,000 steps → test precision ≥ 0.87', async () => {
  const p = await testPrecision(
    { ...base, model: { kind: 'mlp', hidden: [128, 32] }, optimizer: { kind: 'sgd', lr: 0.01 } },
    2000,
  );
  assert.ok(p >= 0.87, `precision ${p}`);
});

test('mlp 128,32, adam lr 0.001, 2,000 steps → test precision ≥ 0.95', async () => {
  const p = await testPrecision(
    { ...base, model: { kind: 'mlp', hidden: [128, 32] }, optimizer: { kind: 'adam', lr: 0.001 } },
    2000,
  );
  assert.ok(p >= 0.95, `precision ${p}`);
});
