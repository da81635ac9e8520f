/**
 * A trained checkpoint exported as safetensors (`lockstep export --format safetensors`) loads in
 * PyTorch into the peer's own model definitions (scripts/peers/torch_cnn.py, via
 * scripts/peers/lockstep_to_torch.py) and gives the same test predictions as Lockstep, with
 * logits equal within float32 rounding:
 * - resnet20 (batch norm with its running statistics, projection shortcuts) on generated
 *   CIFAR-10 batches;
 * - lenet5 on the fake dataset (MNIST-shaped), whose flatten order differs between the two.
 * Skipped when /usr/bin/python3 cannot import torch.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadDataset } from '../../src/main/engine/data';
import { Trainer } from '../../src/main/engine/trainer';
import { Store } from '../../src/main/store/store';
import { cli, ROOT, tempDir } from '../helpers/cli';
import { cifarNoiseDir } from '../data/helpers';

const PYTHON = '/usr/bin/python3';
const torchMissing = spawnSync(PYTHON, ['-c', 'import torch, numpy']).status !== 0;
const SCRIPT = join(ROOT, 'scripts', 'peers', 'lockstep_to_torch.py');

/** Trains through the CLI, exports safetensors, and returns our test logits and the export. */
async function trainAndExport(
  args: string[],
  env: Record<string, string>,
): Promise<{ logits: Float32Array; classes: number; weights: string }> {
  const store = tempDir();
  const r = cli(['train', ...args, '--store', store, '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  const { checkpoint, branch } = r.json as { checkpoint: string; branch: string };
  const weights = join(tempDir(), 'model.safetensors');
  const e = cli(['export', branch, '-o', weights, '--format', 'safetensors', '--store', store]);
  assert.equal(e.code, 0, e.stderr);
  Object.assign(process.env, env);
  const state = await (await Store.open(store)).readState(checkpoint);
  const t = await Trainer.restore(state);
  try {
    return { logits: t.logits('test'), classes: t.graph.classes, weights };
  } finally {
    t.dispose();
  }
}

function compareWithTorch(
  model: string,
  ours: { logits: Float32Array; classes: number; weights: string },
  data: string[],
): void {
  const py = spawnSync(PYTHON, [SCRIPT, '--model', model, '--weights', ours.weights, ...data], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  assert.equal(py.status, 0, py.stderr);
  const theirs = JSON.parse(py.stdout.trim().split('\n').pop()!) as { predictions: number[]; logits: number[] }; // prettier-ignore
  const n = ours.logits.length / ours.classes;
  assert.equal(theirs.predictions.length, n);
  let scale = 0;
  for (const v of ours.logits) {
    scale = Math.max(scale, Math.abs(v));
  }
  for (let i = 0; i < n; i++) {
    const row = Array.from(ours.logits.subarray(i * ours.classes, (i + 1) * ours.classes));
    const mine = row.indexOf(Math.max(...row));
    assert.equal(theirs.predictions[i], mine, `example ${i}: torch ${theirs.predictions[i]}, lockstep ${mine}`); // prettier-ignore
  }
  ours.logits.forEach(
    (v, i) =>
    assert.ok(Math.abs(v - theirs.logits[i]) <= 1e-4 * Math.max(1, scale), `logit ${i}: ${v} vs ${theirs.logits[i]}`), // prettier-ignore
  );
}

test(
  'resnet20 trained on CIFAR-10-format data: the safetensors export predicts the same in PyTorch',
  { skip: torchMissing && 'python3-torch is not installed' },
  async () => {
    // prettier-ignore
    const dir = cifarNoiseDir(8, 3);
    const ours = await trainAndExport(
      ['--dataset', 'cifar10', '--model', 'resnet20', '--optimizer', 'momentum', '--lr', '0.05', '--batch-size', '4', '--steps', '3', '--seed', '2', '--eval-every', '100'], // prettier-ignore
      { LOCKSTEP_CIFAR10_DIR: dir },
    );
    compareWithTorch('resnet20', ours, ['--cifar', dir]);
  },
);

test(
  'lenet5 trained on the fake dataset: the safetensors export predicts the same in PyTorch',
  { skip: torchMissing && 'python3-torch is not installed' },
  async () => {
    // prettier-ignore
    const ours = await trainAndExport(
    ['--dataset', 'fake', '--model', 'lenet5', '--optimizer', 'adam', '--lr', '0.003', '--batch-size', '32', '--steps', '20', '--seed', '2', '--eval-every', '100'], // prettier-ignore
    {},
  );
    const test_ = loadDataset('fake').test;
    const idx = new Uint8Array(16 + test_.pixels.length);
    new DataView(idx.buffer).setUint32(0, 2051);
    new DataView(idx.buffer).setUint32(4, test_.count);
    new DataView(idx.buffer).setUint32(8, 28);
    new DataView(idx.buffer).setUint32(12, 28);
    idx.set(test_.pixels, 16);
    const file = join(tempDir(), 't10k-images-idx3-ubyte');
    writeFileSync(file, idx);
    compareWithTorch('lenet5', ours, ['--idx', file]);
  },
);
