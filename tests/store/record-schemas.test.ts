/**
 * The record schemas (src/shared/record-schemas.ts, built with zod/mini) name what is wrong with a
 * record in classic zod's English messages: the words `fsck`, a refused import and a damaged
 * record's error show a user. zod/mini carries no messages of its own until a locale is set.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  branchSchema,
  nodeSchema,
  recordIssues,
  runSchema,
  stateCountersSchema,
} from '../../src/shared/record-schemas';

const issues = (
  schema: { safeParse(v: unknown): { success: boolean; error?: unknown } },
  v: unknown,
) => {
  // prettier-ignore
  const r = schema.safeParse(v);
  assert.equal(r.success, false);
  return recordIssues(r.error as Parameters<typeof recordIssues>[0]);
};

const config = {
  dataset: 'mnist',
  model: { kind: 'mlp', hidden: [128] },
  optimizer: { kind: 'sgd', lr: 0.1 },
  batchSize: 100,
  seed: 4,
  backend: 'wasm',
};

test('a damaged record is described in words, field by field', () => {
  const node = {
    id: 'a'.repeat(64),
    parent: null,
    step: -1,
    createdAt: 'now',
    eval: { test: { precision: 2, correct: 1.5, examples: 3 } },
  };
  assert.equal(
    issues(nodeSchema, node),
    'step Too small: expected number to be >=0; eval.test.precision Too big: expected number to be <=1; eval.test.correct Invalid input: expected int, received number',
  );
  const run = {
    id: 'run-20261130-200709-9c5c7c',
    createdAt: 'now',
    seed: 3,
    seedSource: 'auto',
    root: 'b'.repeat(64),
    config: { ...config, model: { kind: 'mlp', hidden: [0] }, optimizer: { kind: 'sgd', lr: 0 } },
  };
  assert.equal(
    issues(runSchema, run),
    "config.model.hidden.0 Too small: expected number to be >=1; config.optimizer.lr Too small: expected number to be >0; seed the run's seed is not its config's seed",
  );
  assert.equal(
    issues(stateCountersSchema, { step: 1, cursor: 'x', counters: { t: -2 } }),
    'cursor Invalid input: expected number, received string; counters.t Too small: expected number to be >=0',
  );
});

test('a branch record: a stored name may be what a new one may not', () => {
  const branch = {
    name: 'a|b',
    run: 'run-20261130-200709-9c5c7c',
    tip: 'c'.repeat(64),
    base: null,
    config,
    status: 'done',
    createdAt: 'now',
    updatedAt: 'now',
  };
  assert.equal(branchSchema(false).safeParse(branch).success, true);
  assert.match(issues(branchSchema(true), branch), /^name is not a valid branch name: /);
  assert.equal(
    issues(branchSchema(false), { ...branch, status: 'paused', schedule: { checkpointEvery: 0 } }),
    'status Invalid option: expected one of "running"|"done"|"stopped"|"diverged"|"failed"; schedule.checkpointEvery Too small: expected number to be >=1; schedule.evalEvery Invalid input: expected number, received undefined',
  );
});
