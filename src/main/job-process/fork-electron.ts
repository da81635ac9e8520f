/**
 * Job processes under Electron: one `utilityProcess` per job running the bundled
 * `job-process.js` (./entry-electron.ts), next to the main bundle in out/main.
 */
import { join } from 'node:path';
import { utilityProcess } from 'electron';
import type { JobProcess, ProcessFactory } from '../service/jobs/runner';
import type { FromJob, ToJob } from '../service/jobs/protocol';

/** A factory forking `entry` (default: job-process.js beside the main bundle). */
export function electronProcessFactory(
  entry = join(import.meta.dirname, 'job-process.js'),
): ProcessFactory {
  return (): JobProcess => {
    const child = utilityProcess.fork(entry, [], {
      serviceName: 'Lockstep job',
      stdio: 'inherit',
    });
    let exited = false;
    child.on('exit', () => {
      exited = true;
    });
    return {
      post: (m: ToJob) => {
        if (!exited) {
          child.postMessage(m);
        }
      },
      onMessage: (l) => child.on('message', (m: unknown) => l(m as FromJob)),
      onExit: (l) => child.on('exit', (code) => l(code, null)),
      kill: () => {
        if (!exited) {
          child.kill();
        }
      },
      end: () => {
        if (!exited) {
          child.kill();
        }
      },
    };
  };
}
