/**
 * A gan run leaves the store the way every run does (fake data, small nets, a shuffle buffer):
 * - safetensors export: the generator's tensors only (no discriminator, no shuffle buffer);
 * - tfjs export: tfjs-layers' own loadLayersModel loads the generator and, on the fixed sample
 *   noise, draws the engine's samples (to one grey level: tfjs' ops round differently);
 * - bundle: export, verify (a full replay of both networks and the buffer) and import into an
 *   empty store, which then holds the same checkpoint and draws the same samples.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { decodeSafetensors } from '../../src/main/engine/safetensors';
import { sampleNoise } from '../../src/main/engine/gan';
import { sampleGrid } from '../../src/main/service/samples';
import { Store } from '../../src/main/store/store';
import { cli, tempDir } from '../helpers/cli';
import { removeDir } from '../helpers/fixtures';
import { loadFromDir } from '../export/helpers';

const GAN = ['--dataset', 'fake', '--model', 'gan', '--noise-dims', '8', '--generator', '16,24', '--discriminator', '16', '--batch-size', '40', '--seed', '11', '--shuffle', 'buffer:500', '--checkpoint-every', '3']; // prettier-ignore

test('gan exports: generator safetensors and tfjs, a bundle that verifies and imports', async () => {
  const dir = tempDir();
  try {
    const store = join(dir, 'store');
    const run = cli(['train', ...GAN, '--steps', '7', '--store', store, '--json']);
    assert.equal(run.code, 0, run.stderr);
    const { branch, checkpoint } = run.json as { branch: string; checkpoint: string };

    const st = cli(['export', branch, '-o', join(dir, 'g.safetensors'), '--format', 'safetensors', '--store', store, '--json']); // prettier-ignore
    assert.equal(st.code, 0, st.stderr);
    const { tensors, metadata } = decodeSafetensors(readFileSync(join(dir, 'g.safetensors')));
    assert.deepEqual(Object.keys(tensors).sort(), [
      'generator/dense1/biases',
      'generator/dense1/weights',
      'generator/dense2/biases',
      'generator/dense2/weights',
      'generator/logits/biases',
      'generator/logits/weights',
    ]);
    assert.equal(metadata?.stateHash, checkpoint);

    const tj = cli(['export', branch, '-o', join(dir, 'tfjs'), '--format', 'tfjs', '--store', store, '--json']); // prettier-ignore
    assert.equal(tj.code, 0, tj.stderr);
    const s = await Store.open(store);
    const grid = await sampleGrid(s, branch, 16);
    const engine = Buffer.from(grid.pixels, 'base64');
    const model = await loadFromDir(join(dir, 'tfjs', 'model.json'));
    const y = model.predict(tf.tensor2d(sampleNoise(11, 16, 8), [16, 8])) as tf.Tensor;
    const v = (await y.data()) as Float32Array;
    let maxDiff = 0;
    for (let i = 0; i < v.length; i++) {
      assert.ok(v[i] >= -1 && v[i] <= 1, 'tanh output');
      const byte = Math.max(0, Math.min(255, Math.round((v[i] + 1) * 127.5)));
      maxDiff = Math.max(maxDiff, Math.abs(byte - engine[i]));
    }
    assert.ok(maxDiff <= 1, `tfjs draws the engine's samples (max difference ${maxDiff} grey levels)`); // prettier-ignore
    assert.ok(new Set(engine).size > 20, 'a real picture, not a constant');
    model.dispose();

    const file = join(dir, 'gan.lockstep');
    const ex = cli(['export', branch, '-o', file, '--store', store, '--json']);
    assert.equal(ex.code, 0, ex.stderr);
    const ver = cli(['verify', file, '--json']);
    assert.equal(ver.code, 0, ver.stdout + ver.stderr);
    assert.equal((ver.json as { verified: boolean }).verified, true);
    const other = join(dir, 'other');
    const im = cli(['import', file, '--store', other, '--json']);
    assert.equal(im.code, 0, im.stderr);
    const o = await Store.open(other);
    const again = await sampleGrid(o, checkpoint, 16);
    assert.equal(again.pixels, grid.pixels, 'the imported checkpoint draws the same samples');
  } finally {
    removeDir(dir);
  }
});
