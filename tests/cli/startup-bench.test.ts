/**
 * The bench's "CLI start-up" section (src/main/bench/startup.ts) with one run of each command:
 * every goal's row is there with a real wall time (and the cores' speeds in the floor's note,
 * where they can be measured), and a command that fails fails the section instead of being
 * timed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ESM_ENTRY_LABEL,
  measureStartup,
  STARTUP_GOALS,
  STARTUP_TITLE,
} from '../../src/main/bench/startup';
import { ROOT, tempDir } from '../helpers/cli';
import { CAN_PIN } from '../helpers/cores';
import { removeDir } from '../helpers/fixtures';

test('one run of each start-up measurement', async () => {
  const s = await measureStartup({ repoRoot: ROOT, log: () => {} }, 1);
  assert.equal(s.title, STARTUP_TITLE);
  const labels = s.rows.map((r) => r.label);
  for (const g of STARTUP_GOALS) {
    assert.ok(labels.includes(g.label), `no row for ${g.label}`);
  }
  assert.ok(labels.includes(ESM_ENTRY_LABEL), 'no row for the ES module entry');
  const floor = s.rows[0];
  assert.match(floor.label, /node -e 0/);
  for (const r of s.rows) {
    assert.equal(r.unit, 'ms');
    assert.ok(Number.isFinite(r.value) && r.value > 0, `${r.label}: ${r.value}`);
  }
  if (process.platform === 'linux') {
    assert.match(s.rows[1].note ?? '', /cpu \d+ ms/);
  }
  // the cores' speeds just before the runs, where they can be measured
  if (CAN_PIN) {
    assert.match(floor.note ?? '', /the cores before these runs \(fixed loop\): cpu\d+ \d+ ms, /);
  }
});

test('a command that fails fails the section', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  // a checkout without bin/lockstep.cjs: node exits 1 on the missing script
  await assert.rejects(
    measureStartup({ repoRoot: dir, log: () => {} }, 1),
    /start-up bench: node .*lockstep\.cjs.* exited 1/,
  );
});
