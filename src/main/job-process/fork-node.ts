/**
 * Job processes under plain Node: `child_process.fork` of ./entry-node.ts through tsx (the
 * loader is resolved to an absolute URL, so it works from any working directory). Whatever the
 * job prints (tfjs banners) goes to this process's stderr.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { JobProcess, ProcessFactory } from '../service/jobs/runner';
import type { FromJob, ToJob } from '../service/jobs/protocol';

const ENTRY = fileURLToPath(new URL('./entry-node.ts', import.meta.url));

/** Forks one job process per job. */
export const nodeProcessFactory: ProcessFactory = (): JobProcess => {
  const child = fork(ENTRY, [], {
    execArgv: ['--import', import.meta.resolve('tsx')],
    serialization: 'advanced',
    // the job's stdout goes to our stderr: a front's stdout (e.g. `serve --json`) stays clean
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  child.stdout?.pipe(process.stderr, { end: false });
  return {
    post(m: ToJob) {
      if (child.connected) {
        child.send(m);
      }
    },
    onMessage(l) {
      child.on('message', (m) => l(m as FromJob));
    },
    onExit(l) {
      child.on('exit', (code, signal) => l(code, signal));
      child.on('error', (e) => l(null, e.message));
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
      }
    },
    end() {
      if (child.connected) {
        child.disconnect();
      }
    },
  };
};
