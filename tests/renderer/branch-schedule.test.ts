/** The Branch/continue form's defaults come from the branch's own schedule (finding 28). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BranchInfo, CheckpointInfo } from '../../src/shared/contract';
import { branchSchedule } from '../../src/renderer/src/lib/branch-schedule';

function branch(steps: number[], evals: number[], baseStep: number | null = null): BranchInfo {
  const ck = (step: number): CheckpointInfo => ({
    id: String(step).padStart(64, '0'),
    parent: null,
    step,
    createdAt: '',
    ...(evals.includes(step) ? { eval: { test: { precision: 1, correct: 1, examples: 1 } } } : {}),
  });
  return {
    name: 'b',
    run: 'r',
    tip: '',
    base: null,
    baseStep,
    config: {} as BranchInfo['config'],
    status: 'done',
    createdAt: '',
    updatedAt: '',
    checkpoints: steps.map(ck).reverse(),
  };
}

test('intervals are the smallest inner gaps; the final step does not count', () => {
  // 600 steps, checkpoints every 100, evaluations every 200, then a continue to 650
  const b = branch([0, 100, 200, 300, 400, 500, 600, 650], [200, 400, 600, 650]);
  assert.deepEqual(branchSchedule(b), { checkpointEvery: 100, evalEvery: 200, tipStep: 650 });
});

test('a branch starts at its base step; one gap is the interval; no evals means unknown', () => {
  const b = branch([400, 600], [], 300);
  assert.deepEqual(branchSchedule(b), { checkpointEvery: 100, evalEvery: null, tipStep: 600 });
  assert.deepEqual(branchSchedule(branch([], [], 300)), {
    checkpointEvery: null,
    evalEvery: null,
    tipStep: 300,
  });
});
