/**
 * The local executor: runs a job directory's tasks on this machine, one process (`sh task.sh
 * <i>`) per core at most, each logging to logs/task-<i>.out. It is the same task script a
 * Slurm array runs, so a local job directory is collected the same way.
 * `runLocal` resolves when every task has ended (or, after the signal aborts, when the running
 * ones have stopped: they get SIGTERM, which the task script turns into a clean exit that leaves
 * no partial bundle); it reports each task's exit code, never throws for a failed task.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { TASK_SCRIPT, logPath, type JobSpec } from './jobdir';

export interface LocalOptions {
  /** processes at once (default: one per core) */
  parallel?: number;
  signal?: AbortSignal;
  /** a task ended (code 0: its bundle is in place) */
  onTaskEnd?: (index: number, code: number | null) => void;
}

/** Runs the given tasks (default: all); resolves with each task's exit code. */
export async function runLocal(
  dir: string,
  spec: JobSpec,
  tasks: number[] = spec.tasks.map((t) => t.index),
  opts: LocalOptions = {},
): Promise<Map<number, number | null>> {
  const parallel = Math.max(
    1,
    Math.min(opts.parallel ?? availableParallelism(), availableParallelism(), tasks.length),
  );
  const codes = new Map<number, number | null>();
  let next = 0;
  const one = (i: number): Promise<number | null> =>
    new Promise((resolve) => {
      const fd = openSync(logPath(dir, i), 'a');
      const child = spawn('/bin/sh', [join(dir, TASK_SCRIPT), String(i)], {
        cwd: dir,
        stdio: ['ignore', fd, fd],
      });
      closeSync(fd);
      const onAbort = (): void => {
        child.kill('SIGTERM');
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      child.on('error', () => resolve(null));
      child.on('close', (code) => {
        opts.signal?.removeEventListener('abort', onAbort);
        resolve(code);
      });
    });
  const worker = async (): Promise<void> => {
    while (next < tasks.length && !opts.signal?.aborted) {
      const i = tasks[next++];
      const code = await one(i);
      codes.set(i, code);
      opts.onTaskEnd?.(i, code);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return codes;
}
