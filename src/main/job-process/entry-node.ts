/**
 * Entry of a job process under Node (forked by ./fork-node.ts; bundled as `job-node.js`): serves one job over
 * the child-process IPC channel. A lost parent (channel closed) stops the job, which writes a
 * checkpoint at its current step before the process exits.
 */
import { serveJob } from './serve';
import type { FromJob, ToJob } from '../service/jobs/protocol';

if (process.send === undefined) {
  process.stderr.write('lockstep job process: must be started with an IPC channel\n');
  process.exit(2);
}

let onMessage: ((m: ToJob) => void) | null = null;
process.on('message', (m: ToJob) => onMessage?.(m));
process.on('disconnect', () => onMessage?.({ type: 'stop' }));
serveJob({
  post: (m: FromJob) => {
    if (process.connected) {
      process.send?.(m);
    }
  },
  onMessage: (l) => {
    onMessage = l;
  },
});
