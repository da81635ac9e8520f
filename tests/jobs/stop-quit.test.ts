/**
 * Stop and quit, in job processes: stopping a job at a random step writes a checkpoint at the
 * step it stopped on, and continuing from there to the target gives the same state hash as an
 * uninterrupted run; closing the service mid-training (quitting the app) leaves fsck clean and
 * the run continues bit-exactly; killing the service's process outright does too (the job
 * process sees its parent vanish and checkpoints).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import type { TrainResult } from '../../src/shared/contract';
import { connectWebSocket, type WebSocketConstructor } from '../../src/shared/rpc-websocket';
import { memoryClient } from '../../src/shared/rpc-memory';
import { Store } from '../../src/main/store/store';
import {
  cleanup,
  fakeRun,
  Recorder,
  startService,
  stubRenderer,
  tempDir,
} from '../contract/helpers';

const TARGET = 600;
const RUN = fakeRun({ steps: TARGET, seed: 5, checkpointEvery: 200, evalEvery: 200 });

/** Trains RUN uninterrupted in its own store and returns the final hash. */
async function reference(dir: string): Promise<string> {
  const service = await startService(dir, { runner: 'inline' });
  const client = memoryClient(service);
  const rec = new Recorder(client);
  const job = await client.startRun(RUN);
  const r = (await rec.finished(job.id)).result as TrainResult;
  await service.close();
  assert.equal(r.step, TARGET);
  return r.stateHash;
}

describe('stop and quit', () => {
  let root: string;
  let expected: string;

  before(async () => {
    root = tempDir('lockstep-stop-');
    expected = await reference(path.join(root, 'ref'));
  });

  after(() => cleanup(root));

  test('stop at a random step: checkpoint there, continue → same hash as uninterrupted', async () => {
    const dir = path.join(root, 'stop');
    const service = await startService(dir);
    const client = memoryClient(service);
    const rec = new Recorder(client);
    const k = randomInt(5, TARGET - 100);
    const job = await client.startRun(RUN);
    await rec.until(() => rec.of('progress', job.id).find((p) => p.step >= k), 60_000, `step ${k}`);
    await client.stopJob({ job: job.id });
    const stopped = (await rec.finished(job.id)).result as TrainResult;
    assert.equal(stopped.status, 'stopped');
    assert.ok(
      stopped.step >= k && stopped.step < TARGET,
      `asked at ${k}, stopped at ${stopped.step}`,
    );
    const ck = await client.showCheckpoint({ ref: stopped.checkpoint });
    assert.equal(ck.step, stopped.step, 'the checkpoint is at the step it stopped on');
    const last = rec.of('checkpoint', job.id).at(-1)!;
    assert.equal(last.step, stopped.step);

    const cont = await client.continueRun({
      ref: stopped.branch,
      steps: TARGET - stopped.step,
      checkpointEvery: 200,
      evalEvery: 200,
    });
    const done = (await rec.finished(cont.id)).result as TrainResult;
    assert.equal(done.step, TARGET);
    assert.equal(done.stateHash, expected, `stopped at ${stopped.step}: continuation is bit-exact`);
    await service.close();
    assert.equal((await (await Store.open(path.join(dir, 'store'))).fsck()).ok, true);
  });

  test('quit mid-training (service.close): fsck clean, the run continues bit-exactly', async () => {
    const dir = path.join(root, 'quit');
    const service = await startService(dir);
    const client = memoryClient(service);
    const rec = new Recorder(client);
    const job = await client.startRun(RUN);
    const k = randomInt(5, TARGET - 100);
    await rec.until(() => rec.of('progress', job.id).find((p) => p.step >= k), 60_000, `step ${k}`);
    await service.close();
    const stopped = (await rec.finished(job.id, 5000)).result as TrainResult;
    assert.equal(stopped.status, 'stopped');

    const store = await Store.open(path.join(dir, 'store'));
    const report = await store.fsck();
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal((await store.getNode(await store.resolveRef(stopped.branch))).step, stopped.step);

    const again = await startService(dir);
    const c2 = memoryClient(again);
    const rec2 = new Recorder(c2);
    const cont = await c2.continueRun({
      ref: stopped.branch,
      steps: TARGET - stopped.step,
      checkpointEvery: 200,
      evalEvery: 200,
    });
    const done = (await rec2.finished(cont.id)).result as TrainResult;
    assert.equal(done.stateHash, expected);
    await again.close();
  });

  test('the service process killed mid-training: the job checkpoints, fsck clean, bit-exact', async () => {
    const dir = path.join(root, 'kill');
    const storeDir = path.join(dir, 'store');
    const bin = path.join(import.meta.dirname, '..', '..', 'bin', 'lockstep.mjs');
    const ui = stubRenderer(dir);
    const proc = spawn(
      process.execPath,
      [bin, '--store', storeDir, '--json', 'serve', '--port', '0', '--ui', ui],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    proc.stderr.resume();
    const info = await new Promise<{ port: number; token: string }>((resolve, reject) => {
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) {
          resolve(JSON.parse(line) as { port: number; token: string });
        }
      });
      proc.on('exit', () => reject(new Error(`serve exited: ${out}`)));
    });
    const client = await connectWebSocket(
      `ws://127.0.0.1:${info.port}/ws?token=${info.token}`,
      WebSocket as unknown as WebSocketConstructor,
    );
    const rec = new Recorder(client);
    const job = await client.startRun(RUN);
    const k = randomInt(5, TARGET - 100);
    await rec.until(() => rec.of('progress', job.id).find((p) => p.step >= k), 60_000, `step ${k}`);
    const closed = new Promise((r) => proc.on('exit', r));
    proc.kill('SIGKILL');
    await closed;
    // the orphaned job process checkpoints and exits; wait for the branch to leave 'running'
    const store = await Store.open(storeDir);
    const deadline = Date.now() + 60_000;
    let branch = (await store.listBranches())[0];
    while (branch.status === 'running' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      branch = (await store.listBranches())[0];
    }
    assert.equal(branch.status, 'stopped');
    const report = await store.fsck();
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    const tipStep = (await store.getNode(branch.tip)).step;
    assert.ok(tipStep >= k, `checkpoint at ${tipStep} (asked to die at ≥ ${k})`);

    const again = await startService(dir);
    const c2 = memoryClient(again);
    const rec2 = new Recorder(c2);
    const cont = await c2.continueRun({
      ref: branch.name,
      steps: TARGET - tipStep,
      checkpointEvery: 200,
      evalEvery: 200,
    });
    const done = (await rec2.finished(cont.id)).result as TrainResult;
    assert.equal(done.stateHash, expected);
    await again.close();
  });
});
