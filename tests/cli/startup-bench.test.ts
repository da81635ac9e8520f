/**
 * The bench's "CLI start-up" section (src/main/bench/startup.ts) with one run of each command:
 * every goal's row is there with a real wall time (and the cores' speeds in the floor's note,
 * where they can be measured), and a command that fails fails the section instead of being
 * timed.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  ESM_ENTRY_LABEL,
  EXTRA_CA_VAR,
  measureStartup,
  STARTUP_GOALS,
  STARTUP_TITLE,
  UNSET_CA_SUFFIX,
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

test('where NODE_EXTRA_CA_CERTS is set, the floor, --help and log are also run without it', async (t) => {
  const saved = process.env[EXTRA_CA_VAR];
  t.after(() => {
    if (saved === undefined) {
      delete process.env[EXTRA_CA_VAR];
    } else {
      process.env[EXTRA_CA_VAR] = saved;
    }
  });
  // a file of no certificates: Node still builds its own store for the variable being set
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const pem = join(dir, 'none.pem');
  writeFileSync(pem, '');
  process.env[EXTRA_CA_VAR] = pem;
  const s = await measureStartup({ repoRoot: ROOT, log: () => {} }, 1);
  const labels = s.rows.map((r) => r.label);
  assert.deepEqual(
    labels.filter((l) => l.endsWith(UNSET_CA_SUFFIX)),
    [`node -e 0${UNSET_CA_SUFFIX}`, ...STARTUP_GOALS.slice(0, 2).map((g) => `${g.label}${UNSET_CA_SUFFIX}`)], // prettier-ignore
  );
  for (const r of s.rows) {
    assert.ok(Number.isFinite(r.value) && r.value > 0, `${r.label}: ${r.value}`);
  }
  assert.ok((s.rows[0].note ?? '').includes(`${EXTRA_CA_VAR} is set (${pem})`), s.rows[0].note);
  assert.match(s.rows[labels.indexOf(`${STARTUP_GOALS[1].label}${UNSET_CA_SUFFIX}`)].note ?? '', /ms above node -e 0/); // prettier-ignore

  delete process.env[EXTRA_CA_VAR];
  const without = await measureStartup({ repoRoot: ROOT, log: () => {} }, 1);
  assert.deepEqual(
    without.rows.filter((r) => r.label.endsWith(UNSET_CA_SUFFIX)),
    [],
    'rows without the variable where it was never set',
  );
  assert.ok(!(without.rows[0].note ?? '').includes(EXTRA_CA_VAR), without.rows[0].note);
});
