/**
 * `lockstep data add|ls`, training on a stored dataset, gc keeping it, and bundles that carry it
 * (`export --with-data`): the bundle replays in a store (and a process) that never had the data,
 * and without the data verify says so (a negative answer, exit 1). Each command runs as its own
 * process, so a store only sees the datasets it holds. Refusals exit 2 with one line and leave
 * the store byte-identical.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '../../src/main/engine/state';
import { encodeDatasetObject } from '../../src/main/engine/stored-dataset';
import { readDatasetFiles } from '../../src/main/engine/dataset-files';
import { cli, hashTree, type CliResult } from '../bundle/helpers';
import { useTempDir } from '../helpers/fixtures';
import { csvText, writeCsv, writeIdx } from './helpers';

const last = (r: CliResult): Record<string, unknown> => {
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
};

/** Runs a command that must be refused: exit 2, one line on stderr, store unchanged. */
async function refused(store: string, args: string[], re: RegExp): Promise<void> {
  const before = await hashTree(store);
  const r = await cli(['--store', store, ...args]);
  assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, re);
  assert.deepEqual(await hashTree(store), before, `${args.join(' ')} changed the store`);
}

test(
  'data add, train on it, gc keeps it, and a --with-data bundle replays where it never was',
  {
    timeout: 600_000,
  },
  async (t) => {
    const dir = useTempDir(t, 'lockstep-data-cli-');
    const csv = writeCsv(join(dir, 'csv'));
    const idx = writeIdx(join(dir, 'idx'));
    const A = join(dir, 'A');

    const added = last(await cli(['--store', A, '--json', 'data', 'add', 'digits', csv]));
    const expected = sha256Hex(encodeDatasetObject(readDatasetFiles(csv).parts));
    assert.equal(added.digest, expected);
    assert.equal(added.created, true);
    assert.deepEqual(added.shape, [8, 8, 1]);
    assert.deepEqual(added.examples, { train: 180, validation: 20, test: 50 });
    assert.equal(added.kind, 'csv');
    const again = last(await cli(['--store', A, '--json', 'data', 'add', 'digits', csv]));
    assert.equal(again.created, false);

    writeFileSync(join(dir, 'bad.csv'), csvText(20).replace(/\n3,/, '\n11,'));
    await refused(A, ['data', 'add', 'mnist', csv], /'mnist' is a built-in dataset/);
    await refused(A, ['data', 'add', 'Bad Name', csv], /invalid dataset name/);
    await refused(A, ['data', 'add', 'digits', idx], /dataset 'digits' exists with other data/);
    await refused(
      A,
      ['data', 'add', 'other', join(dir, 'bad.csv'), '--test', join(csv, 'test.csv')],
      /bad\.csv line \d+: label '11' is not a class 0-9/,
    );
    await refused(
      A,
      ['train', '--dataset', 'nothing', '--steps', '5'],
      /unknown dataset 'nothing'/,
    );

    const ls = last(await cli(['--store', A, '--json', 'data', 'ls']));
    assert.deepEqual(
      (ls.datasets as { name: string; digest: string }[]).map((d) => [d.name, d.digest]),
      [['digits', expected]],
    );

    const run = last(
      await cli([
      '--store', A, '--json', 'train', '--dataset', 'digits', '--model', 'mlp', '--hidden', '16',
      '--steps', '30', '--batch-size', '20', '--seed', '3', '--checkpoint-every', '10',
      '--eval-every', '30', '--backend', 'cpu', '--branch', 'd',
    ]), // prettier-ignore
    );
    assert.equal(run.step, 30);
    const manifest = JSON.parse(
      readFileSync(
        join(A, 'objects', String(run.checkpoint).slice(0, 2), String(run.checkpoint).slice(2)),
        'utf8',
      ),
    ) as { datasetDigest: string; config: { dataset: string } };
    assert.equal(manifest.datasetDigest, expected, 'the run records the stored digest');
    assert.equal(manifest.config.dataset, 'digits');

    // gc keeps the dataset (a name references it): the run still replays afterwards
    assert.equal((await cli(['--store', A, 'gc'])).code, 0);
    assert.equal((await cli(['--store', A, 'fsck'])).code, 0);
    assert.equal((await cli(['--store', A, 'verify', 'd'])).code, 0);

    const withData = join(dir, 'with.lockstep');
    const without = join(dir, 'without.lockstep');
    assert.equal((await cli(['--store', A, 'export', 'd', '-o', withData, '--with-data'])).code, 0);
    assert.equal((await cli(['--store', A, 'export', 'd', '-o', without])).code, 0);

    // a machine that never had the data: the bundle alone, then an empty store
    const alone = last(await cli(['--json', 'verify', withData]));
    assert.equal(alone.verified, true, JSON.stringify(alone));
    const B = join(dir, 'B');
    last(await cli(['--store', B, '--json', 'import', withData]));
    const inB = last(await cli(['--store', B, '--json', 'data', 'ls']));
    assert.equal((inB.datasets as { digest: string }[])[0].digest, expected);
    assert.equal(last(await cli(['--store', B, '--json', 'verify', 'd'])).verified, true);

    // without the data: a negative answer that says why
    const C = join(dir, 'C');
    last(await cli(['--store', C, '--json', 'import', without]));
    const no = await cli(['--store', C, '--json', 'verify', 'd']);
    assert.equal(no.code, 1, no.stderr);
    assert.match(no.stdout, /dataset 'digits' \(digest [0-9a-f]{12}\) is not available here/);

    // a store with other data under the name refuses the bundle's dataset, unchanged
    const D = join(dir, 'D');
    assert.equal((await cli(['--store', D, 'data', 'add', 'digits', idx])).code, 0);
    await refused(D, ['import', withData], /other data under that name/);
  },
);
