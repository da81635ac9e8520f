/**
 * Entry of a job process under Electron (an Electron `utilityProcess`, forked by the main
 * process through src/main/worker/electron-process.ts): serves one job over `parentPort`.
 */
import { serveJob } from './worker/host';
import type { FromJob, ToJob } from './service/jobs/protocol';

const port = process.parentPort;
serveJob({
  post: (m: FromJob) => port.postMessage(m),
  onMessage: (l) => port.on('message', (e) => l(e.data as ToJob)),
});
