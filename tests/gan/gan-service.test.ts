/**
 * The gan through the service contract (in-memory transport, jobs in-line): a start request with
 * `gan` and `shuffle` trains both networks, progress events carry both losses, the result has
 * dLoss and gLoss (and jobHistory keeps both curves for a re-attaching client), and `samples` returns 64 images of 784 bytes, the same on every call; a
 * non-gan checkpoint and a bad count are refused with BAD_INPUT.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TrainResult } from '../../src/shared/contract';
import { fakeRun, useInlineService } from '../contract/helpers';

const svc = useInlineService();

test('svc.service: a gan run reports both losses and its samples', async () => {
  const job = await svc.service.startRun(
    fakeRun({
      model: 'gan',
      hidden: [],
      gan: { noiseDims: 8, generator: [16], discriminator: [16] },
      shuffle: { kind: 'buffer', size: 1000 },
      optimizer: 'adam',
      lr: 0.001,
      dLr: 0.002,
      batchSize: 40,
      steps: 6,
      checkpointEvery: 3,
      evalEvery: 6,
    }),
  );
  const f = await svc.rec.finished(job.id);
  const r = f.result as TrainResult;
  assert.equal(r.step, 6);
  assert.ok(Number.isFinite(r.dLoss) && Number.isFinite(r.gLoss));
  const steps = svc.rec.of('progress', job.id).flatMap((p) => p.losses);
  assert.equal(steps.length, 6);
  assert.ok(steps.every((s) => typeof s.gLoss === 'number' && Number.isFinite(s.gLoss)));
  assert.equal(steps.at(-1)!.gLoss, r.gLoss);
  // a re-attaching svc.service (a reloaded page) gets both curves, exactly as progress carried them
  const h = await svc.service.jobHistory({ job: job.id });
  assert.deepEqual(h.losses, steps);
  const d = await svc.service.showCheckpoint({ ref: r.checkpoint });
  assert.equal(d.config.discriminatorOptimizer?.lr, 0.002);
  assert.equal(d.config.optimizer.lr, 0.001);
  assert.ok(d.tensors.some((t) => t.name === 'input/shuffle_buffer'));
  const g = await svc.service.samples({ ref: r.checkpoint });
  assert.equal(g.count, 64);
  assert.equal(Buffer.from(g.pixels, 'base64').length, 64 * 784);
  assert.equal((await svc.service.samples({ ref: r.checkpoint })).pixels, g.pixels);
  const mlp = await svc.service.startRun(fakeRun({ steps: 2, checkpointEvery: 2, evalEvery: 2 }));
  const m = (await svc.rec.finished(mlp.id)).result as TrainResult;
  await assert.rejects(svc.service.samples({ ref: m.checkpoint }), { code: 'BAD_INPUT' });
  await assert.rejects(svc.service.samples({ ref: r.checkpoint, count: 0 }), { code: 'BAD_INPUT' });
});
