/**
 * The body of a job process (Node child process or Electron utility process): says `ready`,
 * runs the one job it is sent, relays its events, answers pause / resume / stop, and ends with
 * `done` or `failed`. The parent ends the process after the last message.
 */
import { toWireError } from '../../shared/errors';
import { executeJob } from '../service/jobs/execute';
import { JobSwitch } from '../service/jobs/switch';
import type { FromJob, ToJob } from '../service/jobs/protocol';

/** How a job process talks to its parent. */
export interface ParentPort {
  post(message: FromJob): void;
  onMessage(listener: (message: ToJob) => void): void;
}

/** Serves one job over `port`. */
export function serveJob(port: ParentPort): void {
  const sw = new JobSwitch(() => port.post({ type: 'paused' }));
  let started = false;
  port.onMessage((msg) => {
    switch (msg.type) {
      case 'run':
        if (started) {
          return;
        }
        started = true;
        executeJob(msg.spec, {
          signal: sw.signal,
          gate: (beforeWait) => sw.gate(beforeWait),
          emit: (event) => port.post({ type: 'event', event }),
        }).then(
          (result) => port.post({ type: 'done', result }),
          (e: unknown) => port.post({ type: 'failed', error: toWireError(e) }),
        );
        return;
      case 'pause':
        sw.pause();
        return;
      case 'resume':
        sw.resume();
        return;
      case 'stop':
        sw.stop();
        return;
    }
  });
  port.post({ type: 'ready' });
}
