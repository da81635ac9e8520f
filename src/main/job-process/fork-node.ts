/**
 * Job processes under plain Node: `child_process.fork` of the `job-node` entry point
 * (../entry-points.ts): the bundled `job-node.js` next to a bundled CLI, else ./entry-node.ts
 * through tsx (the loader is resolved to an absolute URL, so it works from any working
 * directory). Whatever the job prints (tfjs banners) goes to this process's stderr.
 */
import { fork } from 'node:child_process';
import { entryPoint } from '../entry-points';
import type { JobProcess, ProcessFactory } from '../service/jobs/runner';
import type { FromJob, ToJob } from '../service/jobs/protocol';

/** Forks one job process per job. */
export const nodeProcessFactory: ProcessFactory = (): JobProcess => {
  const entry = entryPoint('job-node');
  const child = fork(entry.script, [], {
    execArgv: entry.execArgv,
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
