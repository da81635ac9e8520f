/**
 * Entry of a job process under Node (forked by ./fork-node.ts; bundled as `job-node.js`): serves
 * one job over the child-process IPC channel (./node-port.ts: a lost parent stops the job, which
 * writes a checkpoint at its current step before the process exits).
 */
import { nodeParentPort, type IpcProcess } from './node-port';
import { serveJob } from './serve';

if (process.send === undefined) {
  process.stderr.write('lockstep job process: must be started with an IPC channel\n');
  process.exit(2);
}

serveJob(nodeParentPort(process as unknown as IpcProcess));
