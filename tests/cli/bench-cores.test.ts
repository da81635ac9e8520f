/**
 * The bench's cores (src/main/bench/cores.ts): the allowed CPUs are read right, each core's
 * speed is measured pinned to it, one-thread runs then really run on the fastest core only (ours
 * and the peer's), and the ideal speed-up follows from the cores' speeds.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { REPO_ROOT } from '../../src/main/bench/bench';
import {
  allowedCpus,
  coreChecks,
  idealSpeedup,
  measureCores,
  onOneCore,
  pinToFastestCore,
} from '../../src/main/bench/cores';
import { runPeerScript } from '../../src/main/bench/peer';
import { workerCommand } from '../../src/main/bench/run-worker';

const cpus = allowedCpus();
const canPin =
  cpus !== null &&
  cpus.length >= 2 &&
  spawnSync('taskset', ['-c', String(cpus[0]), 'true']).status === 0;

test('the allowed CPUs from /proc/self/status', () => {
  assert.deepEqual(allowedCpus('Name:\tnode\nCpus_allowed_list:\t0-3,6\n'), [0, 1, 2, 3, 6]);
  assert.deepEqual(allowedCpus('Cpus_allowed_list:\t5\n'), [5]);
  assert.equal(allowedCpus('Cpus_allowed_list:\t0-x\n'), null);
  assert.equal(allowedCpus('Name:\tnode\n'), null);
  if (process.platform === 'linux') {
    assert.ok(cpus !== null && cpus.length >= 1, String(cpus));
  }
});

test('the ideal speed-up: the cores’ speeds relative to the fastest', () => {
  assert.equal(idealSpeedup([60, 60], 2), 2);
  assert.equal(idealSpeedup([60, 60], 1), 1);
  // one core at 57 % of the other's speed (seen on the bench's machine): 1.57×, not 2
  assert.ok(Math.abs(idealSpeedup([267, 152], 2) - (1 + 152 / 267)) < 1e-12);
  assert.ok(Math.abs(idealSpeedup([100, 50, 200, 100], 3) - 2) < 1e-12);
});

test('no pinning until the cores are measured', () => {
  assert.deepEqual(onOneCore('python3', ['-c', '1']), ['python3', ['-c', '1']]);
});

test(
  'one-thread runs are pinned to the fastest core',
  { skip: !canPin && 'taskset or a second core missing' },
  () => {
    const c = measureCores(1);
    assert.ok(c !== null);
    assert.deepEqual(c.ids, cpus);
    assert.equal(c.loopMs.length, c.ids.length);
    assert.ok(
      c.loopMs.every((ms) => ms > 1 && ms < 60_000),
      String(c.loopMs),
    );
    assert.equal(c.ids[c.loopMs.indexOf(Math.min(...c.loopMs))], c.fastest);

    const check = pinToFastestCore('a test');
    assert.ok(check !== null);
    assert.equal(coreChecks().at(-1)?.before, 'a test');
    const core = String(check.fastest);
    const allowed = /^Cpus_allowed_list:\s*(\S+)/m;
    // a Node process, the peers' Python and a bench worker see only that core
    const [command, args] = onOneCore(process.execPath, ['-e', 'process.stdout.write(require("fs").readFileSync("/proc/self/status", "utf8"))']); // prettier-ignore
    assert.equal(command, 'taskset');
    assert.equal(allowed.exec(spawnSync(command, args, { encoding: 'utf8' }).stdout)?.[1], core);
    const py = runPeerScript(['-c', 'print(open("/proc/self/status").read())'], REPO_ROOT);
    if (py.status === 0) {
      assert.equal(allowed.exec(py.stdout)?.[1], core);
    }
    // a bench worker on one thread is pinned; on two it is not
    const one = workerCommand('bench-worker', { kind: 'train' }, 1);
    assert.deepEqual(one.slice(0, 1), ['taskset']);
    assert.deepEqual(one[1].slice(0, 3), ['-c', core, process.execPath]);
    assert.equal(workerCommand('bench-worker', { kind: 'train' }, 2)[0], process.execPath);
  },
);
