/**
 * The queue: several jobs run at most `maxParallel` at once (default one per core), the others
 * wait in order, and all finish.
 */
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import type { TrainResult } from '../../src/shared/contract';
import { memoryClient } from '../../src/shared/rpc-memory';
import { createService } from '../../src/main/service/service';
import { cleanup, fakeRun, Recorder, tempDir } from '../contract/helpers';
import path from 'node:path';

test('queued jobs run at most one per core', async () => {
  const dir = tempDir('lockstep-par-');
  const cores = availableParallelism();
  const service = await createService({ storeDir: path.join(dir, 'store') });
  const client = memoryClient(service);
  const rec = new Recorder(client);
  const running = new Set<string>();
  let peak = 0;
  client.on('job', (j) => {
    if (j.state === 'running' || j.state === 'paused') {
      running.add(j.id);
    } else {
      running.delete(j.id);
    }
    peak = Math.max(peak, running.size);
  });
  const n = cores + 2;
  const jobs = [];
  for (let i = 0; i < n; i++) {
    jobs.push(await client.startRun(fakeRun({ steps: 60, seed: 100 + i })));
  }
  assert.ok(
    jobs.slice(cores).every((j) => j.state === 'queued'),
    'jobs beyond the cores wait',
  );
  for (const j of jobs) {
    const r = (await rec.finished(j.id)).result as TrainResult;
    assert.equal(r.status, 'done');
  }
  assert.ok(peak <= cores, `peak ${peak} > ${cores} cores`);
  assert.ok(peak >= Math.min(2, cores), `jobs ran in parallel (peak ${peak})`);
  // started in submission order
  const startOrder = rec.events.job
    .filter((j) => j.state === 'running' && j.run === undefined)
    .map((j) => j.id);
  assert.deepEqual(
    startOrder,
    jobs.map((j) => j.id),
  );
  await service.close();
  cleanup(dir);
});
