/**
 * The two service methods behind the GUI's re-attach and pictures: `jobHistory` returns what a
 * job reported so far (the same losses, evaluations and checkpoints its events carried, while it
 * runs and after it ends), and `predictions` computes a checkpoint's confusion matrix on the test
 * split in the engine, agreeing with the recorded test precision. Real training on fake data.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TrainResult } from '../../src/shared/contract';
import { JobRecord, MAX_LOSS_POINTS } from '../../src/main/service/jobs/history';
import { fakeRun, useInlineService } from '../contract/helpers';

const svc = useInlineService();

test('jobHistory: mid-run and at the end it holds exactly what the events carried', async () => {
  const job = await svc.service.startRun(
    fakeRun({ steps: 3000, checkpointEvery: 500, evalEvery: 500 }),
  );
  await svc.rec.until(() => (svc.rec.of('checkpoint', job.id).length >= 2 ? true : undefined));
  await svc.service.pauseJob({ job: job.id });
  const mid = await svc.service.jobHistory({ job: job.id });
  assert.equal(mid.info.state, 'paused');
  const streamed = svc.rec.of('progress', job.id).flatMap((p) => p.losses);
  assert.ok(mid.losses.length > 0 && mid.losses.length <= streamed.length + 1);
  assert.deepEqual(
    mid.losses,
    streamed.slice(0, mid.losses.length),
    'losses so far, in order, from step 1',
  );
  assert.equal(mid.losses[0].step, 1);
  assert.ok(mid.checkpoints.length >= 2);
  assert.deepEqual(
    mid.checkpoints.map((c) => c.id),
    svc.rec
      .of('checkpoint', job.id)
      .map((c) => c.id)
      .slice(0, mid.checkpoints.length),
  );
  assert.equal(mid.finished, undefined);
  await svc.service.resumeJob({ job: job.id });
  const end = await svc.rec.finished(job.id);
  const done = await svc.service.jobHistory({ job: job.id });
  const all = svc.rec.of('progress', job.id).flatMap((p) => p.losses);
  assert.deepEqual(done.losses, all);
  assert.equal(done.losses.at(-1)?.step, 3000);
  assert.deepEqual(
    done.evals,
    svc.rec.of('metrics', job.id).map((m) => ({ step: m.step, eval: m.eval })),
  );
  assert.equal(done.checkpoints.length, svc.rec.of('checkpoint', job.id).length);
  assert.deepEqual(done.finished, end);
  assert.equal(done.info.state, 'done');
});

test('jobHistory of an unknown job is NOT_FOUND', async () => {
  await assert.rejects(svc.service.jobHistory({ job: 'job-nope' }), { code: 'NOT_FOUND' });
});

test('a long job keeps a bounded curve that spans it all', () => {
  const r = new JobRecord();
  const n = MAX_LOSS_POINTS * 5 + 3;
  for (let s = 1; s <= n; s += 100) {
    const batch = [];
    for (let k = s; k < s + 100 && k <= n; k++) {
      batch.push({ step: k, loss: 1 / k });
    }
    r.addLosses(batch);
  }
  const v = r.view({ id: 'j', kind: 'train', state: 'running', label: 'x', createdAt: '' });
  assert.ok(v.losses.length <= MAX_LOSS_POINTS + 1, `${v.losses.length} points`);
  assert.ok(v.losses.length >= MAX_LOSS_POINTS / 2);
  assert.equal(v.losses[0].step, 1);
  assert.equal(v.losses.at(-1)?.step, n);
  for (let i = 1; i < v.losses.length; i++) {
    assert.ok(v.losses[i].step > v.losses[i - 1].step);
  }
});

test('predictions: the confusion matrix agrees with the recorded test precision', async () => {
  const job = await svc.service.startRun(
    fakeRun({ steps: 30, checkpointEvery: 30, evalEvery: 30 }),
  );
  const f = await svc.rec.finished(job.id);
  const r = f.result as TrainResult;
  const p = await svc.service.predictions({ ref: r.checkpoint, limit: 12 });
  assert.equal(p.checkpoint, r.checkpoint);
  assert.equal(p.step, 30);
  assert.equal(p.matrix.length, 10);
  assert.deepEqual(p.imageShape, [28, 28, 1]);
  const total = p.matrix.flat().reduce((a, b) => a + b, 0);
  assert.equal(total, p.examples);
  assert.equal(p.examples, r.eval.test?.examples);
  assert.equal(p.correct, r.eval.test?.correct);
  assert.equal(
    p.correct,
    p.matrix.reduce((a, row, i) => a + row[i], 0),
  );
  assert.equal(p.samples.length, 12);
  const firstRight = p.samples.findIndex((s) => s.label === s.prediction);
  const lastWrong = p.samples.findLastIndex((s) => s.label !== s.prediction);
  assert.ok(firstRight === -1 || lastWrong < firstRight, 'misclassified first');
  for (const s of p.samples) {
    assert.equal(Buffer.from(s.pixels, 'base64').length, 784);
  }
  await assert.rejects(svc.service.predictions({ ref: 'deadbeef00' }), { code: 'BAD_REF' });
});

test('a thinned gan curve keeps the generator loss of each kept point, and no gLoss key elsewhere', () => {
  const r = new JobRecord();
  const n = MAX_LOSS_POINTS * 2 + 7;
  for (let s = 1; s <= n; s += 500) {
    const batch = [];
    for (let k = s; k < s + 500 && k <= n; k++) {
      batch.push({ step: k, loss: 1 / k, gLoss: 2 / k });
    }
    r.addLosses(batch);
  }
  r.addLosses([{ step: n + 1, loss: 0.5 }]);
  const v = r.view({ id: 'j', kind: 'train', state: 'running', label: 'x', createdAt: '' });
  assert.ok(v.losses.length < n / 2, `${v.losses.length} points: thinned`);
  for (const p of v.losses.slice(0, -1)) {
    assert.equal(p.gLoss, 2 / p.step, `step ${p.step}`);
  }
  assert.deepEqual(v.losses.at(-1), { step: n + 1, loss: 0.5 });
});
