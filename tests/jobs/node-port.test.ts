/**
 * The job process's parent port under Node: a parent that dies is a `stop` for the job, whether
 * Node reports it as a closed channel or as a failed write (EPIPE) that comes first. The fake
 * process below behaves as Node's `process` does: a send error goes to the callback when there is
 * one, else it is emitted as 'error' (which, unhandled, ends the process — the job dies before
 * its checkpoint, the bug this guards against: tests/jobs/stop-quit.test.ts failed 1 run in 3).
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { nodeParentPort, type IpcProcess } from '../../src/main/job-process/node-port';
import type { ToJob } from '../../src/main/service/jobs/protocol';

class FakeProcess extends EventEmitter {
  connected = true;
  parentAlive = true;
  sent: unknown[] = [];
  send(m: unknown, _h?: undefined, _o?: undefined, cb?: (e: Error | null) => void): boolean {
    const error = this.parentAlive
      ? null
      : Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    if (error === null) {
      this.sent.push(m);
    }
    queueMicrotask(() => {
      if (cb !== undefined) {
        cb(error);
      } else if (error !== null) {
        this.emit('error', error);
      }
    });
    return error === null;
  }
}

const flush = () => new Promise((r) => setImmediate(r));

test('a send that fails because the parent died stops the job, and nothing throws', async () => {
  const proc = new FakeProcess();
  const port = nodeParentPort(proc as unknown as IpcProcess);
  const got: ToJob[] = [];
  port.onMessage((m) => got.push(m));
  port.post({ type: 'ready' });
  await flush();
  assert.deepEqual(proc.sent, [{ type: 'ready' }]);
  assert.deepEqual(got, []);
  proc.parentAlive = false; // killed; Node has not yet noticed the channel is closed
  port.post({ type: 'ready' });
  await flush();
  assert.deepEqual(got, [{ type: 'stop' }]);
});

test('a closed channel stops the job; messages from the parent reach it', async () => {
  const proc = new FakeProcess();
  const port = nodeParentPort(proc as unknown as IpcProcess);
  const got: ToJob[] = [];
  port.onMessage((m) => got.push(m));
  proc.emit('message', { type: 'pause' });
  proc.connected = false;
  proc.emit('disconnect');
  port.post({ type: 'ready' }); // not sent: the channel is closed
  await flush();
  assert.deepEqual(got, [{ type: 'pause' }, { type: 'stop' }]);
  assert.deepEqual(proc.sent, []);
});
