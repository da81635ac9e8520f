/**
 * The gan through the real CLI, each command in its own process (fake data, small nets):
 * - two identical runs print identical per-step D and G losses (`trace --json`), and the same
 *   checkpoint ids;
 * - I2 across processes: train 0→a, then `continue` a→N in another process, for odd a, equals
 *   the straight run (same final checkpoint id) and its trace prints the same losses;
 * - I5: `continue <branch>@k --lr X` starts a branch that shares every checkpoint ≤ k;
 * - `samples` writes the same PNG bytes every time (sha256), decoding to an 8×8 grid of 28×28
 *   tiles of the generator's bytes; bad input is one line and exit 2 with nothing written;
 * - `compare` reports the first divergent tensor by network name; `verify` replays the run.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { PNG } from 'pngjs';
import { cli, tempDir, treeDigest } from '../helpers/cli';
import { removeDir } from '../helpers/fixtures';

const GAN = [
  '--dataset',
  'fake',
  '--model',
  'gan',
  '--noise-dims',
  '8',
  '--generator',
  '16',
  '--discriminator',
  '16',
  '--batch-size',
  '40',
  '--seed',
  '5',
  '--checkpoint-every',
  '4',
];

interface TrainJson {
  checkpoint: string;
  branch: string;
  step: number;
  dLoss: number;
  gLoss: number;
}
interface TraceJson {
  steps: { step: number; loss: number; dLoss?: number; gLoss?: number; batchDigest: string }[];
}

function ok(args: string[]): unknown {
  const r = cli([...args, '--json']);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.json;
}

function lossesOf(store: string, ref: string): [number, number, number][] {
  const t = ok(['trace', ref, '--store', store]) as TraceJson;
  return t.steps.map((s) => [s.step, s.dLoss!, s.gLoss!]);
}

for (const shuffle of ['buffer:1000', 'epoch']) {
  describe(`gan CLI with --shuffle ${shuffle}`, () => {
    const args = [...GAN, '--shuffle', shuffle];

    test('identical runs print identical per-step losses; a continued run prints the same', () => {
      const s1 = tempDir();
      const s2 = tempDir();
      try {
        const a = ok(['train', ...args, '--steps', '9', '--store', s1]) as TrainJson;
        const b = ok(['train', ...args, '--steps', '9', '--store', s2]) as TrainJson;
        assert.equal(a.checkpoint, b.checkpoint);
        assert.ok(Number.isFinite(a.dLoss) && Number.isFinite(a.gLoss));
        const la = lossesOf(s1, a.branch);
        assert.equal(la.length, 9);
        assert.ok(la.every(([, d, g]) => Number.isFinite(d) && Number.isFinite(g)));
        assert.deepEqual(lossesOf(s2, b.branch), la);
        // I2 in separate processes, split at odd steps
        for (const k of [1, 5]) {
          const s3 = tempDir();
          try {
            const half = ok(['train', ...args, '--steps', String(k), '--store', s3]) as TrainJson; // prettier-ignore
            const rest = ok(['continue', half.branch, '--steps', String(9 - k), '--store', s3]) as TrainJson; // prettier-ignore
            assert.equal(rest.checkpoint, a.checkpoint, `split at ${k}`);
            assert.equal(rest.dLoss, a.dLoss);
            assert.equal(rest.gLoss, a.gLoss);
            assert.deepEqual(lossesOf(s3, rest.branch), la, `losses, split at ${k}`);
          } finally {
            removeDir(s3);
          }
        }
        // the text trace shows both losses
        const text = cli(['trace', a.branch, '--store', s1, '--to', '2']);
        assert.match(text.stdout, /d_loss \S+ g_loss \S+/);
        // I5: a branch from step 4 with a new generator lr shares every step up to 4
        const br = ok(['continue', `${a.branch}@4`, '--steps', '3', '--lr', '0.01', '--store', s1]) as TrainJson; // prettier-ignore
        assert.notEqual(br.branch, a.branch);
        const lb = lossesOf(s1, br.branch);
        assert.deepEqual(lb.slice(0, 4), la.slice(0, 4));
        assert.notDeepEqual(lb.slice(4, 7), la.slice(4, 7));
        assert.deepEqual(lossesOf(s1, a.branch), la, 'the parent is untouched');
        // compare names the first divergent tensor of a network
        const cmp = cli(['compare', a.branch, br.branch, '--store', s1, '--json']);
        assert.equal(cmp.code, 1, cmp.stderr);
        const c = cmp.json as { firstDivergentStep: number; tensor: string; sameBatchesUntil: number }; // prettier-ignore
        assert.equal(c.firstDivergentStep, 5);
        assert.match(c.tensor, /^(generator|discriminator)\//);
        assert.equal(c.sameBatchesUntil, 7, 'the batches stay the same (only the lr changed)');
        // verify replays both networks and the buffer
        const v = cli(['verify', a.branch, '--store', s1, '--json']);
        assert.equal(v.code, 0, v.stderr);
        assert.equal((v.json as { verified: boolean }).verified, true);
      } finally {
        removeDir(s1);
        removeDir(s2);
      }
    });
  });
}

test('samples: the same PNG bytes every time, 64 tiles of 28×28; bad input exits 2', () => {
  const store = tempDir();
  try {
    const run = ok(['train', ...GAN, '--steps', '3', '--store', store]) as TrainJson;
    const f1 = join(store, '..', `gan-grid-${process.pid}-1.png`);
    const f2 = join(store, '..', `gan-grid-${process.pid}-2.png`);
    try {
      const a = ok(['samples', run.branch, '-o', f1, '--store', store]) as { sha256: string; count: number }; // prettier-ignore
      const b = ok(['samples', run.checkpoint.slice(0, 12), '-o', f2, '--store', store]) as { sha256: string }; // prettier-ignore
      assert.equal(a.count, 64);
      assert.equal(a.sha256, b.sha256);
      assert.deepEqual(readFileSync(f1), readFileSync(f2));
      const png = PNG.sync.read(readFileSync(f1));
      // 8 tiles of 28 plus 9 gaps of 2 on each side
      assert.equal(png.width, 8 * 28 + 9 * 2);
      assert.equal(png.height, 8 * 28 + 9 * 2);
      const step0 = ok(['samples', `${run.branch}@0`, '-o', f2, '--force', '--store', store]) as { sha256: string }; // prettier-ignore
      assert.notEqual(step0.sha256, a.sha256, 'training changed the samples');
      // the tiles are the generator's bytes: gaps black, tiles not constant
      const grey = (x: number, y: number): number => png.data[(y * png.width + x) * 4];
      assert.equal(grey(0, 0), 0);
      const tile: number[] = [];
      for (let y = 0; y < 28; y++) {
        for (let x = 0; x < 28; x++) {
          tile.push(grey(2 + x, 2 + y));
        }
      }
      assert.ok(new Set(tile).size > 10, 'a tile has many grey levels');
      // bad input: one line, exit 2, nothing written or changed
      const before = treeDigest(store);
      const exists = cli(['samples', run.branch, '-o', f1, '--store', store]);
      assert.equal(exists.code, 2);
      assert.match(exists.stderr, /exists: pass --force/);
      const mlp = ok(['train', '--dataset', 'fake', '--model', 'mlp', '--hidden', '4', '--steps', '1', '--seed', '1', '--store', store]) as TrainJson; // prettier-ignore
      const after = treeDigest(store);
      const f3 = join(store, '..', `gan-grid-${process.pid}-3.png`);
      const notGan = cli(['samples', mlp.branch, '-o', f3, '--store', store]);
      assert.equal(notGan.code, 2);
      assert.equal(notGan.stderr.trim().split('\n').length, 1);
      assert.match(notGan.stderr, /only a gan draws samples/);
      assert.equal(existsSync(f3), false);
      assert.deepEqual(treeDigest(store), after);
      assert.notDeepEqual(before, after);
      const flag = cli(['train', '--dataset', 'fake', '--model', 'mlp', '--noise-dims', '4', '--steps', '1', '--store', store]); // prettier-ignore
      assert.equal(flag.code, 2);
      assert.match(flag.stderr, /--noise-dims needs --model gan/);
      const shuf = cli(['train', ...GAN, '--shuffle', 'buffer:0', '--steps', '1', '--store', store]); // prettier-ignore
      assert.equal(shuf.code, 2);
      assert.match(shuf.stderr, /shuffle buffer holds 1 to/);
      assert.deepEqual(treeDigest(store), after);
    } finally {
      removeDir(f1);
      removeDir(f2);
    }
  } finally {
    removeDir(store);
  }
});

test('show (text) names both networks, their optimizers and a non-default shuffle', () => {
  const store = tempDir();
  try {
    const buf = ok(['train', ...GAN, '--generator', '16,12', '--d-lr', '0.003', '--shuffle', 'buffer:50', '--steps', '1', '--store', store]) as TrainJson; // prettier-ignore
    const r = cli(['show', buf.branch, '--store', store]);
    assert.equal(r.code, 0, r.stderr);
    const line = (label: string): string => {
      const l = r.stdout.split('\n').find((x) => x.startsWith(label));
      assert.ok(l !== undefined, `a '${label}' line in:\n${r.stdout}`);
      return l;
    };
    assert.match(line('generator  '), /^generator {2}noise 8 → 16 → 12 → 784 \(tanh\) · adam lr /);
    assert.match(line('discrim.   '), /^discrim\. {3}784 → 16 → 1 logit · adam lr 0\.003, /);
    assert.equal(line('shuffle    '), 'shuffle    buffer:50');
    const epoch = ok(['train', ...GAN, '--steps', '1', '--store', store]) as TrainJson;
    const e = cli(['show', epoch.branch, '--store', store]);
    assert.equal(e.code, 0, e.stderr);
    assert.doesNotMatch(e.stdout, /^shuffle/m, 'the default per-epoch shuffle is not printed');
    assert.match(e.stdout, /^discrim\. {3}784 → 16 → 1 logit · adam lr /m);
  } finally {
    removeDir(store);
  }
});
