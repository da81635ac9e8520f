/**
 * Image datasets and the CLI for the new models, on small generated files in the exact CIFAR-10
 * binary format:
 * - parsing (channel-planar records → HWC), the 90 %/10 % train/validation split, the digest;
 * - I2 across processes with a reduced ResNet and augmentation, mid-epoch: train 0→4 equals
 *   train 0→2 then `continue` 2→4 in another process; `verify` replays the run;
 * - bad input: exit 2 with one clear line and the store untouched (bad --layers, missing data,
 *   bad --augment); Fashion-MNIST's error names both places it looks.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadCifar10, parseCifarBatch } from '../../src/main/engine/image-datasets';
import { cli, tempDir, treeDigest } from '../helpers/cli';

/** Writes CIFAR-10 binary batches of `perFile` records (test: perFile / 2) from a seeded LCG. */
function makeCifar(perFile: number): { dir: string; digest: string } {
  const dir = tempDir('lockstep-cifar-');
  let s = 12345;
  const next = (): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s >>> 24;
  };
  const hash = createHash('sha256');
  const files = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin']; // prettier-ignore
  for (const f of files) {
    const n = f === 'test_batch.bin' ? perFile / 2 : perFile;
    const bytes = new Uint8Array(n * 3073);
    for (let r = 0; r < n; r++) {
      const label = next() % 10;
      bytes[r * 3073] = label;
      for (let i = 1; i < 3073; i++) {
        // a learnable signal: the red plane's brightness follows the label
        bytes[r * 3073 + i] = i <= 1024 ? Math.min(255, label * 25 + (next() >> 3)) : next();
      }
    }
    writeFileSync(join(dir, f), bytes);
    hash.update(bytes);
  }
  return { dir, digest: hash.digest('hex') };
}

test('CIFAR-10 records become HWC pixels; 90/10 train/validation split; digest over the six files', () => {
  const rec = new Uint8Array(3073 * 2);
  rec[0] = 7;
  rec[1] = 10; // red (0,0)
  rec[1 + 1024] = 20; // green (0,0)
  rec[1 + 2048] = 30; // blue (0,0)
  rec[1 + 1] = 11; // red (0,1)
  rec[3073] = 2;
  const split = parseCifarBatch(rec, 'x.bin');
  assert.equal(split.count, 2);
  assert.deepEqual([...split.labels], [7, 2]);
  assert.deepEqual([...split.pixels.subarray(0, 4)], [10, 20, 30, 11]);
  assert.throws(() => parseCifarBatch(rec.subarray(1), 'x.bin'), /not a whole number of CIFAR-10 records/); // prettier-ignore
  const { dir, digest } = makeCifar(20);
  const ds = loadCifar10(dir);
  assert.equal(ds.train.count, 90);
  assert.equal(ds.validation.count, 10);
  assert.equal(ds.test.count, 10);
  assert.deepEqual(ds.shape, [32, 32, 3]);
  assert.equal(ds.digest, digest);
});

const RESNET = ['--layers', 'conv:4x3:1,bn,relu,res:4,res:8/2,gap'];

test('cifar10 + reduced resnet + augmentation: I2 across processes, mid-epoch; verify replays it', () => {
  const { dir, digest } = makeCifar(20);
  const common = ['--dataset', 'cifar10', '--data-dir', dir, ...RESNET, '--augment', 'crop:4,flip', '--optimizer', 'momentum', '--batch-size', '16', '--seed', '5', '--eval-every', '100', '--json']; // prettier-ignore
  const straightStore = tempDir();
  const straight = cli(['train', ...common, '--steps', '4', '--store', straightStore]);
  assert.equal(straight.code, 0, straight.stderr);
  const store = tempDir();
  const half = cli(['train', ...common, '--steps', '2', '--store', store]);
  assert.equal(half.code, 0, half.stderr);
  const rest = cli(['continue', (half.json as { branch: string }).branch, '--steps', '2', '--store', store, '--json'], { LOCKSTEP_CIFAR10_DIR: dir }); // prettier-ignore
  assert.equal(rest.code, 0, rest.stderr);
  const a = straight.json as { stateHash: string; step: number };
  const b = rest.json as { stateHash: string; step: number };
  assert.equal(b.step, 4);
  assert.equal(b.stateHash, a.stateHash);
  const show = cli(['show', a.stateHash.slice(0, 12), '--store', straightStore, '--json']);
  assert.equal(show.code, 0, show.stderr);
  assert.ok(show.stdout.includes(digest), 'the checkpoint records the dataset digest');
  const verify = cli(['verify', a.stateHash.slice(0, 12), '--store', straightStore, '--json'], { LOCKSTEP_CIFAR10_DIR: dir }); // prettier-ignore
  assert.equal(verify.code, 0, verify.stderr + verify.stdout);
  assert.equal((verify.json as { verified: boolean }).verified, true);
});

test('bad input: one clear line, exit 2, the store untouched', () => {
  const store = tempDir();
  const ok = cli(['train', '--dataset', 'fake', '--model', 'softmax', '--steps', '1', '--seed', '1', '--store', store]); // prettier-ignore
  assert.equal(ok.code, 0, ok.stderr);
  const before = treeDigest(store);
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['--dataset', 'fake', '--layers', 'conv:4x3,bogus'], {}, /layer 'bogus': unknown layer/],
    [
      ['--dataset', 'fake', '--layers', 'conv:4x99'],
      {},
      /kernel size must be an integer from 1 to 15/,
    ],
    [['--dataset', 'fake', '--layers', 'maxpool:2,maxpool:2,maxpool:2,maxpool:2,maxpool:2'], {}, /window does not fit/], // prettier-ignore
    [
      ['--dataset', 'fake', '--model', 'mlp', '--layers', 'relu'],
      {},
      /--layers needs --model layers/,
    ],
    [
      ['--dataset', 'fake', '--model', 'lenet5', '--augment', 'rotate'],
      {},
      /--augment: unknown item 'rotate'/,
    ],
    [['--dataset', 'cifar10', '--model', 'resnet20'], { LOCKSTEP_CIFAR10_DIR: '' }, /--data-dir DIR or set LOCKSTEP_CIFAR10_DIR/], // prettier-ignore
    [['--dataset', 'fashion-mnist', '--model', 'lenet5'], { LOCKSTEP_FASHION_MNIST_DIR: '/nonexistent' }, /LOCKSTEP_FASHION_MNIST_DIR or install Debian's dataset-fashion-mnist/], // prettier-ignore
    [['--dataset', 'fake', '--model', 'lenet5', '--backend', 'tensorflow'], {}, /wasm and cpu backends only|tensorflow/], // prettier-ignore
  ];
  for (const [args, env, message] of cases) {
    const r = cli(['train', ...args, '--steps', '1', '--seed', '1', '--store', store], env);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  assert.deepEqual(treeDigest(store), before);
});
