/**
 * Timeline layout (review findings 18 and 19): newest runs first, a study's runs grouped under
 * one collapsed row that still counts its checkpoints and widens the axis.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BranchInfo, RunInfo } from '../../src/shared/contract';
import { layoutTimeline, studyOf } from '../../src/renderer/src/lib/timeline/layout';

function run(id: string, createdAt: string, branch: string, steps: number[]): RunInfo {
  const b: BranchInfo = {
    name: branch,
    run: id,
    tip: '',
    base: null,
    baseStep: null,
    config: {} as BranchInfo['config'],
    status: 'done',
    createdAt,
    updatedAt: createdAt,
    checkpoints: steps
      .map((step) => ({ id: `${branch}:${step}`, parent: null, step, createdAt }))
      .reverse(),
  };
  return {
    id,
    createdAt,
    seed: 1,
    seedSource: 'explicit',
    root: '',
    config: {} as RunInfo['config'],
    branches: [b],
  };
}

const STUDY = 'study-20261130-071630-a5a9d1';
const runs = [
  run('r1', '2026-11-30T07:00:00Z', 'first', [0, 100]),
  run('s1', '2026-11-30T07:01:00Z', `${STUDY}-same-1`, [0, 50, 100]),
  run('s2', '2026-11-30T07:02:00Z', `${STUDY}-seed-8`, [0, 50, 5000]),
  run('r2', '2026-11-30T07:03:00Z', 'second', [0, 300]),
];

test('studyOf reads the study id from a branch name, and nothing else', () => {
  assert.equal(studyOf(runs[1]), STUDY);
  assert.equal(studyOf(runs[0]), null);
  assert.equal(studyOf(run('x', '', 'study-notadate-seed-1', [0])), null);
});

test('newest first; a study is one collapsed row that still counts', () => {
  const l = layoutTimeline(runs);
  assert.deepEqual(
    l.rows.map((r) => (r.kind === 'branch' ? r.branch.name : r.kind === 'group' ? r.id : r.run.id)),
    ['r2', 'second', STUDY, 'r1', 'first'],
  );
  assert.equal(l.lanes.length, 2);
  assert.equal(l.branches, 4);
  assert.equal(l.checkpoints, 2 + 3 + 3 + 2);
  assert.equal(l.maxStep, 5000, 'a collapsed group widens the axis');
  assert.equal(l.where.has(`${STUDY}-same-1:50`), false);
});

test('expanded: the group row, then its runs oldest first; creation order on request', () => {
  const l = layoutTimeline(runs, { newestFirst: false, expanded: new Set([STUDY]) });
  assert.deepEqual(
    l.rows.map((r) => (r.kind === 'branch' ? r.branch.name : r.kind === 'group' ? r.id : r.run.id)),
    ['r1', 'first', STUDY, 's1', `${STUDY}-same-1`, 's2', `${STUDY}-seed-8`, 'r2', 'second'],
  );
  assert.equal(l.lanes.length, 4);
  assert.equal(l.checkpoints, 10);
});
