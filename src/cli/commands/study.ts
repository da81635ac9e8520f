/**
 * `study --runs K [train options] [--parallel N]`: the seed study — K runs with the same seed and
 * K with different seeds; mean and std of the final loss and test precision per group and the
 * same-seed share of the spread (0 is the goal; anything else is flagged as a determinism bug,
 * exit 1). `study --list` shows the stored studies. Ctrl-C stops the study.
 *
 * With `--executor local|slurm` (or `--job-dir`) the study becomes a job directory
 * (src/main/executors): `slurm` submits it as a job array and prints the Slurm job id; `local`
 * runs its tasks here, one process per core, and collects them. A stored dataset travels in the
 * job directory (src/main/executors/job-dataset.ts). Then:
 * - `study status <dir>`: each task pending, running, done or failed (squeue/sacct for Slurm);
 * - `study collect <dir> [--verify all|N|none]`: imports every finished bundle (untrusted input),
 *   re-verifies a sample and prints the same report as a local study, naming missing tasks
 *   (exit 1 while any is missing, a verification failed, or the same-seed runs differ);
 * - `study resubmit <dir> [--tasks 3,5]`: runs the given tasks again (default: every task that
 *   is neither done nor queued), with sbatch for Slurm, here for local.
 */
import { InvalidArgumentError, type Command } from 'commander';
import {
  addTrainingOptions,
  runFieldsOf,
  resolveSeed,
  type TrainingOptionValues,
} from '../training-options';
import type { StudyReport } from '../../main/service/study';
import type { JobStatus } from '../../main/executors/status';
import type { TrainingConfig } from '../../main/engine/types';
import type { SweepReport } from '../../shared/contract';
import { emit, openStore, openStoreIfAny, say } from '../context';
import { formatSweepReport } from './sweep';
import { CliError, EXIT_NEGATIVE } from '../errors';
import { intArg } from '../options';
import {
  addExecutorOptions,
  formatCollectTail,
  jobDataset,
  launchJob,
  setCollectExitCode,
  slurmOptions,
  verifyArg,
  type ExecutorOptionValues,
} from '../executor-options';

interface StudyOptions extends TrainingOptionValues, ExecutorOptionValues {
  runs?: number;
  list?: boolean;
}

export function register(program: Command): void {
  const study = program
    .command('study')
    .description('seed study: K runs with the same seed against K with different seeds')
    .option('--runs <k>', 'runs per group', intArg(1))
    .option('--list', 'list the stored studies')
    .option(
      '--parallel <n>',
      'processes at once (default: one per core; 1 = in this process)',
      intArg(1),
    );
  registerJobCommands(study);
  addExecutorOptions(
    addTrainingOptions(study, 'base seed (default: LOCKSTEP_SEED, else auto)'),
  ).action(async (opts: StudyOptions, cmd: Command) => {
    if (opts.list) {
      const store = await openStoreIfAny(cmd);
      const { listStudies } = await import('../../main/service/study'); // loaded on use
      const studies = store === null ? [] : await listStudies(store);
      emit(cmd, { studies }, () =>
        studies.length === 0 ? 'no studies yet' : studies.map(formatStudy).join('\n\n'),
      );
      return;
    }
    if (opts.runs === undefined) {
      throw new CliError('study needs --runs K (or --list)');
    }
    const seed = await baseSeed(cmd, opts.seed);
    const fields = await runFieldsOf(opts, cmd);
    if (opts.executor !== undefined || opts.jobDir !== undefined) {
      // (the executors and the model request are loaded on use, not at every CLI start)
      const { configOfRequest } = await import('../../main/service/model-request');
      const { planStudy } = await import('../../main/executors/plan');
      const config: TrainingConfig = configOfRequest(fields, seed);
      const data = await jobDataset(cmd, config.dataset); // a stored dataset travels with the job
      const { validateConfig } = await import('../../main/engine/trainer'); // loaded on use (tfjs)
      validateConfig(config);
      const executor = opts.executor ?? 'local';
      const spec = planStudy(
        config,
        opts.runs,
        {
          steps: opts.steps,
          checkpointEvery: opts.checkpointEvery ?? 500,
          evalEvery: opts.evalEvery ?? 1000,
        },
        {
          executor,
          ...(executor === 'slurm' ? { slurm: slurmOptions(opts) } : {}),
          ...(data !== null ? { dataset: data.info } : {}),
        },
      );
      await launchJob(cmd, spec, opts, (r) => formatAny(r), data?.data);
      return;
    }
    const store = await openStore(cmd);
    const abort = new AbortController();
    const onSigint = (): void => {
      say(cmd, 'stopping the study after the current steps…');
      abort.abort();
    };
    process.once('SIGINT', onSigint);
    let r: StudyReport;
    const { runStudy } = await import('../../main/service/study'); // loaded on use (tfjs)
    try {
      r = await runStudy(
        store,
        {
          runs: opts.runs,
          seed,
          train: fields,
        },
        {
          signal: abort.signal,
          parallel: opts.parallel,
          onProgress: (done, total) => process.stderr.write(`study: ${done}/${total} runs\n`),
        },
      );
    } finally {
      process.off('SIGINT', onSigint);
    }
    emit(cmd, r, () => formatStudy(r));
    if (r.determinismBug) {
      process.exitCode = EXIT_NEGATIVE;
    }
  });
}

/** `study status|collect|resubmit <dir>`. */
function registerJobCommands(study: Command): void {
  study
    .command('status')
    .description('state of every task of a job directory (pending, running, done, failed)')
    .argument('<dir>', 'the job directory')
    .action(async (dir: string, _o: unknown, cmd: Command) => {
      const { jobStatus } = await import('../../main/executors/status');
      const st = await jobStatus(dir);
      emit(cmd, st, () => formatStatus(st));
    });
  study
    .command('collect')
    .description('import, verify and report every finished task of a job directory')
    .argument('<dir>', 'the job directory')
    .option('--verify <all|n|none>', 'runs to re-verify by replay (default 2)', verifyArg)
    .action(async (dir: string, _o: unknown, cmd: Command) => {
      // parent options (study's --verify) are recognised after the subcommand too: merge them
      const o = cmd.optsWithGlobals<{ verify?: ExecutorOptionValues['verify'] }>();
      const { readJobDir } = await import('../../main/executors/jobdir');
      await readJobDir(dir); // a bad directory fails before the store is opened
      const store = await openStore(cmd);
      const { collectJob } = await import('../../main/service/study-collect'); // loaded on use (tfjs)
      const r = await collectJob(store, dir, {
        verify: o.verify,
        onProgress: (done, total, label) => {
          if (done === total) {
            process.stderr.write(`collect: ${label} ${done}/${total}\n`);
          }
        },
      });
      emit(cmd, r, () => formatAny(r));
      setCollectExitCode(r);
    });
  study
    .command('resubmit')
    .description('run tasks of a job directory again (default: those neither done nor queued)')
    .argument('<dir>', 'the job directory')
    .option('--tasks <list>', 'task indices, e.g. 3 or 3,5', taskList)
    .option('--parallel <n>', 'local: processes at once (default: one per core)', intArg(1))
    .action(async (dir: string, _o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<{ tasks?: number[]; parallel?: number }>();
      const { readJobDir } = await import('../../main/executors/jobdir');
      const { jobStatus } = await import('../../main/executors/status');
      const { dir: abs, spec } = await readJobDir(dir);
      let tasks = o.tasks;
      if (tasks === undefined) {
        const st = await jobStatus(abs);
        tasks = st.tasks
          .filter((t) => t.state === 'failed' || t.state === 'missing')
          .map((t) => t.index);
      }
      const bad = tasks.find((t) => t >= spec.tasks.length);
      if (bad !== undefined) {
        throw new CliError(`--tasks: the job has tasks 0-${spec.tasks.length - 1}, not ${bad}`);
      }
      if (tasks.length === 0) {
        emit(
          cmd,
          { jobDir: abs, tasks: [] },
          () => 'nothing to resubmit: every task is done or queued',
        );
        return;
      }
      if (spec.executor === 'slurm') {
        const { submit } = await import('../../main/executors/slurm');
        const s = await submit(abs, spec, tasks);
        emit(
          cmd,
          { jobDir: abs, slurmJob: s.jobId, tasks },
          () =>
            `submitted Slurm job ${s.jobId} for task${tasks.length > 1 ? 's' : ''} ${tasks.join(', ')}`,
        );
        return;
      }
      const { runLocal } = await import('../../main/executors/local');
      const codes = await runLocal(abs, spec, tasks, { parallel: o.parallel });
      const failed = [...codes].filter(([, c]) => c !== 0).map(([i]) => i);
      emit(cmd, { jobDir: abs, tasks, failed }, () =>
        failed.length === 0
          ? `ran task${tasks.length > 1 ? 's' : ''} ${tasks.join(', ')}; collect with: lockstep study collect ${abs}`
          : `task${failed.length > 1 ? 's' : ''} ${failed.join(', ')} failed; see ${abs}/logs`,
      );
      if (failed.length > 0) {
        process.exitCode = EXIT_NEGATIVE;
      }
    });
}

/** Comma-separated task indices (0 allowed). */
function taskList(v: string): number[] {
  const parts = v.split(',').map((p) => p.trim());
  if (parts.some((p) => !/^\d{1,6}$/.test(p))) {
    throw new InvalidArgumentError(`expected task indices like 3 or 3,5, got '${v}'`);
  }
  return [...new Set(parts.map(Number))];
}

function formatStatus(st: JobStatus): string {
  const c = st.counts;
  const lines = [
    `${st.kind} ${st.id} (${st.executor}): ${c.done} done, ${c.running} running, ${c.pending} pending, ${c.failed} failed, ${c.missing} missing of ${st.tasks.length}`,
    ...st.tasks.map(
      (t) =>
        `  task ${String(t.index).padStart(3)}  ${t.state.padEnd(8)} ${t.branch}${t.slurmJob ? `  [${t.slurmJob}]` : ''}${t.detail && t.state !== 'done' ? `  ${t.detail}` : ''}`,
    ),
  ];
  if (st.note) {
    lines.push(`note: ${st.note}`);
  }
  return lines.join('\n');
}

function formatAny(r: StudyReport | SweepReport): string {
  if ('kind' in r && r.kind === 'sweep') {
    return formatSweepReport(r);
  }
  return [formatStudy(r as StudyReport), ...formatCollectTail(r)].join('\n');
}

async function baseSeed(cmd: Command, opt: number | 'auto' | undefined): Promise<number> {
  const { seed, source } = await resolveSeed(opt);
  if (source === 'auto') {
    say(cmd, `base seed ${seed} (auto; pass --seed ${seed} to repeat this study)`);
  }
  return seed;
}

function formatStudy(r: StudyReport): string {
  const f = (x: number, d = 6) => x.toFixed(d);
  // a gan has no test precision: its columns show '-'
  const prec = (g: StudyReport['sameSeed'], x: number, d: number) =>
    g.testPrecision.values.length === 0 && g.sampleQuality ? '-'.padStart(d + 2) : f(x, d);
  const row = (name: string, g: StudyReport['sameSeed']) =>
    `${name.padEnd(16)} ${String(g.seeds.length).padStart(4)}  ${f(g.finalLoss.mean)}  ${f(g.finalLoss.std)}  ${prec(g, g.testPrecision.mean, 4)}  ${prec(g, g.testPrecision.std, 6)}`;
  const lines = [
    `study ${r.id}${r.createdAt ? ` (${r.createdAt})` : ''}: ${r.runs} + ${r.runs} runs, base seed ${r.baseSeed ?? '?'}${r.steps ? `, ${r.steps} steps` : ''}`,
    `${'group'.padEnd(16)} runs  loss mean  loss std  test mean  test std`,
    row('same seed', r.sameSeed),
    row('different seeds', r.differentSeeds),
    `same-seed share of the spread: loss ${r.sameSeedShare}${
      r.sameSeedPrecisionShare !== undefined ? `, test precision ${r.sameSeedPrecisionShare}` : ''
    }`,
    r.determinismBug
      ? `DETERMINISM BUG: ${r.determinismBug.detail}`
      : 'same-seed runs identical: zero spread, every final checkpoint the same',
  ];
  if (r.sameSeed.sampleQuality && r.differentSeeds.sampleQuality) {
    const g = (name: string, s: StudyReport['sameSeed']) =>
      `${name.padEnd(16)} d_loss ${f(s.finalLoss.mean)} ± ${f(s.finalLoss.std)} · g_loss ${f(s.generatorLoss!.mean)} ± ${f(s.generatorLoss!.std)} · sample quality ${f(s.sampleQuality!.mean, 4)} ± ${f(s.sampleQuality!.std)}`; // prettier-ignore
    lines.splice(
      5,
      0,
      'gan (sample quality: mean max-softmax confidence of a fixed classifier on 64 samples):',
      g('same seed', r.sameSeed),
      g('different seeds', r.differentSeeds),
    );
  }
  return lines.join('\n');
}
