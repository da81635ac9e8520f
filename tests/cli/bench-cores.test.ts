/**
 * The bench's cores (src/main/bench/cores.ts): the allowed CPUs are read right, each core's
 * speed is measured pinned to it, cores that differ pin one-thread runs to the fastest and cores
 * alike do not, a pinned run (ours, the peer's) really sees one core only, and the ideal
 * speed-up follows from the cores' speeds.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { REPO_ROOT } from '../../src/main/bench/bench';
import {
  allowedCpus,
  choosePin,
  coreChecks,
  CORES_ALIKE,
  idealSpeedup,
  measureCores,
  onOneCore,
  pinOneThreadRuns,
  pinToFastestCore,
} from '../../src/main/bench/cores';
import { runPeerScript } from '../../src/main/bench/peer';
import { workerCommand } from '../../src/main/bench/run-worker';
import { CAN_PIN, CPUS } from '../helpers/cores';

test('the allowed CPUs from /proc/self/status', () => {
  assert.deepEqual(allowedCpus('Name:\tnode\nCpus_allowed_list:\t0-3,6\n'), [0, 1, 2, 3, 6]);
  assert.deepEqual(allowedCpus('Cpus_allowed_list:\t5\n'), [5]);
  assert.equal(allowedCpus('Cpus_allowed_list:\t0-x\n'), null);
  assert.equal(allowedCpus('Name:\tnode\n'), null);
  if (process.platform === 'linux') {
    assert.ok(CPUS !== null && CPUS.length >= 1, String(CPUS));
  }
});

test('the ideal speed-up: the cores’ speeds together relative to the fastest alone', () => {
  assert.equal(idealSpeedup({ loopMs: [60, 60], togetherMs: [60, 60] }), 2);
  // one core at 57 % of the other's speed (seen on the bench's machine): 1.57×, not 2
  const slow = idealSpeedup({ loopMs: [267, 152], togetherMs: [267, 152] });
  assert.ok(Math.abs(slow - (1 + 152 / 267)) < 1e-12);
  // twins of one physical core: each fast alone, both slow together
  assert.equal(idealSpeedup({ loopMs: [60, 60], togetherMs: [100, 100] }), 1.2);
  assert.equal(idealSpeedup({ loopMs: [50, 100, 200, 100], togetherMs: [100, 100, 100, 100] }), 2);
});

test('cores that differ are pinned, cores alike are not', () => {
  const c = (loopMs: number[]) => ({
    ids: [0, 1],
    loopMs,
    togetherMs: loopMs,
    fastest: loopMs[0] <= loopMs[1] ? 0 : 1,
  });
  assert.equal(choosePin(c([267, 152])), 1);
  assert.equal(choosePin(c([63, 110])), 0);
  assert.equal(choosePin(c([63, 65])), null);
  assert.equal(choosePin(c([63, 63 * (1 + CORES_ALIKE)])), null);
  assert.equal(choosePin(c([63, 63 * (1 + CORES_ALIKE) + 0.5])), 0);
});

test(
  'the cores measured pinned to each',
  { skip: !CAN_PIN && 'taskset or a second core missing' },
  async () => {
    const c = await measureCores(1);
    assert.ok(c !== null);
    assert.deepEqual(c.ids, CPUS);
    assert.equal(c.loopMs.length, c.ids.length);
    assert.equal(c.togetherMs.length, c.ids.length);
    assert.ok(
      [...c.loopMs, ...c.togetherMs].every((ms) => ms > 1 && ms < 60_000),
      String([c.loopMs, c.togetherMs]),
    );
    assert.equal(c.ids[c.loopMs.indexOf(Math.min(...c.loopMs))], c.fastest);
    const lines: string[] = [];
    const check = await pinToFastestCore('a test', (line) => lines.push(line));
    assert.ok(check !== null);
    assert.equal(lines.length, 1);
    assert.match(
      lines[0],
      check.pinned === null
        ? /^cores: cpu\d+ \d+ ms, .*: alike, not pinned$/
        : new RegExp(`^cores: cpu\\d+ \\d+ ms, .*: one-thread runs on cpu${check.pinned}$`),
    );
    assert.equal(check.pinned, choosePin(check));
    assert.equal(coreChecks().at(-1), check);
    assert.deepEqual(
      onOneCore('node', []),
      check.pinned === null ? ['node', []] : ['taskset', ['-c', String(check.pinned), 'node']],
    );
  },
);

test(
  'pinned one-thread runs see only their core: ours, the peers’, a bench worker',
  { skip: !CAN_PIN && 'taskset or a second core missing' },
  (t) => {
    t.after(() => pinOneThreadRuns(null));
    const core = CPUS![CPUS!.length - 1];
    pinOneThreadRuns(core);
    const allowed = /^Cpus_allowed_list:\s*(\S+)/m;
    const [command, args] = onOneCore(process.execPath, ['-e', 'process.stdout.write(require("fs").readFileSync("/proc/self/status", "utf8"))']); // prettier-ignore
    assert.equal(command, 'taskset');
    assert.equal(
      allowed.exec(spawnSync(command, args, { encoding: 'utf8' }).stdout)?.[1],
      String(core),
    );
    const py = runPeerScript(['-c', 'print(open("/proc/self/status").read())'], REPO_ROOT);
    assert.equal(py.status, 0, py.stderr);
    assert.equal(allowed.exec(py.stdout)?.[1], String(core));
    // a bench worker on one thread is pinned; on two it is not
    const one = workerCommand('bench-worker', { kind: 'train' }, 1);
    assert.equal(one[0], 'taskset');
    assert.deepEqual(one[1].slice(0, 3), ['-c', String(core), process.execPath]);
    assert.equal(workerCommand('bench-worker', { kind: 'train' }, 2)[0], process.execPath);
    pinOneThreadRuns(null);
    assert.deepEqual(onOneCore('python3', ['-c', '1']), ['python3', ['-c', '1']]);
  },
);
