/**
 * Bad input gets one clear line on stderr, exit code 2, and the store untouched (issue 2).
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { mnistDir } from '../../src/main/engine/data';
import { cli, FAKE_TRAIN, tempDir, treeDigest } from '../helpers/cli';

describe('CLI bad input', () => {
  const store = tempDir();
  before(() => {
    const r = cli([
      'train',
      ...FAKE_TRAIN,
      '--steps',
      '20',
      '--seed',
      '1',
      '--branch',
      'base',
      '--store',
      store,
    ]);
    assert.equal(r.code, 0, r.stderr);
  });

  const cases: [string, string[], RegExp][] = [
    ['unknown command', ['frobnicate'], /unknown command/],
    ['unknown flag', ['train', '--colour', 'red'], /unknown option/],
    ['unknown dataset', ['train', '--dataset', 'cifar'], /expected one of mnist, fake/],
    ['unknown model', ['train', '--model', 'resnet'], /expected one of softmax, mlp/],
    [
      'unknown optimizer',
      ['train', '--optimizer', 'rmsprop'],
      /expected one of sgd, momentum, adam/,
    ],
    ['unknown backend', ['train', '--backend', 'gpu'], /expected one of wasm, cpu, tensorflow/],
    ['non-numeric steps', ['train', '--steps', 'ten'], /expected an integer/],
    ['negative steps', ['train', '--steps', '-5'], /expected an integer|unknown option/],
    ['fractional batch size', ['train', '--batch-size', '1.5'], /expected an integer/],
    ['zero lr', ['train', ...FAKE_TRAIN, '--lr', '0'], /finite number > 0/],
    ['infinite lr', ['train', ...FAKE_TRAIN, '--lr', 'Infinity'], /finite number > 0/],
    ['NaN lr', ['train', ...FAKE_TRAIN, '--lr', 'NaN'], /finite number > 0/],
    [
      'batch larger than the training set',
      ['train', ...FAKE_TRAIN, '--batch-size', '2001', '--seed', '1'],
      /batch size must be an integer from 1 to 2000/,
    ],
    ['bad hidden sizes', ['train', '--hidden', '128,x'], /comma-separated positive integers/],
    ['seed out of range', ['train', '--seed', '4294967296'], /'auto' or an integer/],
    ['unknown ref (show)', ['show', 'nope'], /unknown ref 'nope'/],
    [
      'unknown ref (continue)',
      ['continue', 'deadbeefdeadbeef', '--steps', '5'],
      /deadbeefdeadbeef/,
    ],
    ['unknown branch@step', ['continue', 'base@7', '--steps', '5'], /step 7/],
    ['continue without steps', ['continue', 'base'], /--steps/],
  ];
  for (const [name, args, message] of cases) {
    test(name, () => {
      const beforeTree = treeDigest(store);
      const r = cli([...args, '--store', store]);
      assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line on stderr, got: ${r.stderr}`);
      assert.match(lines[0], message);
      assert.deepEqual(treeDigest(store), beforeTree, 'store untouched');
    });
  }

  test('a bad LOCKSTEP_SEED is refused', () => {
    const r = cli(['train', ...FAKE_TRAIN, '--steps', '5', '--store', store], {
      LOCKSTEP_SEED: 'x1',
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /LOCKSTEP_SEED/);
  });

  for (const [name, mutate] of [
    ['truncated IDX file', (b: Buffer) => b.subarray(0, b.length - 100)],
    [
      'IDX file with a bad magic number',
      (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 8, 4]), b.subarray(4)]),
    ],
    [
      'IDX file with wrong dimensions',
      (b: Buffer) => {
        const c = Buffer.from(b);
        c.writeUInt32BE(59999, 4);
        return c;
      },
    ],
  ] as const) {
    test(`corrupt MNIST: ${name}`, () => {
      const dir = tempDir('mnist-bad-');
      mkdirSync(dir, { recursive: true });
      for (const f of [
        'train-images-idx3-ubyte',
        'train-labels-idx1-ubyte',
        't10k-images-idx3-ubyte',
        't10k-labels-idx1-ubyte',
      ]) {
        copyFileSync(join(mnistDir(), f), join(dir, f));
      }
      const target = join(dir, 't10k-labels-idx1-ubyte');
      writeFileSync(target, mutate(readFileSync(target)));
      const beforeTree = treeDigest(store);
      const r = cli(
        ['train', '--dataset', 'mnist', '--steps', '5', '--seed', '1', '--store', store],
        { LOCKSTEP_MNIST_DIR: dir },
      );
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /t10k-labels-idx1-ubyte/);
      assert.deepEqual(treeDigest(store), beforeTree);
    });
  }
});
