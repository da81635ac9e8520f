/**
 * Job directories on a stored dataset (issue 13): `sweep` and `study --executor local` on a
 * dataset added with `lockstep data add` carry the dataset in the job directory (datasets/<digest>),
 * each task adds it to its own fresh store by digest, and the collected runs record the stored
 * digest and equal `train --dataset NAME` run directly (same checkpoint ids). A missing or changed
 * copy is refused in one line (status, collect: store untouched; task.sh: the task fails, trains
 * nothing), and collect into a store without the dataset adds it from the copy, while a store
 * holding other data under the name is refused.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { sha256Hex } from '../../src/main/engine/state';
import type { TrainingConfig } from '../../src/main/engine/types';
import { readJobDir, writeJobDir } from '../../src/main/executors/jobdir';
import { runLocal } from '../../src/main/executors/local';
import { planStudy } from '../../src/main/executors/plan';
import type { StudyReport, SweepReport } from '../../src/shared/contract';
import { cli, hashTree, type CliResult } from '../bundle/helpers';
import { csvText, writeCsv } from '../data/helpers';
import { useTempDir } from '../helpers/fixtures';

const ok = <T>(r: CliResult): T => {
  assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T;
};

/** A command that must be refused: exit 2, one line on stderr, the store byte-identical. */
async function refused(store: string, args: string[], re: RegExp): Promise<void> {
  const before = existsSync(store) ? await hashTree(store) : null;
  const r = await cli(['--store', store, ...args]);
  assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, re);
  assert.deepEqual(
    existsSync(store) ? await hashTree(store) : null,
    before,
    `${args.join(' ')} changed the store`,
  );
}

const TRAIN = ['--model', 'softmax', '--batch-size', '20', '--steps', '6', '--backend', 'wasm'];

test(
  'sweep and study --executor local on a stored dataset: the job carries it, the runs equal direct training',
  { timeout: 600_000 },
  async (t) => {
    const dir = useTempDir(t, 'lockstep-jobdata-');
    const csv = writeCsv(join(dir, 'csv'));
    const store = join(dir, 'store');
    const added = ok<{ digest: string }>(
      await cli(['--store', store, '--json', 'data', 'add', 'digits', csv]),
    );
    const digest = added.digest;

    // ---- sweep ----
    const sweepDir = join(dir, 'sweep');
    const sweep = ok<SweepReport>(
      await cli([
        '--store',
        store,
        '--json',
        'sweep',
        '--executor',
        'local',
        '--dataset',
        'digits',
        ...TRAIN,
        '--lr',
        '0.1,0.3',
        '--seed',
        '4',
        '--parallel',
        '1',
        '--job-dir',
        sweepDir,
      ]),
    );
    assert.deepEqual(sweep.missing, []);
    assert.equal(sweep.results.length, 2);
    assert.deepEqual(
      sweep.verification?.map((v) => v.verified),
      [true, true],
    );
    const { spec } = await readJobDir(sweepDir);
    assert.deepEqual(spec.dataset, { name: 'digits', digest, bytes: spec.dataset?.bytes });
    assert.deepEqual(await readdir(join(sweepDir, 'datasets')), [digest]);
    for (const row of sweep.results) {
      const shown = ok<{ datasetDigest: string; config: { dataset: string } }>(
        await cli(['--store', store, '--json', 'show', row.checkpoint]),
      );
      assert.equal(shown.datasetDigest, digest);
      assert.equal(shown.config.dataset, 'digits');
    }

    // the same grid point trained directly, in a store that got the data from the same files
    const direct = join(dir, 'direct');
    ok(await cli(['--store', direct, '--json', 'data', 'add', 'digits', csv]));
    const trained = ok<{ checkpoint: string }>(
      await cli([
        '--store',
        direct,
        '--json',
        'train',
        '--dataset',
        'digits',
        ...TRAIN,
        '--lr',
        '0.3',
        '--seed',
        '4',
      ]),
    );
    const point = sweep.results.find((r) => r.config.optimizer.lr === 0.3);
    assert.equal(point?.checkpoint, trained.checkpoint);

    // ---- study ----
    const studyDir = join(dir, 'study');
    const study = ok<StudyReport>(
      await cli([
        '--store',
        store,
        '--json',
        'study',
        '--executor',
        'local',
        '--runs',
        '1',
        '--dataset',
        'digits',
        ...TRAIN,
        '--lr',
        '0.3',
        '--seed',
        '4',
        '--parallel',
        '1',
        '--job-dir',
        studyDir,
      ]),
    );
    assert.deepEqual(study.missing, []);
    assert.equal(study.determinismBug, null);
    const same = study.results?.find((r) => r.group === 'same');
    assert.equal(same?.checkpoint, trained.checkpoint, 'a study task equals direct training');

    // ---- collect into a store that never had the dataset: it comes from the job's copy ----
    const fresh = join(dir, 'fresh');
    const collected = ok<SweepReport>(
      await cli(['--store', fresh, '--json', 'study', 'collect', sweepDir, '--verify', '1']),
    );
    assert.deepEqual(
      collected.results.map((r) => r.checkpoint),
      sweep.results.map((r) => r.checkpoint),
    );
    assert.equal(collected.verification?.[0].verified, true);
    const ls = ok<{ datasets: { name: string; digest: string }[] }>(
      await cli(['--store', fresh, '--json', 'data', 'ls']),
    );
    assert.deepEqual(
      ls.datasets.map((d) => [d.name, d.digest]),
      [['digits', digest]],
    );

    // ---- a store with other data under the name: refused, nothing collected ----
    const other = join(dir, 'other');
    await writeFile(join(dir, 'other.csv'), csvText(40, 1));
    await writeFile(join(dir, 'other-test.csv'), csvText(10, 2));
    ok(
      await cli([
        '--store',
        other,
        '--json',
        'data',
        'add',
        'digits',
        join(dir, 'other.csv'),
        '--test',
        join(dir, 'other-test.csv'),
      ]),
    );
    await refused(
      other,
      ['study', 'collect', sweepDir],
      /dataset 'digits' in this store has other data/,
    );

    // ---- a changed or missing copy: status and collect refuse in one line, store untouched ----
    const copy = join(sweepDir, 'datasets', digest);
    const good = await readFile(copy);
    const changed = Buffer.from(good);
    changed[changed.length - 1] ^= 1;
    await writeFile(copy, changed);
    await refused(
      store,
      ['study', 'status', sweepDir],
      /copy of dataset 'digits' .* does not match its digest/,
    );
    await refused(store, ['study', 'collect', sweepDir], /does not match its digest/);
    await rename(copy, `${copy}.away`);
    await refused(store, ['study', 'collect', sweepDir], /lacks its copy of dataset 'digits'/);
    await rename(`${copy}.away`, copy);

    // ---- task.sh itself checks the copy by digest: a task given changed data trains nothing ----
    await writeFile(copy, changed);
    await rename(join(sweepDir, 'task-0.lockstep'), join(dir, 'task-0.saved'));
    const codes = await runLocal(sweepDir, spec, [0]);
    assert.notEqual(codes.get(0), 0);
    assert.equal(existsSync(join(sweepDir, 'task-0.lockstep')), false);
    const logs = await readFile(join(sweepDir, 'logs', 'task-0.out'), 'utf8');
    const log = logs.slice(logs.lastIndexOf('lockstep task 0 on')); // this run's lines
    assert.match(log, /not the expected/);
    assert.doesNotMatch(log, /training /);
    await writeFile(copy, good);

    // ---- job.json naming a stored dataset it does not carry is refused ----
    const job = JSON.parse(await readFile(join(sweepDir, 'job.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    delete job.dataset;
    await writeFile(join(sweepDir, 'job.json'), JSON.stringify(job));
    await refused(store, ['study', 'status', sweepDir], /neither built in nor carried by the job/);
  },
);

test('sweep on a dataset the store does not hold: one line, exit 2, no job directory', async (t) => {
  const dir = useTempDir(t, 'lockstep-jobdata-bad-');
  const store = join(dir, 'store');
  ok(await cli(['--store', store, '--json', 'data', 'add', 'digits', writeCsv(join(dir, 'csv'))]));
  const jobDir = join(dir, 'job');
  await refused(
    store,
    ['sweep', '--dataset', 'shirts', '--steps', '2', '--seed', '1', '--job-dir', jobDir],
    /no dataset 'shirts' in the store/,
  );
  await refused(
    join(dir, 'none'),
    ['study', '--executor', 'local', '--runs', '1', '--dataset', 'shirts', '--job-dir', jobDir],
    /no dataset 'shirts'/,
  );
  assert.equal(existsSync(jobDir), false);
});

test('planning and job.json: a stored dataset only with its copy, by digest', async (t) => {
  const dir = useTempDir(t, 'lockstep-jobdata-plan-');
  const data = new TextEncoder().encode('not even a dataset, but bytes with a digest');
  const info = { name: 'digits', digest: sha256Hex(data), bytes: data.length };
  const config: TrainingConfig = {
    dataset: 'digits',
    model: { kind: 'softmax', hidden: [] },
    optimizer: { kind: 'sgd', lr: 0.1 },
    batchSize: 20,
    seed: 1,
    backend: 'wasm',
  };
  const sched = { steps: 3, checkpointEvery: 3, evalEvery: 3 };
  assert.throws(
    () => planStudy(config, 1, sched, { executor: 'local' }),
    /needs the stored dataset/,
  );
  assert.throws(
    () => planStudy({ ...config, dataset: 'fake' }, 1, sched, { executor: 'local', dataset: info }),
    /needs the stored dataset/,
  );
  const spec = planStudy(config, 1, sched, { executor: 'local', dataset: info });
  await assert.rejects(writeJobDir(join(dir, 'a'), spec), /dataset bytes are given/);
  await assert.rejects(writeJobDir(join(dir, 'b'), spec, data.subarray(1)), /not its digest's/);
  assert.equal(existsSync(join(dir, 'b')), false, 'nothing written for bytes of another digest');
  const ok = await writeJobDir(join(dir, 'c'), spec, data);
  assert.deepEqual((await readJobDir(ok)).spec, spec);
  const script = await readFile(join(ok, 'task.sh'), 'utf8');
  assert.ok(
    script.includes(
      `data add 'digits' '${join(ok, 'datasets', info.digest)}' --digest '${info.digest}'`,
    ),
    script,
  );
  const bad = async (patch: (j: Record<string, unknown>) => void, re: RegExp): Promise<void> => {
    const j = JSON.parse(JSON.stringify(spec)) as Record<string, unknown>;
    patch(j);
    await writeFile(join(ok, 'job.json'), JSON.stringify(j));
    await assert.rejects(readJobDir(ok), re);
  };
  await bad((j) => (j.dataset = { ...info, digest: 'ab' }), /dataset is not/);
  await bad((j) => (j.dataset = { ...info, name: 'mnist' }), /dataset is not/);
  await bad(
    (j) => (j.dataset = { ...info, bytes: info.bytes + 1 }),
    /has \d+ bytes, job.json says/,
  );
  await bad(
    (j) => (j.dataset = { ...info, name: 'other' }),
    /neither built in nor carried by the job/,
  );
});
