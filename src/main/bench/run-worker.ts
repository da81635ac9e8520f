/**
 * Runs one bench job in a fresh Node process: the entry point `program` (./worker.ts or
 * ./cnn-worker.ts, from the bundle or the sources) gets the job as JSON in argv and prints its
 * JSON result as the last line of stdout. The kernels use `threads` threads (LOCKSTEP_THREADS; 1
 * unless said otherwise: the peer comparisons are one thread against one thread). A non-zero
 * exit or a last line that is not JSON rejects with the worker's stderr.
 */
import { spawn } from 'node:child_process';
import { entryPoint, repoRoot, type EntryName } from '../entry-points';

export function runWorkerProgram<T>(program: EntryName, job: unknown, threads = 1): Promise<T> {
  return new Promise((done, fail) => {
    const worker = entryPoint(program);
    const child = spawn(
      process.execPath,
      [...worker.execArgv, worker.script, JSON.stringify(job)],
      {
        cwd: repoRoot(),
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, LOCKSTEP_THREADS: String(threads) },
      },
    );
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
