/**
 * What `study` and `sweep` share when they run as a job directory (src/main/executors): the
 * executor options (`--executor local|slurm`, `--job-dir`, Slurm resources from flags or
 * LOCKSTEP_SLURM_PARTITION / _TIME / _CPUS / _MEM / _ACCOUNT, `--verify`), and running a planned
 * job: write the directory (carrying a stored dataset: ../main/executors/job-dataset.ts), record
 * it in the store, then either submit it to Slurm (print the
 * job id) or run it here one process per core and collect it (print the report).
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { resolve } from 'node:path';
import type { JobSpec, SlurmOptions } from '../main/executors/jobdir';
import type { VerifyChoice } from '../main/service/study-collect';
import type { StudyReport, SweepReport } from '../shared/contract';
import { emit, openStore, openStoreIfAny, say } from './context';
import { isBuiltinDataset } from '../main/engine/types';
import type { JobDataset } from '../main/executors/job-dataset';
import { CliError, EXIT_NEGATIVE } from './errors';
import { choice, intArg } from './options';

export interface ExecutorOptionValues {
  executor?: 'local' | 'slurm';
  jobDir?: string;
  partition?: string;
  time?: string;
  cpusPerTask?: number;
  mem?: string;
  account?: string;
  verify?: VerifyChoice;
  parallel?: number;
}

/** `all`, `none` or a count. */
export function verifyArg(v: string): VerifyChoice {
  if (v === 'all' || v === 'none') {
    return v;
  }
  if (/^\d+$/.test(v) && Number(v) <= 10_000) {
    return Number(v);
  }
  throw new InvalidArgumentError(`expected all, none or a count, got '${v}'`);
}

/** Adds the executor options to a command. */
export function addExecutorOptions(cmd: Command): Command {
  return cmd
    .option(
      '--executor <name>',
      'run as a job directory: local (one process per core here) or slurm (sbatch job array)',
      choice(['local', 'slurm'] as const),
    )
    .option('--job-dir <dir>', 'the job directory to write (default: ./<job id>)')
    .option('--partition <name>', 'slurm partition (default: LOCKSTEP_SLURM_PARTITION)')
    .option('--time <limit>', 'slurm time limit per task (default: LOCKSTEP_SLURM_TIME)')
    .option(
      '--cpus-per-task <n>',
      'slurm CPUs per task (default: LOCKSTEP_SLURM_CPUS, else 1)',
      intArg(1),
    )
    .option('--mem <size>', 'slurm memory per task, e.g. 2G (default: LOCKSTEP_SLURM_MEM)')
    .option('--account <name>', 'slurm account (default: LOCKSTEP_SLURM_ACCOUNT)')
    .option(
      '--verify <all|n|none>',
      'after a local job: runs to re-verify by replay (default 2)',
      verifyArg,
    );
}

/** Slurm options from the flags, else the LOCKSTEP_SLURM_* variables. */
export function slurmOptions(o: ExecutorOptionValues): SlurmOptions {
  const env = process.env;
  const cpus = o.cpusPerTask ?? (env.LOCKSTEP_SLURM_CPUS ? env.LOCKSTEP_SLURM_CPUS : undefined);
  if (cpus !== undefined && !/^[1-9]\d{0,3}$/.test(String(cpus))) {
    throw new CliError(`LOCKSTEP_SLURM_CPUS must be a positive integer, got '${String(cpus)}'`);
  }
  const s: SlurmOptions = {
    partition: o.partition ?? (env.LOCKSTEP_SLURM_PARTITION || undefined),
    time: o.time ?? (env.LOCKSTEP_SLURM_TIME || undefined),
    cpusPerTask: cpus === undefined ? undefined : Number(cpus),
    mem: o.mem ?? (env.LOCKSTEP_SLURM_MEM || undefined),
    account: o.account ?? (env.LOCKSTEP_SLURM_ACCOUNT || undefined),
  };
  return Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) as SlurmOptions;
}

/** Human form of a collected report's tail: missing tasks and verification. */
export function formatCollectTail(r: StudyReport | SweepReport): string[] {
  const lines: string[] = [];
  for (const m of r.missing ?? []) {
    lines.push(`MISSING task ${m.task} (${m.branch}, seed ${m.seed}): ${m.state} — ${m.detail}`);
  }
  for (const v of r.verification ?? []) {
    lines.push(
      `verified task ${v.task} (${v.checkpoint.slice(0, 12)}): ${v.verified ? 'ok, every checkpoint replayed bit-exactly' : `FAILED — ${v.detail ?? ''}`}`,
    );
  }
  if (r.jobDir) {
    lines.push(`job directory: ${r.jobDir}`);
  }
  return lines;
}

/** Exit 1 when a collected report is a negative answer: missing runs, a failed verification. */
export function setCollectExitCode(r: StudyReport | SweepReport): void {
  const bug = 'determinismBug' in r && r.determinismBug !== null;
  if (bug || (r.missing ?? []).length > 0 || (r.verification ?? []).some((v) => !v.verified)) {
    process.exitCode = EXIT_NEGATIVE;
  }
}

/**
 * The stored dataset a job on `dataset` carries to its tasks (read from the store, which is
 * opened, never created, for it), or null for a built-in dataset. The store's datasets are then
 * loadable by name, so the config can be validated. InputError when the store lacks it.
 */
export async function jobDataset(
  cmd: Command,
  dataset: string,
): Promise<{ info: JobDataset; data: Uint8Array } | null> {
  if (isBuiltinDataset(dataset)) {
    return null;
  }
  const store = await openStoreIfAny(cmd);
  if (store === null) {
    throw new CliError(`no dataset '${dataset}': there is no store yet (lockstep data add)`);
  }
  const { storedJobDataset } = await import('../main/executors/job-dataset'); // loaded on use
  return storedJobDataset(store, dataset);
}

/**
 * Writes the job directory (with the job's dataset copy, `datasetBytes`), records it in the store, and runs it with its executor: slurm
 * submits and prints the submission; local runs every task here and prints the collected
 * report through `format`.
 */
export async function launchJob(
  cmd: Command,
  spec: JobSpec,
  o: ExecutorOptionValues,
  format: (r: StudyReport | SweepReport) => string,
  datasetBytes?: Uint8Array,
): Promise<void> {
  const store = await openStore(cmd);
  // loaded on use (tfjs): the CLI's light commands never pay for it
  const { collectJob, registerJob } = await import('../main/service/study-collect');
  // the executors (child processes, job folders) are loaded on use, not at every CLI start
  const { writeJobDir } = await import('../main/executors/jobdir');
  const dir = await writeJobDir(resolve(o.jobDir ?? spec.id), spec, datasetBytes);
  await registerJob(store, dir, spec);
  if (spec.executor === 'slurm') {
    const { submit } = await import('../main/executors/slurm');
    const s = await submit(dir, spec);
    emit(
      cmd,
      { id: spec.id, kind: spec.kind, jobDir: dir, slurmJob: s.jobId, tasks: spec.tasks.length },
      () =>
        [
          `submitted Slurm job ${s.jobId}: ${spec.kind} ${spec.id}, ${spec.tasks.length} array tasks`,
          `job directory: ${dir}`,
          `follow it:  lockstep study status ${dir}`,
          `then:       lockstep study collect ${dir}`,
        ].join('\n'),
    );
    return;
  }
  const abort = new AbortController();
  const onSigint = (): void => {
    say(cmd, 'stopping the tasks…');
    abort.abort();
  };
  process.once('SIGINT', onSigint);
  let done = 0;
  try {
    process.stderr.write(
      `${spec.kind} ${spec.id}: 0/${spec.tasks.length} tasks (job dir ${dir})\n`,
    );
    const { runLocal } = await import('../main/executors/local');
    await runLocal(dir, spec, undefined, {
      parallel: o.parallel,
      signal: abort.signal,
      onTaskEnd: (i, code) => {
        done++;
        process.stderr.write(
          `${spec.kind}: ${done}/${spec.tasks.length} tasks${code === 0 ? '' : ` (task ${i} failed, exit ${code}; see ${dir}/logs/task-${i}.out)`}\n`,
        );
      },
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
  if (abort.signal.aborted) {
    throw new CliError(`stopped; collect what finished with: lockstep study collect ${dir}`);
  }
  const r = await collectJob(store, dir, { verify: o.verify });
  emit(cmd, r, () => format(r));
  setCollectExitCode(r);
}
