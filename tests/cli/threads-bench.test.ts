/**
 * The bench's "threads" section (src/main/bench/threads-speed.ts) and its turns on 1 and 2
 * threads in one process (src/main/bench/alternate.ts): the turns time real steps of one trainer
 * whose bits are those of a run on one thread throughout; the section (--quick: 3 pairs per model,
 * real bench workers) gives each model's one- and two-thread ms/step, the speed-up and its goal.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alternateThreads } from '../../src/main/bench/alternate';
import { THREADS_GOAL, threadsSection } from '../../src/main/bench/threads-speed';
import { setKernelThreads } from '../../src/main/engine/kernels/threads';
import { stateHash } from '../../src/main/engine/state';
import { Trainer } from '../../src/main/engine/trainer';
import { ROOT } from '../helpers/cli';
import { fakeConfig } from '../helpers/engine';

test('turns on 1 and 2 threads time real steps, and the bits are those of one thread', async () => {
  const config = fakeConfig({ model: { kind: 'lenet5', hidden: [] }, batchSize: 9 });
  const t = await Trainer.create(config);
  let turns: { one: number[]; many: number[] };
  let alternated: string;
  try {
    turns = await alternateThreads(t, 2, 2, 3, 1);
    alternated = stateHash(t.snapshot());
  } finally {
    t.dispose();
  }
  assert.equal(turns.one.length, 2);
  assert.equal(turns.many.length, 2);
  assert.ok([...turns.one, ...turns.many].every((ms) => ms > 0 && ms < 60_000));
  // each turn: 1 settling step, 1 more, then 3 timed: 2 pairs × 2 turns × 5 steps
  setKernelThreads(1);
  const u = await Trainer.create(config);
  try {
    for (let i = 0; i < 20; i++) {
      u.trainStep();
    }
    assert.equal(alternated, stateHash(u.snapshot()));
  } finally {
    u.dispose();
  }
});

test('the threads section: each model on 1 and 2 threads, the speed-up and its goal', async () => {
  const s = await threadsSection({ quick: true, peer: false, repoRoot: ROOT, log: () => {} });
  const goals = s.goals ?? [];
  for (const model of ['mlp 128,32 sgd, batch 100', 'lenet5, batch 64']) {
    const row = (what: string) => s.rows.find((r) => r.label === `${model}, ${what}`);
    const [one, two, speedup] = [row('1 thread'), row('2 threads'), row('speed-up')];
    assert.ok(one && two && speedup, `${model}: ${s.rows.map((r) => r.label).join('; ')}`);
    assert.ok(one.value > 0 && two.value > 0, `${model}: ${one.value}, ${two.value}`);
    assert.match(one.note ?? '', /^median of 3 turns$/);
    // (the median of the pairs' ratios: real, and within what 2 threads can do)
    assert.ok(speedup.value > 0.2 && speedup.value < 4, `${model}: ${speedup.value}`);
    assert.match(speedup.note ?? '', /^median of the 3 pairs' ratios \(quartiles [0-9.]+–[0-9.]+\)/); // prettier-ignore
    const goal = goals.find((g) => g.goal.endsWith(`${model} (speed-up; higher is better)`));
    assert.ok(goal, goals.map((g) => g.goal).join('; '));
    assert.equal(goal.value, speedup.value);
    assert.equal(goal.limit, THREADS_GOAL);
    assert.equal(goal.ok, speedup.value >= THREADS_GOAL);
  }
});
