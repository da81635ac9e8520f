/**
 * The Slurm executor: submits a job directory's `submit.sbatch` with `sbatch --parsable`
 * (the whole array, or only the given task indices with `--array=<list>`), records each
 * submission in `submissions.json`, and reads the scheduler's view of every task with
 * `squeue --states=all -r` (finished tasks stay visible for the cluster's MinJobAge) and, when
 * the cluster keeps accounting, `sacct`. Retries are Slurm's own (`--requeue` in the script);
 * there is no scheduler here. Commands are run without a shell, with fixed arguments.
 * Errors: a missing `sbatch` or a refused submission is an InputError with Slurm's message.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { InputError } from '../engine/types';
import {
  SBATCH_SCRIPT,
  appendSubmission,
  readSubmissions,
  type JobSpec,
  type Submission,
} from './jobdir';

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** the command could not be started (e.g. not installed) */
  missing?: boolean;
}

/** Runs a command without a shell and collects its output. */
export function run(cmd: string, args: string[], cwd?: string): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e: NodeJS.ErrnoException) =>
      resolve({ code: null, stdout, stderr: e.message, missing: e.code === 'ENOENT' }),
    );
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `0-5` or `3,5`: Slurm's --array list for task indices. */
export function arrayList(tasks: number[]): string {
  const sorted = [...new Set(tasks)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let k = 0; k < sorted.length;) {
    let j = k;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) {
      j++;
    }
    parts.push(j > k ? `${sorted[k]}-${sorted[j]}` : String(sorted[k]));
    k = j + 1;
  }
  return parts.join(',');
}

/** Submits the given tasks (default: all) and records the submission. Returns it. */
export async function submit(dir: string, spec: JobSpec, tasks?: number[]): Promise<Submission> {
  const indices = tasks ?? spec.tasks.map((t) => t.index);
  const r = await run(
    'sbatch',
    ['--parsable', `--array=${arrayList(indices)}`, join(dir, SBATCH_SCRIPT)],
    dir,
  );
  if (r.missing) {
    throw new InputError('sbatch is not installed here (is this a Slurm login node?)');
  }
  const id = r.stdout.trim().split(';')[0];
  if (r.code !== 0 || !/^\d+$/.test(id)) {
    const why = (r.stderr.trim() || r.stdout.trim() || `exit code ${r.code}`).split('\n')[0];
    throw new InputError(`sbatch refused the job: ${why}`);
  }
  const s: Submission = { jobId: id, tasks: indices, at: new Date().toISOString() };
  await appendSubmission(dir, s);
  return s;
}

/** One array task as Slurm sees it. */
export interface SlurmTaskState {
  jobId: string;
  task: number;
  /** PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, … */
  state: string;
  reason: string;
}

/**
 * The scheduler's view of this job's tasks: for each index, the state under its latest
 * submission that Slurm still knows. `available` is false when neither squeue nor sacct answer.
 */
export async function querySlurm(
  dir: string,
): Promise<{ available: boolean; tasks: Map<number, SlurmTaskState>; note?: string }> {
  const subs = await readSubmissions(dir);
  const tasks = new Map<number, SlurmTaskState>();
  if (subs.length === 0) {
    return { available: true, tasks };
  }
  const order = new Map(subs.map((s, k) => [s.jobId, k]));
  const seen: SlurmTaskState[] = [];
  const ids = subs.map((s) => s.jobId).join(',');
  let answered = false;
  let note: string | undefined;
  // sacct first (it remembers everything when accounting is on), then squeue (authoritative for
  // live tasks and for finished ones within MinJobAge)
  const acct = await run('sacct', ['-n', '-P', '-X', '-j', ids, '-o', 'JobID,State,Reason']);
  if (acct.code === 0) {
    answered = true;
    for (const line of acct.stdout.split('\n')) {
      const [jid, state, reason] = line.trim().split('|');
      const m = /^(\d+)_(\d+)$/.exec(jid ?? '');
      if (m && state) {
        seen.push({ jobId: m[1], task: Number(m[2]), state: state.split(' ')[0], reason });
      }
    }
  }
  for (const s of subs) {
    const q = await run('squeue', ['-h', '-r', '--states=all', '-j', s.jobId, '-o', '%F|%K|%T|%r']);
    if (q.missing) {
      break;
    }
    if (q.code === 0) {
      answered = true;
      for (const line of q.stdout.split('\n')) {
        const [jid, k, state, reason] = line.trim().split('|');
        if (jid && /^\d+$/.test(k ?? '') && state) {
          seen.push({ jobId: jid, task: Number(k), state, reason: reason ?? '' });
        }
      }
    } else if (/invalid job id/i.test(q.stderr)) {
      answered = true; // finished long ago: Slurm forgot it
    } else {
      note = q.stderr.trim().split('\n')[0];
    }
  }
  // latest submission wins; within one, squeue (pushed last) wins over sacct
  for (const s of seen) {
    const prev = tasks.get(s.task);
    if (!prev || (order.get(s.jobId) ?? -1) >= (order.get(prev.jobId) ?? -1)) {
      tasks.set(s.task, s);
    }
  }
  return { available: answered, tasks, ...(note ? { note } : {}) };
}

/** Cancels the given tasks of the latest submission that holds each (scancel). */
export async function cancelTasks(dir: string, tasks: number[]): Promise<void> {
  const subs = await readSubmissions(dir);
  for (const t of tasks) {
    const s = [...subs].reverse().find((x) => x.tasks.includes(t));
    if (s) {
      await run('scancel', [`${s.jobId}_${t}`]);
    }
  }
}
