/**
 * The CLI's training contract on real training: JSON shape, continuation across processes (I2),
 * branching (I5) through `continue`, seeds (`auto`, LOCKSTEP_SEED, 0), divergence, log and show.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cli, FAKE_TRAIN, tempDir } from '../helpers/cli';

interface TrainJson {
  run: string;
  branch: string;
  checkpoint: string;
  step: number;
  stateHash: string;
  seed: number;
  backend: string;
  loss: number;
  msPerStep: number;
  eval: { test: { precision: number; correct: number; examples: number } };
  status: string;
  reproduced: number;
}

function train(store: string, args: string[], env: Record<string, string> = {}): TrainJson {
  const r = cli(['train', ...FAKE_TRAIN, ...args, '--store', store, '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  return r.json as TrainJson;
}

function cont(store: string, ref: string, args: string[]): TrainJson {
  const r = cli(['continue', ref, ...args, '--store', store, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return r.json as TrainJson;
}

describe('train / continue across processes', () => {
  for (const optimizer of ['sgd', 'momentum', 'adam']) {
    test(`I2 with ${optimizer}: 0→70 in one process equals 0→30 then 30→70 in two others`, () => {
      const lr = optimizer === 'adam' ? ['--lr', '0.002'] : [];
      const straight = train(tempDir(), [
        '--optimizer',
        optimizer,
        ...lr,
        '--steps',
        '70',
        '--seed',
        '5',
        '--checkpoint-every',
        '10',
      ]);
      const store = tempDir();
      const first = train(store, [
        '--optimizer',
        optimizer,
        ...lr,
        '--steps',
        '30',
        '--seed',
        '5',
        '--branch',
        'b',
      ]);
      assert.equal(first.step, 30);
      const second = cont(store, 'b', ['--steps', '40']);
      assert.equal(second.step, 70);
      assert.equal(second.branch, 'b', 'continuing a tip extends its branch');
      assert.equal(second.stateHash, straight.stateHash);
    });
  }

  test('the JSON result follows the CLI contract', () => {
    const r = train(tempDir(), ['--steps', '10', '--seed', '0']);
    for (const key of [
      'run',
      'branch',
      'checkpoint',
      'step',
      'stateHash',
      'seed',
      'backend',
      'loss',
      'msPerStep',
      'eval',
    ]) {
      assert.ok(key in r, `missing ${key}`);
    }
    assert.equal(r.checkpoint, r.stateHash);
    assert.match(r.stateHash, /^[0-9a-f]{64}$/);
    assert.equal(r.seed, 0);
    assert.equal(r.backend, 'wasm');
    assert.equal(r.eval.test.examples, 500);
  });

  test('I5 through the CLI: a branch with a new lr shares the parent up to the branch point', () => {
    const store = tempDir();
    const parent = train(store, [
      '--steps',
      '40',
      '--seed',
      '9',
      '--checkpoint-every',
      '10',
      '--branch',
      'p',
    ]);
    const atTwenty = cli(['show', 'p@20', '--store', store, '--json']).json as {
      stateHash: string;
    };
    const branch = cont(store, 'p@20', ['--steps', '20', '--lr', '0.2']);
    assert.notEqual(branch.branch, 'p');
    assert.notEqual(branch.stateHash, parent.stateHash);
    const shown = cli(['show', `${branch.branch}@20`, '--store', store, '--json']).json as {
      stateHash: string;
    };
    assert.equal(shown.stateHash, atTwenty.stateHash, 'shares the checkpoint at the branch point');
    const tip = cli(['show', 'p', '--store', store, '--json']).json as { stateHash: string };
    assert.equal(tip.stateHash, parent.stateHash, 'parent untouched');
    // continuing from the middle with the same config lands on the existing checkpoints
    const again = cont(store, 'p@20', ['--steps', '20', '--checkpoint-every', '10']);
    assert.equal(again.stateHash, parent.stateHash);
    assert.equal(again.reproduced, 2);
  });

  test('seed auto is drawn, printed and recorded; LOCKSTEP_SEED is read', () => {
    const store = tempDir();
    const r = cli([
      'train',
      ...FAKE_TRAIN,
      '--steps',
      '3',
      '--seed',
      'auto',
      '--store',
      store,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const seed = (r.json as TrainJson).seed;
    assert.match(r.stderr, new RegExp(`seed ${seed} \\(auto`));
    const log = (
      cli(['log', '--store', store, '--json']).json as {
        runs: { seed: number; seedSource: string }[];
      }
    ).runs;
    assert.equal(log[0].seed, seed);
    assert.equal(log[0].seedSource, 'auto');
    const env = train(tempDir(), ['--steps', '3'], { LOCKSTEP_SEED: '42' });
    assert.equal(env.seed, 42);
    const explicit = train(tempDir(), ['--steps', '3', '--seed', '42']);
    assert.equal(explicit.stateHash, env.stateHash);
  });

  test('a run whose loss becomes non-finite stops, says where, and is marked diverged', () => {
    const store = tempDir();
    const r = cli([
      'train',
      ...FAKE_TRAIN,
      '--lr',
      '1000', // the largest learning rate the limits allow: 128,32 units blow up at it
      '--hidden',
      '128,32',
      '--steps',
      '50',
      '--seed',
      '2',
      '--checkpoint-every',
      '1',
      '--branch',
      'boom',
      '--store',
      store,
      '--json',
    ]);
    assert.equal(r.code, 1, r.stderr);
    const j = r.json as TrainJson & { note: string };
    assert.equal(j.status, 'diverged');
    assert.match(j.note, /at step \d+/);
    assert.match(r.stderr, /diverged: .* at step \d+/);
    const log = (
      cli(['log', '--store', store, '--json']).json as {
        runs: { branches: { status: string; checkpoints: { step: number }[] }[] }[];
      }
    ).runs;
    const b = log[0].branches[0];
    assert.equal(b.status, 'diverged');
    const divergedAt = Number(/at step (\d+)/.exec(j.note)![1]);
    assert.ok(
      b.checkpoints.every((c) => c.step < divergedAt),
      'no checkpoint at or after the divergence',
    );
  });

  test('log draws the graph and show prints a checkpoint', () => {
    const store = tempDir();
    train(store, ['--steps', '20', '--seed', '3', '--checkpoint-every', '10', '--branch', 'main']);
    cont(store, 'main@10', ['--steps', '5', '--lr', '0.3', '--branch', 'hot']);
    const log = cli(['log', '--store', store]);
    assert.equal(log.code, 0);
    assert.match(log.stdout, /\* main \[done\]/);
    assert.match(log.stdout, /\* hot \[done\] from step 10/);
    const show = cli(['show', 'hot', '--store', store]);
    assert.equal(show.code, 0);
    assert.match(show.stdout, /step\s+15/);
    assert.match(show.stdout, /hidden1\/weights\s+\[784, 16\]/);
  });
});
