/**
 * Layer-graph models (lenet5, --layers with batch norm, residual blocks, pooling, dropout)
 * trained through the CLI, exported with `lockstep export --format tfjs`, load in
 * @tensorflow/tfjs-layers' loadLayersModel and predict on the test images what the engine
 * predicts: the same argmax on every example, logits within 1e-4 of the largest (tfjs's conv
 * kernels sum in another order); resnet20 on generated CIFAR-10 batches; a stored dataset's own
 * input shape. Plus the refusals (InputError, one line naming what is wrong; exit 2 in the CLI).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadDataset, PIXEL_TO_FLOAT } from '../../src/main/engine/data';
import { readDatasetFiles } from '../../src/main/engine/dataset-files';
import { Trainer } from '../../src/main/engine/trainer';
import { InputError, type NamedTensor } from '../../src/main/engine/types';
import { toTfjsLayersModel } from '../../src/main/export/tfjs-layers';
import { Store } from '../../src/main/store/store';
import { cli, tempDir } from '../helpers/cli';
import { loadFromDir } from './helpers';
import { cifarNoiseDir, writeCsv } from '../data/helpers';

before(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/** Trains through the CLI, exports tfjs, returns the engine's test logits and the export dir. */
async function trainAndExport(
  args: string[],
  env: Record<string, string> = {},
): Promise<{
  logits: Float32Array;
  classes: number;
  out: string;
  tensors: Record<string, NamedTensor>;
}> {
  // prettier-ignore
  const store = tempDir();
  const r = cli(['train', ...args, '--store', store, '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  const { checkpoint, branch } = r.json as { checkpoint: string; branch: string };
  const out = join(tempDir(), 'tfjs');
  const e = cli(['export', branch, '-o', out, '--format', 'tfjs', '--store', store]);
  assert.equal(e.code, 0, e.stderr);
  Object.assign(process.env, env);
  const state = await (await Store.open(store)).readState(checkpoint);
  const t = await Trainer.restore(state);
  try {
    return { logits: t.logits('test'), classes: t.graph.classes, out, tensors: state.tensors };
  } finally {
    t.dispose();
    await tf.setBackend('cpu');
  }
}

async function compareWithTfjs(
  ours: { logits: Float32Array; classes: number; out: string },
  dataset = 'fake',
) {
  const model = await loadFromDir(join(ours.out, 'model.json'));
  const { test: split, shape } = loadDataset(dataset);
  const x = Float32Array.from(split.pixels, (b) => PIXEL_TO_FLOAT[b]);
  const y = model.predict(tf.tensor4d(x, [split.count, ...shape])) as tf.Tensor;
  assert.deepEqual(y.shape, [split.count, ours.classes]);
  const theirs = (await y.data()) as Float32Array;
  y.dispose();
  model.dispose();
  let scale = 0;
  for (const v of ours.logits) {
    scale = Math.max(scale, Math.abs(v));
  }
  let worst = 0;
  ours.logits.forEach((v, i) => {
    worst = Math.max(worst, Math.abs(v - theirs[i]));
    assert.ok(Math.abs(v - theirs[i]) <= 1e-4 * Math.max(1, scale), `logit ${i}: ${v} vs ${theirs[i]}`); // prettier-ignore
  });
  const argmax = (v: Float32Array, r: number) => {
    const row = Array.from(v.subarray(r * ours.classes, (r + 1) * ours.classes));
    return row.indexOf(Math.max(...row));
  };
  for (let r = 0; r < split.count; r++) {
    assert.equal(argmax(theirs, r), argmax(ours.logits, r), `example ${r}`);
  }
  return { worst, scale, n: split.count };
}

test('lenet5 trained on fake: the tfjs export predicts what the engine predicts', async () => {
  // prettier-ignore
  const ours = await trainAndExport(['--dataset', 'fake', '--model', 'lenet5', '--optimizer', 'adam', '--lr', '0.003', '--batch-size', '32', '--steps', '20', '--seed', '2', '--eval-every', '100']);
  const layers = JSON.parse(
    readFileSync(join(ours.out, 'model.json'), 'utf8'),
  ).modelTopology.config.layers.map((l: { class_name: string; name: string }) => `${l.class_name}:${l.name}`); // prettier-ignore
  assert.deepEqual(layers, [
    'InputLayer:input',
    'Conv2D:conv1',
    'MaxPooling2D:maxpool1',
    'Conv2D:conv2',
    'MaxPooling2D:maxpool2',
    'Flatten:flatten1',
    'Dense:dense1',
    'Dense:dense2',
    'Dense:logits',
  ]);
  // lenet5's 2-pixel padding of a 5×5 stride-1 conv is exactly Keras's 'same'
  assert.equal(JSON.parse(readFileSync(join(ours.out, 'model.json'), 'utf8')).modelTopology.config.layers[1].config.padding, 'same'); // prettier-ignore
  const r = await compareWithTfjs(ours);
  console.log(`lenet5: ${r.n} test examples, max |Δlogit| ${r.worst} (largest logit ${r.scale})`);
});

test('a --layers stack with explicit padding, bn, res (projection), avgpool, gap, dropout exports and predicts the same', async () => {
  const spec = 'conv:4x3/2:2,bn,relu,res:8/2,res:8,avgpool:2/1,dropout:0.25,conv:6x3:valid,relu,gap,dense:12,relu,bn'; // prettier-ignore
  // prettier-ignore
  const ours = await trainAndExport(['--dataset', 'fake', '--model', 'layers', '--layers', spec, '--optimizer', 'momentum', '--lr', '0.05', '--batch-size', '16', '--steps', '6', '--seed', '5', '--eval-every', '100']);
  // training moved the running statistics off their initial 0 / 1, so they are exercised
  assert.ok(ours.tensors['bn1/moving_mean'].data.some((v) => v !== 0));
  const names = JSON.parse(readFileSync(join(ours.out, 'model.json'), 'utf8')).modelTopology.config.layers.map((l: { name: string }) => l.name); // prettier-ignore
  // padding 2 of a 3×3 stride-2 conv is not Keras's 'same': an explicit ZeroPadding2D
  for (const n of [
    'conv1_pad',
    'res1_shortcut_conv',
    'res1_add',
    'res2_add',
    'gap1',
    'dropout1',
    'bn2',
    'logits',
  ]) {
    // prettier-ignore
    assert.ok(names.includes(n), `${n} in ${names}`);
  }
  const r = await compareWithTfjs(ours);
  console.log(`layers: ${r.n} test examples, max |Δlogit| ${r.worst} (largest logit ${r.scale})`);
});

test('resnet20 trained on CIFAR-10-format data: the tfjs export ([32, 32, 3] input) predicts the same', async () => {
  const dir = cifarNoiseDir(8, 4);
  // prettier-ignore
  const ours = await trainAndExport(['--dataset', 'cifar10', '--model', 'resnet20', '--optimizer', 'momentum', '--lr', '0.05', '--batch-size', '4', '--steps', '3', '--seed', '2', '--eval-every', '100'], { LOCKSTEP_CIFAR10_DIR: dir });
  const model = JSON.parse(readFileSync(join(ours.out, 'model.json'), 'utf8'));
  assert.deepEqual(model.modelTopology.config.layers[0].config.batch_input_shape, [null, 32, 32, 3]); // prettier-ignore
  const r = await compareWithTfjs(ours, 'cifar10');
  console.log(`resnet20: ${r.n} test examples, max |Δlogit| ${r.worst} (largest logit ${r.scale})`);
});

test('refusals: one-line InputErrors naming the tensor or what is missing', () => {
  const model = { kind: 'lenet5' as const, hidden: [] };
  assert.throws(
    () => toTfjsLayersModel(model, {}),
    (e: Error) => e instanceof InputError && /lenet5 needs the input shape/.test(e.message),
  );
  assert.throws(
    () => toTfjsLayersModel(model, {}, [28, 28, 1]),
    (e: Error) => e instanceof InputError && /tensor conv1\/weights is missing/.test(e.message),
  );
  const wrong = { 'conv1/weights': { shape: [5, 5, 3, 6], data: new Float32Array(450) } };
  assert.throws(
    () => toTfjsLayersModel(model, wrong, [28, 28, 1]),
    /conv1\/weights has shape \[5,5,3,6\], the model says \[5,5,1,6\]/,
  );
  assert.throws(
    () => toTfjsLayersModel({ kind: 'layers', hidden: [], layers: 'conv:4x3,bogus' }, {}, [28, 28, 1]), // prettier-ignore
    (e: Error) => e instanceof InputError && /bogus/.test(e.message),
  );
});

test('a stored dataset gives its own input shape; without its data in the store, exit 2 and nothing written', async () => {
  const dir = tempDir('lockstep-tfjs-data-');
  const csv = writeCsv(join(dir, 'csv'));
  const A = join(dir, 'A');
  assert.equal(cli(['--store', A, 'data', 'add', 'digits', csv]).code, 0);
  // prettier-ignore
  const r = cli(['--store', A, '--json', 'train', '--dataset', 'digits', '--model', 'layers', '--layers', 'conv:4x3,relu,maxpool:2', '--steps', '5', '--batch-size', '20', '--seed', '3', '--branch', 'd', '--eval-every', '100']);
  assert.equal(r.code, 0, r.stderr);
  const out = join(dir, 'tfjs');
  const e = cli(['--store', A, 'export', 'd', '-o', out, '--format', 'tfjs']);
  assert.equal(e.code, 0, e.stderr);
  const json = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'));
  assert.deepEqual(json.modelTopology.config.layers[0].config.batch_input_shape, [null, 8, 8, 1]);
  const model = await loadFromDir(join(out, 'model.json'));
  const { parts } = readDatasetFiles(csv);
  const x = Float32Array.from(parts.test.pixels, (b) => PIXEL_TO_FLOAT[b]);
  const y = model.predict(tf.tensor4d(x, [parts.test.count, 8, 8, 1])) as tf.Tensor;
  assert.deepEqual(y.shape, [parts.test.count, 10]);
  y.dispose();
  model.dispose();

  // a bundle without its data, imported elsewhere: the shape is unknown, a one-line refusal
  const bundle = join(dir, 'd.lockstep');
  assert.equal(cli(['--store', A, 'export', 'd', '-o', bundle]).code, 0);
  const C = join(dir, 'C');
  assert.equal(cli(['--store', C, 'import', bundle]).code, 0);
  const out2 = join(dir, 'tfjs2');
  const no = cli(['--store', C, 'export', 'd', '-o', out2, '--format', 'tfjs']);
  assert.equal(no.code, 2, no.stderr);
  assert.equal(no.stderr.trim().split('\n').length, 1, no.stderr);
  assert.match(no.stderr, /the store does not hold dataset digits/);
  assert.ok(!existsSync(out2), 'nothing written');
});
