/**
 * The state of every task of a job directory (CLI `study status <dir>`):
 * - `done`: task-<i>.lockstep is in place (it appears complete or not at all);
 * - `pending` / `running`: Slurm says so (slurm executor), or the task script's running marker
 *   names a live process on this host (local executor);
 * - `failed`: Slurm reports a final state without a bundle (FAILED, CANCELLED, TIMEOUT, …; the
 *   state is the reason), or the script left a failed marker, or a running marker whose process
 *   is gone (local);
 * - `missing`: nothing says the task ever ran (not submitted, or forgotten by Slurm).
 * Read-only: it never changes the job directory.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { bundlePath, markerPath, readJobDir, type JobSpec } from './jobdir';
import { querySlurm } from './slurm';

export type TaskState = 'pending' | 'running' | 'done' | 'failed' | 'missing';
export const TASK_STATES: readonly TaskState[] = [
  'pending',
  'running',
  'done',
  'failed',
  'missing',
];

export interface TaskStatus {
  index: number;
  group: JobSpec['tasks'][number]['group'];
  seed: number;
  branch: string;
  state: TaskState;
  /** why: Slurm's state and reason, the exit code, … */
  detail?: string;
  /** Slurm job id of the task (`<array job>_<index>`) */
  slurmJob?: string;
}

export interface JobStatus {
  dir: string;
  id: string;
  kind: JobSpec['kind'];
  executor: JobSpec['executor'];
  tasks: TaskStatus[];
  counts: Record<TaskState, number>;
  /** every task done */
  complete: boolean;
  /** a note about the scheduler (e.g. squeue did not answer) */
  note?: string;
}

const LIVE = new Set([
  'RUNNING',
  'COMPLETING',
  'CONFIGURING',
  'REQUEUED',
  'REQUEUE_FED',
  'REQUEUE_HOLD',
  'RESIZING',
  'SIGNALING',
  'STAGE_OUT',
  'SUSPENDED',
  'STOPPED',
]);

async function readMarker(path: string): Promise<string | null> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return null;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The status of every task of the job directory `dir`. */
export async function jobStatus(dirArg: string): Promise<JobStatus> {
  const { dir, spec } = await readJobDir(dirArg);
  const slurm = spec.executor === 'slurm' ? await querySlurm(dir) : null;
  const tasks: TaskStatus[] = [];
  for (const t of spec.tasks) {
    const base = { index: t.index, group: t.group, seed: t.seed, branch: t.branch };
    const s = slurm?.tasks.get(t.index);
    const slurmJob = s ? { slurmJob: `${s.jobId}_${t.index}` } : {};
    if (existsSync(bundlePath(dir, t.index))) {
      tasks.push({ ...base, state: 'done', ...slurmJob });
      continue;
    }
    if (s) {
      const detail = `${s.state}${s.reason && s.reason !== 'None' ? ` (${s.reason})` : ''}`;
      const state: TaskState =
        s.state === 'PENDING' ? 'pending' : LIVE.has(s.state) ? 'running' : 'failed';
      tasks.push({ ...base, state, detail, ...slurmJob });
      continue;
    }
    const failed = await readMarker(markerPath(dir, t.index, 'failed'));
    if (failed !== null) {
      tasks.push({ ...base, state: 'failed', detail: `exit code ${failed.split(' ')[0]}` });
      continue;
    }
    const running = await readMarker(markerPath(dir, t.index, 'running'));
    if (running !== null) {
      const [host, pid] = running.split(' ');
      if (spec.executor === 'local' && host === hostname() && !pidAlive(Number(pid))) {
        tasks.push({ ...base, state: 'failed', detail: 'interrupted (its process is gone)' });
      } else {
        tasks.push({ ...base, state: 'running', detail: `on ${host}` });
      }
      continue;
    }
    tasks.push({ ...base, state: 'missing', detail: 'no result and no record of a run' });
  }
  const counts = Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as Record<TaskState, number>;
  for (const t of tasks) {
    counts[t.state]++;
  }
  const note =
    slurm && !slurm.available
      ? `Slurm did not answer${slurm.note ? `: ${slurm.note}` : ''}; states from the job directory`
      : slurm?.note;
  return {
    dir,
    id: spec.id,
    kind: spec.kind,
    executor: spec.executor,
    tasks,
    counts,
    complete: counts.done === tasks.length,
    ...(note ? { note } : {}),
  };
}
