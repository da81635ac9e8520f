/**
 * Runs one bench job in a fresh Node process: the entry point `program` (./worker.ts or
 * ./cnn-worker.ts, from the bundle or the sources) gets the job as JSON in argv and prints its
 * JSON result as the last line of stdout. The kernels use `threads` threads (LOCKSTEP_THREADS; 1
 * unless said otherwise: the peer comparisons are one thread against one thread); a one-thread
 * job runs on the core ./cores.ts pinned, if any. A non-zero exit or a last line that is not
 * JSON rejects with the worker's stderr.
 */
import { spawn } from 'node:child_process';
import { onOneCore } from './cores';
import { entryPoint, repoRoot, type EntryName } from '../entry-points';

/** The command and arguments that run `job` on `program` (pinned when on one thread). */
export function workerCommand(
  program: EntryName,
  job: unknown,
  threads: number,
): [string, string[]] {
  const worker = entryPoint(program);
  const argv = [...worker.execArgv, worker.script, JSON.stringify(job)];
  return threads === 1 ? onOneCore(process.execPath, argv) : [process.execPath, argv];
}

export function runWorkerProgram<T>(program: EntryName, job: unknown, threads = 1): Promise<T> {
  return new Promise((done, fail) => {
    const [command, args] = workerCommand(program, job, threads);
    const child = spawn(command, args, {
      cwd: repoRoot(),
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOCKSTEP_THREADS: String(threads) },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{')) {
        fail(new Error(`${program} failed (${JSON.stringify(job)}): ${err.trim() || `exit ${code}`}`)); // prettier-ignore
        return;
      }
      done(JSON.parse(last) as T);
    });
  });
}
