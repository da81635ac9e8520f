/**
 * `lockstep log` (graphView) orders runs and branches by their creation time, then branches by
 * name, in UTF-16 code units (src/shared/order.ts): the same order on every machine, whatever its
 * locale, and no start of ICU's collator (`localeCompare`, ~8 ms of a short command).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { graphView } from '../../src/main/service/inspect';
import type { BranchRecord, RunRecord } from '../../src/main/store/api';
import type { Store } from '../../src/main/store/store';
import { compareCodeUnits } from '../../src/shared/order';

test('compareCodeUnits is the order of `<`', () => {
  const words = ['b', 'B', 'ä', 'a', 'z', 'Z', 'a-b', 'a_b', 'ab', '2026-11-30T20:00:00.000Z'];
  assert.deepEqual(
    [...words].sort(compareCodeUnits),
    [...words].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  assert.equal(compareCodeUnits('x', 'x'), 0);
});

test('log lists runs and branches by time, then name, in code units', async () => {
  const at = (s: number) => `2026-11-30T20:00:0${s}.000Z`;
  const run = (id: string, createdAt: string) => ({ id, createdAt }) as unknown as RunRecord;
  const branch = (name: string, r: string, createdAt: string) =>
    ({ name, run: r, createdAt, tip: 'f'.repeat(64), base: null }) as unknown as BranchRecord;
  const store = {
    listGraph: async () => ({
      runs: [run('run-b', at(2)), run('run-a', at(1))],
      branches: ['b', 'B', 'ä', 'a', 'late'].map((n) => branch(n, 'run-a', at(n === 'late' ? 0 : 1))), // prettier-ignore
      nodes: [],
    }),
  } as unknown as Store;
  const runs = await graphView(store);
  assert.deepEqual(
    runs.map((r) => r.id),
    ['run-a'],
  ); // run-b has no branch
  assert.deepEqual(
    runs[0].branches.map((b) => b.name),
    ['late', 'B', 'a', 'b', 'ä'],
  );
});
