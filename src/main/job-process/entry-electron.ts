/**
 * Entry of a job process under Electron (an Electron `utilityProcess` forked by the main process
 * through ./fork-electron.ts, bundled as out/main/job-process.js): serves one job over
 * `parentPort`.
 */
import { serveJob } from './serve';
import type { FromJob, ToJob } from '../service/jobs/protocol';

const port = process.parentPort;
serveJob({
  post: (m: FromJob) => port.postMessage(m),
  onMessage: (l) => port.on('message', (e) => l(e.data as ToJob)),
});
