/**
 * Events declared once: the events train.ts emits are the contract's JobEvents in their final
 * shape, and the job manager hands them to listeners unchanged with only the job id added.
 * - a new run says `started` before its step-0 checkpoint (no buffering needed downstream);
 * - every checkpoint names its branch, as train.ts knows it;
 * - progress carries every step exactly once, in order (one event per step when asked);
 * - the manager's ServiceEvents equal the JobEvents plus `job`; `finished` is tagged by kind.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type {
  JobEvent,
  JobInfo,
  JobOutcome,
  ServiceEvents,
  TrainResult,
} from '../../src/shared/contract';
import { Emitter } from '../../src/shared/emitter';
import { JobManager } from '../../src/main/service/jobs/manager';
import type { JobReturn } from '../../src/main/service/jobs/protocol';
import type { JobRunner } from '../../src/main/service/jobs/runner';
import { continueFrom, startRun } from '../../src/main/service/train';
import type { Store } from '../../src/main/store/store';
import { fakeConfig } from '../helpers/fixtures';
import { tempStore } from '../helpers/service';

let store: Store;
let done: () => Promise<void>;
before(async () => {
  ({ store, done } = await tempStore());
});
after(() => done());

test('a new run: started comes first, then the step-0 checkpoint with its branch; every step once', async () => {
  const events: JobEvent[] = [];
  const r = await startRun(
    store,
    { config: fakeConfig(), steps: 30, checkpointEvery: 10, evalEvery: 15, branch: 'ev' },
    { emit: (e) => events.push(e), progressEveryMs: 0 },
  );
  const training = events.filter((e) => e.type !== 'notice');
  assert.deepEqual(training[0], {
    type: 'started',
    run: r.run,
    branch: 'ev',
    seed: 7,
    fromStep: 0,
    toStep: 30,
    backend: 'wasm',
  });
  assert.equal(training[1].type, 'checkpoint');
  assert.deepEqual(
    events.flatMap((e) => (e.type === 'checkpoint' ? [[e.step, e.branch, e.created]] : [])),
    [
      [0, 'ev', true],
      [10, 'ev', true],
      [20, 'ev', true],
      [30, 'ev', true],
    ],
  );
  const progress = events.flatMap((e) => (e.type === 'progress' ? [e] : []));
  assert.equal(progress.length, 30, 'one progress event per step with progressEveryMs 0');
  assert.deepEqual(
    progress.flatMap((p) => p.losses.map((l) => l.step)),
    Array.from({ length: 30 }, (_, i) => i + 1),
  );
  assert.ok(progress.every((p) => p.toStep === 30 && p.losses.length === 1));
  assert.deepEqual(
    events.flatMap((e) => (e.type === 'metrics' ? [e.step] : [])),
    [15, 30],
  );
  // a step's progress goes out before the checkpoint or evaluation made after it
  const at = (pred: (e: JobEvent) => boolean): number => events.findIndex(pred);
  assert.ok(
    at((e) => e.type === 'progress' && e.step === 10) <
      at((e) => e.type === 'checkpoint' && e.step === 10),
  );
});

test('a continuation says started (from its step) before anything it trains', async () => {
  const events: JobEvent[] = [];
  const r = await continueFrom(
    store,
    { from: 'ev', steps: 5, lr: 0.1, branch: 'ev-lr', checkpointEvery: 100 },
    { emit: (e) => events.push(e) },
  );
  const first = events.findIndex((e) => e.type !== 'notice');
  assert.deepEqual(events[first], {
    type: 'started',
    run: r.run,
    branch: 'ev-lr',
    seed: 7,
    fromStep: 30,
    toStep: 35,
    backend: 'wasm',
  });
  assert.ok(events.some((e) => e.type === 'notice' && /new branch 'ev-lr'/.test(e.message)));
  assert.deepEqual(
    events.flatMap((e) => (e.type === 'checkpoint' ? [[e.step, e.branch]] : [])),
    [[35, 'ev-lr']],
  );
  assert.deepEqual(
    events.flatMap((e) => (e.type === 'progress' ? e.losses.map((l) => l.step) : [])),
    [31, 32, 33, 34, 35],
  );
});

test('the manager passes job events through unchanged (plus the job id); finished is tagged', async () => {
  const script: JobEvent[] = [
    { type: 'notice', message: 'hello' },
    { type: 'started', run: 'r1', branch: 'b1', seed: 3, fromStep: 0, toStep: 4, backend: 'cpu' },
    { type: 'checkpoint', id: 'c0', step: 0, branch: 'b1', created: true },
    { type: 'progress', step: 2, toStep: 4, stepsPerSecond: 5, losses: [{ step: 1, loss: 1 }] },
    { type: 'metrics', step: 2, eval: { test: { precision: 0.5, correct: 1, examples: 2 } } },
    { type: 'work', done: 1, total: 2, label: 'x' },
  ];
  const result: TrainResult = {
    run: 'r1',
    branch: 'b1',
    checkpoint: 'c4',
    step: 4,
    stateHash: 'c4',
    seed: 3,
    backend: 'cpu',
    loss: 0.5,
    msPerStep: 1,
    eval: {},
    status: 'done',
    reproduced: 0,
    created: 2,
  };
  const runner: JobRunner = {
    start(_spec, onEvent) {
      const outcome: JobReturn = { kind: 'train', result };
      const run = async (): Promise<JobReturn> => {
        await new Promise((r) => setImmediate(r));
        for (const e of script) {
          onEvent(e);
        }
        return outcome;
      };
      return { pause: async () => {}, resume() {}, stop() {}, kill() {}, done: run() };
    },
  };
  const events = new Emitter<ServiceEvents>();
  const seen: { name: string; payload: unknown }[] = [];
  for (const name of [
    'job',
    'progress',
    'metrics',
    'checkpoint',
    'work',
    'notice',
    'finished',
  ] as const) {
    events.on(name, (payload) => seen.push({ name, payload }));
  }
  const manager = new JobManager(runner, 1, events);
  const info = manager.submit('train', 'scripted', {
    kind: 'train',
    storeDir: '/nonexistent',
    req: { config: fakeConfig(), steps: 4 },
  });
  const finished = await new Promise<ServiceEvents['finished']>((resolve) =>
    events.on('finished', resolve),
  );
  const job = info.id;
  const passed = seen.filter((s) => s.name !== 'job' && s.name !== 'finished');
  assert.deepEqual(
    passed,
    script
      .filter((e) => e.type !== 'started')
      .map(({ type, ...payload }) => ({ name: type, payload: { job, ...payload } })),
  );
  // `started` became the job's info, before its step-0 checkpoint reached anyone
  const startedAt = seen.findIndex(
    (s) => s.name === 'job' && (s.payload as JobInfo).branch === 'b1',
  );
  const checkpointAt = seen.findIndex((s) => s.name === 'checkpoint');
  assert.ok(startedAt >= 0 && startedAt < checkpointAt, `${startedAt} < ${checkpointAt}`);
  const startedInfo = seen[startedAt].payload as JobInfo;
  assert.deepEqual(
    [startedInfo.run, startedInfo.seed, startedInfo.fromStep, startedInfo.toStep],
    ['r1', 3, 0, 4],
  );
  const tagged: JobOutcome & { job: string } = { job, kind: 'train', result };
  assert.deepEqual(finished, tagged);
  assert.ok(finished.kind === 'train' && finished.result?.status === 'done');
  assert.equal(manager.get(job).state, 'done');
});
