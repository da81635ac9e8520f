/**
 * Job directories without a scheduler: the scripts they hold, the checks on job.json, and
 * `collect` on real task bundles — equal to a local study bit for bit, a missing task named with
 * nothing of it in the store, a foreign or damaged bundle refused with the store untouched by it,
 * a same-seed difference named by task and step — and one task run for real through task.sh by
 * the local executor.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportBundle } from '../../src/main/bundle/export';
import { parseAugment } from '../../src/main/engine/augment';
import type { TrainingConfig } from '../../src/main/engine/types';
import {
  bundlePath,
  readJobDir,
  sbatchScript,
  trainArgs,
  writeJobDir,
  type JobSpec,
} from '../../src/main/executors/jobdir';
import { runLocal } from '../../src/main/executors/local';
import { planStudy, planSweep } from '../../src/main/executors/plan';
import { arrayList } from '../../src/main/executors/slurm';
import { jobStatus } from '../../src/main/executors/status';
import { collectJob, spread } from '../../src/main/service/study-collect';
import { listStudySummaries, openStudy } from '../../src/main/service/study-list';
import { buildStudyReport, runStudy } from '../../src/main/service/study';
import { startRun } from '../../src/main/service/train';
import { Store } from '../../src/main/store/store';
import type { StudyReport } from '../../src/shared/contract';
import { slurmOptions } from '../../src/cli/executor-options';
import { cli, tempDir } from '../helpers/cli';

const CONFIG: TrainingConfig = {
  dataset: 'fake',
  model: { kind: 'mlp', hidden: [16, 8] },
  optimizer: { kind: 'sgd', lr: 0.1 },
  batchSize: 32,
  seed: 5,
  backend: 'wasm',
};
const SCHED = { steps: 15, checkpointEvery: 10, evalEvery: 1000 };

let work: string;
before(() => {
  work = tempDir('lockstep-jobdir-');
});
after(() => rm(work, { recursive: true, force: true }));

/** Does in-process what task.sh does: trains task i into its own store and exports its branch. */
async function runTaskInProcess(dir: string, spec: JobSpec, i: number): Promise<void> {
  const t = spec.tasks[i];
  const store = await Store.open(join(work, `task-store-${spec.id}-${i}`));
  await startRun(store, {
    config: t.config,
    seedSource: 'explicit',
    steps: t.steps,
    checkpointEvery: t.checkpointEvery,
    evalEvery: t.evalEvery,
    branch: t.branch,
  });
  await exportBundle(store, t.branch, bundlePath(dir, i));
}

const rows = (r: StudyReport) =>
  (r.results ?? []).map((x) => [x.group, x.seed, x.checkpoint, x.finalLoss, x.testPrecision]);

describe('job directory files', () => {
  test('the sbatch script holds the array, --requeue and the resources; task.sh every task', async () => {
    const spec = planStudy(CONFIG, 3, SCHED, {
      executor: 'slurm',
      slurm: { partition: 'short', time: '0:30:00', cpusPerTask: 2, mem: '2G' },
    });
    const dir = await writeJobDir(join(work, 'files'), spec);
    const sbatch = await readFile(join(dir, 'submit.sbatch'), 'utf8');
    for (const line of [
      '#SBATCH --array=0-5',
      '#SBATCH --requeue',
      '#SBATCH --partition=short',
      '#SBATCH --time=0:30:00',
      '#SBATCH --cpus-per-task=2',
      '#SBATCH --mem=2G',
    ]) {
      assert.ok(sbatch.includes(line), `${line} in\n${sbatch}`);
    }
    assert.equal(sbatch, sbatchScript(spec, dir));
    const task = await readFile(join(dir, 'task.sh'), 'utf8');
    assert.ok(task.includes(`'--seed' '5'`) && task.includes(`'--seed' '8'`));
    assert.ok(task.includes(`${spec.cli}`), 'the CLI by its absolute path');
    const back = await readJobDir(dir);
    assert.deepEqual(back.spec, spec);
    await assert.rejects(writeJobDir(dir, spec), /already holds a job/);
  });

  test('job.json is checked field by field; unsafe values never reach a script', async () => {
    const spec = planStudy(CONFIG, 1, SCHED, { executor: 'local' });
    const dir = await writeJobDir(join(work, 'checked'), spec);
    const bad = async (patch: (j: Record<string, unknown>) => void, re: RegExp): Promise<void> => {
      const j = JSON.parse(JSON.stringify(spec)) as Record<string, unknown>;
      patch(j);
      await writeFile(join(dir, 'job.json'), JSON.stringify(j));
      await assert.rejects(readJobDir(dir), re);
    };
    await bad((j) => (j.executor = 'pbs'), /executor/);
    await bad((j) => ((j.tasks as { branch: string }[])[0].branch = "x'; rm -rf /"), /branch/);
    await bad((j) => ((j.tasks as { seed: number }[])[1].seed = 99), /seed/);
    await bad((j) => (j.slurm = { partition: 'a b' }), /partition/);
    await bad((j) => (j.cli = 'relative/bin.mjs'), /absolute/);
    assert.throws(
      () => planStudy(CONFIG, 1, SCHED, { executor: 'slurm', slurm: { mem: '2G; reboot' } }),
      /mem/,
    );
  });

  test('slurm options come from flags, else LOCKSTEP_SLURM_*', () => {
    const saved = { ...process.env };
    try {
      process.env.LOCKSTEP_SLURM_PARTITION = 'gpu';
      process.env.LOCKSTEP_SLURM_MEM = '4G';
      process.env.LOCKSTEP_SLURM_CPUS = '3';
      assert.deepEqual(slurmOptions({ mem: '1G' }), {
        partition: 'gpu',
        mem: '1G',
        cpusPerTask: 3,
      });
      process.env.LOCKSTEP_SLURM_CPUS = 'many';
      assert.throws(() => slurmOptions({}), /LOCKSTEP_SLURM_CPUS/);
    } finally {
      process.env = saved;
    }
  });

  test('array lists, sweep grids and verification samples', () => {
    assert.equal(arrayList([7, 0, 1, 2, 5, 8]), '0-2,5,7-8');
    assert.equal(arrayList([3]), '3');
    const sw = planSweep(
      CONFIG,
      { lr: [0.1, 0.05], batchSize: [32, 16], seed: [5], optimizer: ['sgd'] },
      SCHED,
      { executor: 'local' },
    );
    assert.deepEqual(
      sw.tasks.map((t) => [t.config.optimizer.lr, t.config.batchSize]),
      [
        [0.1, 32],
        [0.1, 16],
        [0.05, 32],
        [0.05, 16],
      ],
    );
    // layer stacks and augmentation reach the train command as its own options
    const args = trainArgs({
      ...sw.tasks[0],
      config: {
        ...CONFIG,
        model: { kind: 'layers', hidden: [], layers: 'conv:8x3,relu,maxpool:2' },
        augment: { crop: 2, flip: true },
      },
    });
    assert.deepEqual(args.slice(args.indexOf('--layers'), args.indexOf('--layers') + 2), [
      '--layers',
      'conv:8x3,relu,maxpool:2',
    ]);
    assert.deepEqual(parseAugment(args[args.indexOf('--augment') + 1]), { crop: 2, flip: true });
    assert.throws(
      () =>
        trainArgs({
          ...sw.tasks[0],
          config: { ...CONFIG, optimizer: { kind: 'momentum', lr: 0.1, momentum: 0.5 } },
        }),
      /momentum/,
    );
    assert.deepEqual(spread(6, 2), [0, 5]);
    assert.deepEqual(spread(6, 3), [0, 3, 5]);
    assert.deepEqual(spread(2, 5), [0, 1]);
    assert.deepEqual(spread(4, 0), []);
  });
});

describe('collect', () => {
  let store: Store;
  let spec: JobSpec;
  let dir: string;
  let reference: StudyReport;
  before(async () => {
    store = await Store.open(join(work, 'store'));
    spec = planStudy(CONFIG, 2, SCHED, { executor: 'local' });
    dir = await writeJobDir(join(work, 'study'), spec);
    for (const t of spec.tasks) {
      await runTaskInProcess(dir, spec, t.index);
    }
    const ref = await Store.open(join(work, 'reference-store'));
    reference = await runStudy(
      ref,
      {
        runs: 2,
        seed: CONFIG.seed,
        train: {
          dataset: 'fake',
          model: 'mlp',
          hidden: [16, 8],
          optimizer: 'sgd',
          lr: 0.1,
          batchSize: 32,
          ...SCHED,
          backend: 'wasm',
        },
      },
      { parallel: 1 },
    );
  });

  test('a missing task is named; nothing of it is in the store; the rest is reported', async () => {
    const saved = join(work, 'saved-task-3.lockstep');
    await copyFile(bundlePath(dir, 3), saved);
    await rm(bundlePath(dir, 3));
    const st = await jobStatus(dir);
    assert.deepEqual(st.counts, { pending: 0, running: 0, done: 3, failed: 0, missing: 1 });
    const r = (await collectJob(store, dir, { verify: 'none' })) as StudyReport;
    assert.equal(r.results?.length, 3);
    assert.deepEqual(
      r.missing?.map((m) => [m.task, m.state]),
      [[3, 'missing']],
    );
    assert.equal(await store.hasBranch(spec.tasks[3].branch), false);
    const listed = (await listStudySummaries(store)).find((s) => s.id === spec.id);
    assert.equal(listed?.state, 'partial');
    await copyFile(saved, bundlePath(dir, 3));
  });

  test('a foreign or damaged bundle is refused before it touches the store', async () => {
    const fresh = await Store.open(join(work, 'store-rejects'));
    const saved = join(work, 'saved-task-2.lockstep');
    await copyFile(bundlePath(dir, 2), saved);
    try {
      // task 0's bundle in task 2's place: valid, but not task 2's run
      await copyFile(bundlePath(dir, 0), bundlePath(dir, 2));
      let r = (await collectJob(fresh, dir, { verify: 'none' })) as StudyReport;
      assert.deepEqual(
        r.missing?.map((m) => [m.task, m.state]),
        [[2, 'rejected']],
      );
      assert.match(r.missing?.[0].detail ?? '', /task 2: the bundle's branch/);
      // a damaged one: bytes cut off
      const bytes = await readFile(saved);
      await writeFile(bundlePath(dir, 2), bytes.subarray(0, bytes.length - 100));
      r = (await collectJob(fresh, dir, { verify: 'none' })) as StudyReport;
      assert.deepEqual(
        r.missing?.map((m) => [m.task, m.state]),
        [[2, 'rejected']],
      );
      assert.match(r.missing?.[0].detail ?? '', /truncated/);
      assert.equal(await fresh.hasBranch(spec.tasks[2].branch), false);
      assert.equal(await fresh.hasBranch(spec.tasks[3].branch), true);
      assert.equal((await fresh.fsck()).ok, true);
    } finally {
      await copyFile(saved, bundlePath(dir, 2));
    }
  });

  test('every task collected: the report equals a local study bit for bit, verified', async () => {
    const r = (await collectJob(store, dir, { verify: 'all' })) as StudyReport;
    assert.deepEqual(r.missing, []);
    assert.deepEqual(rows(r), rows(reference));
    assert.deepEqual(r.sameSeed, reference.sameSeed);
    assert.deepEqual(r.differentSeeds, reference.differentSeeds);
    assert.equal(r.determinismBug, null);
    assert.deepEqual(
      r.verification?.map((v) => [v.task, v.verified]),
      [
        [0, true],
        [1, true],
        [2, true],
        [3, true],
      ],
    );
    // stored: listed as collected and reopened as it was
    const listed = (await listStudySummaries(store)).find((s) => s.id === spec.id);
    assert.equal(listed?.state, 'collected');
    assert.equal(listed?.hasReport, true);
    const opened = await openStudy(store, spec.id);
    assert.deepEqual(rows(opened as StudyReport), rows(r));
    // collecting again imports nothing new and gives the same report
    const again = (await collectJob(store, dir, { verify: 'none' })) as StudyReport;
    assert.deepEqual(rows(again), rows(r));
  });

  test('same-seed runs that differ are named by task, with the first differing step', async () => {
    const [a, b] = [spec.tasks[0], spec.tasks[2]]; // seeds 5 and 6: a real difference
    const ca = await store.resolveRef(a.branch);
    const cb = await store.resolveRef(b.branch);
    const report = await buildStudyReport(store, {
      id: 'study-mislabelled',
      runs: 2,
      baseSeed: 5,
      config: CONFIG,
      steps: SCHED.steps,
      executor: 'local',
      results: [
        {
          group: 'same',
          seed: 5,
          run: 'r',
          branch: a.branch,
          checkpoint: ca,
          finalLoss: 1,
          testPrecision: 0.5,
          task: 0,
        },
        {
          group: 'same',
          seed: 5,
          run: 'r',
          branch: b.branch,
          checkpoint: cb,
          finalLoss: 1,
          testPrecision: 0.5,
          task: 2,
        },
      ],
    });
    assert.equal(report.determinismBug?.firstDifferingStep, 0);
    assert.match(
      report.determinismBug?.detail ?? '',
      /task 0 \(.*\) and task 2 \(.*\) differ from step 0/,
    );
  });
});

describe('local executor', () => {
  test('task.sh trains and exports through the real CLI; status and collect see it', async () => {
    const store = await Store.open(join(work, 'local-store'));
    const spec = planStudy(CONFIG, 1, { ...SCHED, steps: 5 }, { executor: 'local' });
    const dir = await writeJobDir(join(work, 'local'), spec);
    const codes = await runLocal(dir, spec, [0]);
    assert.equal(codes.get(0), 0, await readFile(join(dir, 'logs', 'task-0.out'), 'utf8'));
    const st = await jobStatus(dir);
    assert.deepEqual(
      st.tasks.map((t) => t.state),
      ['done', 'missing'],
    );
    const r = (await collectJob(store, dir, { verify: 1 })) as StudyReport;
    assert.equal(r.results?.length, 1);
    assert.equal(r.verification?.[0].verified, true);
    assert.equal(r.missing?.[0].task, 1);
  });
});

describe('bad input on the command line', () => {
  test('each is one line on stderr, exit 2, and writes no job directory', () => {
    const dir = join(work, 'never');
    const cases: [string[], RegExp][] = [
      [['study', 'status', join(work, 'nope')], /is not a job directory/],
      [['study', 'collect', join(work, 'nope')], /is not a job directory/],
      [
        [
          'study',
          '--executor',
          'slurm',
          '--runs',
          '1',
          '--dataset',
          'fake',
          '--mem',
          '2G;x',
          '--job-dir',
          dir,
        ],
        /slurm option mem/,
      ],
      [['study', '--executor', 'pbs', '--runs', '1'], /--executor/],
      [['sweep', '--lr', '0.1,,0.2', '--job-dir', dir], /comma-separated/],
      [['study', 'resubmit', join(work, 'nope'), '--tasks', 'x'], /task indices/],
    ];
    for (const [args, re] of cases) {
      const r = cli(['--store', join(work, 'bad-store'), ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    assert.equal(existsSync(dir), false);
  });
});
