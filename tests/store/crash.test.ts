/**
 * I7 at the store level: a writer process killed with SIGKILL at random moments while it writes
 * checkpoints. After every kill the store is consistent (fsck finds no damage; leftovers such as
 * temp files or the dead writer's lock are allowed), the branch tip is the last complete
 * checkpoint and reads back bit-exactly, and the next writer resumes from it. (The trainer-level
 * crash test, which also continues training bit-exactly, lives with the CLI.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { stream } from '../../src/main/engine/rng';
import { Store } from '../../src/main/store/store';
import { bigState, cleanup, tempDir } from './helpers';

const WRITER = path.join(import.meta.dirname, 'fixtures', 'crash-writer.ts');
const KILLS = 15;

function killAfterReady(dir: string, delayMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.stdout.once('data', () => setTimeout(() => child.kill('SIGKILL'), delayMs));
    child.on('exit', (code, signal) =>
      signal === 'SIGKILL' ? resolve() : reject(new Error(`writer exited with ${code}: ${err}`)),
    );
  });
}

test(
  `a writer killed ${KILLS} times mid-write leaves a consistent store`,
  { timeout: 180000 },
  async () => {
    const dir = tempDir();
    try {
      let leftovers = 0;
      let lastStep = -1;
      const delays = stream(7, 'test/store-kill-delays');
      for (let k = 0; k < KILLS; k++) {
        await killAfterReady(dir, 20 + delays.int(200));
        const store = await Store.open(dir);
        const report = await store.fsck();
        assert.equal(report.ok, true, JSON.stringify(report.problems));
        assert.ok(report.problems.every((p) => p.kind === 'temp' || p.kind === 'lock'));
        leftovers += report.problems.length > 0 ? 1 : 0;
        const tip = (await store.getBranch('crash')).tip;
        const state = await store.readState(tip);
        assert.ok(state.step >= lastStep, 'the branch never moves back');
        lastStep = state.step;
        const want = bigState(state.step).tensors['hidden1/weights'].data;
        assert.deepEqual(
          new Uint8Array(state.tensors['hidden1/weights'].data.buffer),
          new Uint8Array(want.buffer),
        );
        assert.equal((await store.lineage(tip)).length, state.step + 1);
      }
      const store = await Store.open(dir);
      await store.gc({ graceMs: 0 });
      assert.deepEqual((await store.fsck()).problems, []);
      console.log(`# ${KILLS} kills, last step ${lastStep}, ${leftovers} left a temp file or lock`);
    } finally {
      cleanup(dir);
    }
  },
);
