/**
 * The parent port of a job process under plain Node: the child-process IPC channel of `proc`
 * (`process` in ./entry-node.ts). A lost parent — the channel closed, or a send that fails
 * because the parent is gone before Node has noticed the disconnect (EPIPE) — is delivered to
 * the job as a `stop`, so it writes a checkpoint at its current step before the process exits.
 * A failed send never throws or raises an unhandled 'error' event: that would end the process
 * before the checkpoint.
 */
import type { ParentPort } from './serve';
import type { FromJob, ToJob } from '../service/jobs/protocol';

/** What this module needs of a Node process with an IPC channel. */
export interface IpcProcess {
  readonly connected: boolean;
  send(
    message: unknown,
    sendHandle: undefined,
    options: undefined,
    callback: (error: Error | null) => void,
  ): boolean;
  on(event: 'message', listener: (message: ToJob) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
}

/** The job's port over `proc`'s IPC channel. */
export function nodeParentPort(proc: IpcProcess): ParentPort {
  let listener: ((m: ToJob) => void) | null = null;
  const parentLost = (): void => listener?.({ type: 'stop' });
  proc.on('message', (m) => listener?.(m));
  proc.on('disconnect', parentLost);
  return {
    post(m: FromJob) {
      if (proc.connected) {
        proc.send(m, undefined, undefined, (e) => {
          if (e !== null) {
            parentLost();
          }
        });
      }
    },
    onMessage(l) {
      listener = l;
    },
  };
}
