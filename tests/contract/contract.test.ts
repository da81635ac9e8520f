/**
 * The contract over both message transports (in-memory pair and WebSocket): every method and
 * every event with real training on the fake dataset, error propagation (codes rebuilt on the
 * client) and cancellation. Jobs run in child processes, as in the app.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ERROR_CODES,
  EVENT_NAMES,
  METHOD_NAMES,
  ServiceError,
  type LockstepClient,
  type TrainResult,
} from '../../src/shared/contract';
import type { LockstepHost } from '../../src/main/service/service';
import {
  cleanup,
  fakeRun,
  Recorder,
  startService,
  tempDir,
  TRANSPORTS,
  type Connected,
} from './helpers';

/** Awaits a call that must fail, and returns its ServiceError. */
async function failure(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ServiceError, `expected a ServiceError, got ${String(e)}`);
    assert.ok(ERROR_CODES.includes(e.code));
    assert.ok(e.message.length > 0);
    return e;
  }
  assert.fail('the call succeeded');
}

for (const transport of TRANSPORTS) {
  describe(`contract over ${transport.name}`, () => {
    let dir: string;
    let service: LockstepHost;
    let conn: Connected;
    let client: LockstepClient;
    let rec: Recorder;
    let first: TrainResult;

    before(async () => {
      dir = tempDir();
      service = await startService(dir);
      conn = await transport.connect(service, dir);
      client = conn.client;
      rec = new Recorder(client);
    });

    after(async () => {
      rec.dispose();
      await conn.close();
      await service.close();
      cleanup(dir);
    });

    test('the client has every method of the contract', () => {
      for (const m of METHOD_NAMES) {
        assert.equal(typeof client[m], 'function', m);
      }
      assert.equal(typeof client.on, 'function');
    });

    test('storeInfo: the empty store, the backends and the version', async () => {
      const info = await client.storeInfo({});
      assert.equal(info.runs, 0);
      assert.equal(info.branches, 0);
      assert.match(info.version, /^\d+\.\d+\.\d+/);
      const names = info.backends.map((b) => b.name).sort();
      assert.deepEqual(names, ['cpu', 'tensorflow', 'wasm']);
      assert.equal(info.backends.find((b) => b.name === 'wasm')?.available, true);
      assert.ok(info.dir.endsWith('store'));
    });

    test('startRun: job, progress, metrics, checkpoint and finished events', async () => {
      const job = await client.startRun(fakeRun({ steps: 250, checkpointEvery: 100 }));
      assert.equal(job.kind, 'train');
      assert.ok(['queued', 'running'].includes(job.state));
      assert.equal(job.seed, 7);
      assert.equal(job.toStep, 250);
      const fin = await rec.finished(job.id);
      assert.equal(fin.error, undefined, JSON.stringify(fin.error));
      first = fin.result as TrainResult;
      assert.equal(first.status, 'done');
      assert.equal(first.step, 250);
      assert.equal(first.stateHash, first.checkpoint);
      assert.ok(first.eval.test !== undefined);

      const states = rec.of('job', job.id).map((j) => j.state);
      assert.ok(
        states.every((s) => ['queued', 'running', 'done'].includes(s)),
        states.join(),
      );
      assert.equal(states.at(-1), 'done');
      const last = rec.of('job', job.id).at(-1)!;
      assert.equal(last.branch, first.branch);
      assert.equal(last.run, first.run);

      // progress: every step exactly once, in order, batched (well under one event per step)
      const progress = rec.of('progress', job.id);
      const steps = progress.flatMap((p) => p.losses.map((l) => l.step));
      assert.deepEqual(
        steps,
        Array.from({ length: 250 }, (_, i) => i + 1),
      );
      assert.ok(progress.length < 100, `${progress.length} progress events for 250 steps`);
      assert.ok(progress.every((p) => p.toStep === 250 && Number.isFinite(p.stepsPerSecond)));
      assert.ok(progress.every((p) => p.losses.every((l) => Number.isFinite(l.loss))));

      const ckpts = rec.of('checkpoint', job.id);
      assert.deepEqual(
        ckpts.map((c) => c.step),
        [0, 100, 200, 250],
      );
      assert.ok(ckpts.every((c) => c.created && c.branch === first.branch));
      assert.equal(ckpts.at(-1)!.id, first.checkpoint);

      const metrics = rec.of('metrics', job.id);
      assert.deepEqual(
        metrics.map((m) => m.step),
        [100, 200, 250],
      );
      assert.ok(metrics.every((m) => m.eval.test !== undefined));

      const jobs = await client.listJobs({});
      assert.equal(jobs.find((j) => j.id === job.id)?.state, 'done');
    });

    test('listGraph and showCheckpoint describe the run', async () => {
      const graph = await client.listGraph({});
      assert.equal(graph.length, 1);
      const run = graph[0];
      assert.equal(run.id, first.run);
      assert.equal(run.seed, 7);
      assert.equal(run.seedSource, 'explicit');
      assert.equal(run.branches.length, 1);
      const branch = run.branches[0];
      assert.equal(branch.name, first.branch);
      assert.equal(branch.tip, first.checkpoint);
      assert.equal(branch.status, 'done');
      assert.deepEqual(
        branch.checkpoints.map((c) => c.step),
        [250, 200, 100, 0],
      );
      assert.deepEqual(branch.config.model, { kind: 'mlp', hidden: [16, 8] });

      const tip = await client.showCheckpoint({ ref: first.branch });
      assert.equal(tip.stateHash, first.checkpoint);
      assert.equal(tip.step, 250);
      assert.equal(tip.cursor, 250 * 32);
      assert.deepEqual(tip.branches, [first.branch]);
      const mid = await client.showCheckpoint({ ref: `${first.branch}@100` });
      assert.equal(mid.step, 100);
      const byPrefix = await client.showCheckpoint({ ref: first.checkpoint.slice(0, 12) });
      assert.equal(byPrefix.stateHash, first.checkpoint);
    });

    test('histograms: one per tensor, counts cover every element', async () => {
      const hs = await client.histograms({ ref: first.branch, bins: 10 });
      const detail = await client.showCheckpoint({ ref: first.branch });
      assert.deepEqual(
        hs.map((h) => h.name),
        detail.tensors.map((t) => t.name),
      );
      for (const h of hs) {
        const size = h.shape.reduce((a, b) => a * b, 1);
        assert.equal(h.counts.length, 10);
        assert.equal(h.edges.length, 11);
        assert.equal(
          h.counts.reduce((a, b) => a + b, 0),
          size,
          h.name,
        );
        assert.ok(h.min <= h.mean && h.mean <= h.max && h.std >= 0);
      }
    });

    test('continueRun: extends the branch; an lr change starts a new branch', async () => {
      const ext = await client.continueRun({ ref: first.branch, steps: 50 });
      assert.equal(ext.kind, 'continue');
      assert.equal(ext.fromStep, 250);
      assert.equal(ext.toStep, 300);
      const r1 = (await rec.finished(ext.id)).result as TrainResult;
      assert.equal(r1.branch, first.branch);
      assert.equal(r1.step, 300);

      const br = await client.continueRun({ ref: `${first.branch}@100`, steps: 20, lr: 0.05 });
      const fin = await rec.finished(br.id);
      const r2 = fin.result as TrainResult;
      assert.notEqual(r2.branch, first.branch);
      assert.equal(r2.step, 120);
      assert.ok(
        rec.of('notice', br.id).some((n) => n.message.includes('new branch')),
        'a notice names the new branch',
      );
      const graph = await client.listGraph({});
      const branch = graph[0].branches.find((b) => b.name === r2.branch)!;
      assert.equal(branch.baseStep, 100);
      assert.equal(branch.config.optimizer.lr, 0.05);
    });

    test('pause, resume and stop (cancellation writes a checkpoint)', async () => {
      const job = await client.startRun(fakeRun({ steps: 5000, seed: 11, checkpointEvery: 1000 }));
      await rec.until(
        () => rec.of('progress', job.id).find((p) => p.step >= 20),
        60_000,
        'progress',
      );
      const paused = await client.pauseJob({ job: job.id });
      assert.equal(paused.state, 'paused');
      await new Promise((r) => setTimeout(r, 300));
      const stepAt = (): number => rec.of('progress', job.id).at(-1)?.step ?? 0;
      const s1 = stepAt();
      await new Promise((r) => setTimeout(r, 400));
      assert.ok(stepAt() - s1 <= 1, `no steps while paused (${s1} → ${stepAt()})`);
      assert.equal((await client.listJobs({})).find((j) => j.id === job.id)?.state, 'paused');
      assert.equal((await client.resumeJob({ job: job.id })).state, 'running');
      await rec.until(
        () => rec.of('progress', job.id).find((p) => p.step >= s1 + 20),
        60_000,
        'progress after resume',
      );
      await client.stopJob({ job: job.id });
      const fin = await rec.finished(job.id);
      const r = fin.result as TrainResult;
      assert.equal(r.status, 'stopped');
      assert.ok(r.step > s1 && r.step < 5000, `stopped at ${r.step}`);
      const ck = await client.showCheckpoint({ ref: r.checkpoint });
      assert.equal(ck.step, r.step);
      assert.equal(rec.of('job', job.id).at(-1)?.state, 'stopped');
      const graph = await client.listGraph({});
      const branch = graph.flatMap((g) => g.branches).find((b) => b.name === r.branch)!;
      assert.equal(branch.status, 'stopped');
      assert.equal(branch.tip, r.checkpoint);
      // stopping a finished job changes nothing
      assert.equal((await client.stopJob({ job: job.id })).state, 'stopped');
    });

    test('errors cross the wire with their codes', async () => {
      const badRef = await failure(client.showCheckpoint({ ref: 'no-such-branch' }));
      assert.equal(badRef.code, 'BAD_REF');
      assert.match(badRef.message, /no-such-branch/);
      assert.equal((await failure(client.histograms({ ref: 'deadbeef00' }))).code, 'BAD_REF');
      assert.equal(
        (await failure(client.continueRun({ ref: 'no-such-branch', steps: 5 }))).code,
        'BAD_REF',
      );
      assert.equal(
        (await failure(client.startRun(fakeRun({ branch: 'bad..name' })))).code,
        'BAD_REF',
      );

      const bad = await failure(client.startRun({ ...fakeRun(), steps: -1 }));
      assert.equal(bad.code, 'BAD_INPUT');
      assert.match(bad.message, /steps/);
      const extra = await failure(
        client.startRun({ ...fakeRun(), evil: true } as unknown as ReturnType<typeof fakeRun>),
      );
      assert.equal(extra.code, 'BAD_INPUT');
      assert.equal(
        (await failure(client.startRun(fakeRun({ batchSize: 5000 })))).code,
        'BAD_INPUT',
        'batch larger than the fake dataset',
      );
      assert.equal(
        (await failure(client.listGraph({ x: 1 } as unknown as Record<string, never>))).code,
        'BAD_INPUT',
      );
      assert.equal((await failure(client.stopJob({ job: 'job-nope' }))).code, 'NOT_FOUND');
      const done = (await client.listJobs({})).find((j) => j.state === 'done')!;
      assert.equal((await failure(client.pauseJob({ job: done.id }))).code, 'BAD_INPUT');
      assert.equal((await failure(client.resumeJob({ job: done.id }))).code, 'BAD_INPUT');

      const unknown = await conn.transport.call('dropDatabase' as never, {});
      assert.equal(unknown.ok, false);
      assert.equal(!unknown.ok && unknown.error.code, 'UNKNOWN_METHOD');
      const polluted = await conn.transport.call(
        'showCheckpoint',
        JSON.parse('{"ref":"x","__proto__":{"polluted":1}}'),
      );
      assert.equal(!polluted.ok && polluted.error.code, 'BAD_INPUT');
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });

    test('a queued job can be stopped before it starts', async () => {
      // two long jobs fill both slots, the third waits
      const a = await client.startRun(
        fakeRun({ steps: 100000, seed: 21, checkpointEvery: 100000 }),
      );
      const b = await client.startRun(
        fakeRun({ steps: 100000, seed: 22, checkpointEvery: 100000 }),
      );
      const c = await client.startRun(fakeRun({ steps: 10, seed: 23 }));
      assert.equal(c.state, 'queued');
      assert.equal((await client.stopJob({ job: c.id })).state, 'stopped');
      const fin = await rec.finished(c.id);
      assert.equal(fin.error?.code, 'CANCELLED');
      await client.stopJob({ job: a.id });
      await client.stopJob({ job: b.id });
      for (const j of [a, b]) {
        const r = (await rec.finished(j.id)).result as TrainResult;
        assert.equal(r.status, 'stopped');
      }
    });

    test('verify, compare, trace, study, export and import: each finished result is tagged with its kind', async () => {
      const ref = first.branch;
      const rep = await client.compare({ a: ref, b: ref });
      assert.equal(rep.identical, true);
      const t = await client.trace({ ref, from: 1, to: 10 });
      assert.ok(t.steps.length > 0);

      const verify = await rec.finished((await client.verify({ ref })).id);
      assert.equal(verify.error, undefined, JSON.stringify(verify.error));
      assert.ok(verify.kind === 'verify' && verify.result?.verified === true);
      assert.ok(rec.of('work', verify.job).length > 0, 'verify reports work events');

      const train = { ...fakeRun({ steps: 20 }) } as Partial<ReturnType<typeof fakeRun>>;
      delete train.seed;
      delete train.branch;
      const study = await rec.finished(
        (await client.study({ runs: 2, train: train as never })).id,
        300_000,
      );
      assert.equal(study.error, undefined, JSON.stringify(study.error));
      assert.ok(study.kind === 'study' && study.result?.runs === 2);
      // the stored study is listed and reopens as it was reported
      const report = study.result;
      const listed = (await client.listStudies({})).find((st) => st.id === report.id);
      assert.equal(listed?.state, 'collected');
      assert.equal(listed?.executor, 'inprocess');
      assert.equal(listed?.hasReport, true);
      const opened = await client.openStudy({ id: report.id });
      assert.deepEqual(opened, report);
      const missing = await failure(client.openStudy({ id: 'study-none' }));
      assert.equal(missing.code, 'NOT_FOUND');

      const file = `${dir}/out.lockstep`;
      const exported = await rec.finished((await client.exportBundle({ ref, path: file })).id);
      assert.equal(exported.error, undefined, JSON.stringify(exported.error));
      assert.ok(exported.kind === 'export' && exported.result !== undefined);
      assert.ok(exported.result.bytes > 0 && exported.result.path === file);

      const imported = await rec.finished((await client.importBundle({ path: file })).id);
      assert.equal(imported.error, undefined, JSON.stringify(imported.error));
      assert.ok(imported.kind === 'import' && Array.isArray(imported.result?.existing));

      assert.equal(
        (await failure(client.exportBundle({ ref, path: 'relative.lockstep' }))).code,
        'BAD_INPUT',
      );
    });

    test('every event kind was delivered', () => {
      const seen = EVENT_NAMES.filter((e) => rec.events[e].length > 0);
      assert.deepEqual(
        EVENT_NAMES.filter((e) => !seen.includes(e)),
        [],
        `seen: ${seen.join(', ')}`,
      );
    });
  });
}
