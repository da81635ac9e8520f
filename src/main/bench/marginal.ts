/**
 * Bench section "what a user gets" (listed in ./bench.ts): the marginal ms/step of a real
 * `lockstep train` of the default MLP (MNIST, 128,32, sgd, batch 100, wasm) with its per-step
 * trace, checkpoints and final evaluation — (T(n2) − T(n1)) / (n2 − n1) of two whole CLI runs
 * into fresh temporary stores, so start-up, data loading, the final checkpoint and evaluation
 * cancel out. Both runs checkpoint and evaluate only at their end (--checkpoint-every and
 * --eval-every n2). Repeated in pairs; the median pair counts. With `--peer`, the PyTorch peer
 * (scripts/peers/torch_mlp.py, one thread) runs in the same invocation and the section checks
 * the goal of issue 16: marginal ms/step ≤ 1.0× the peer's.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mnistDir } from '../engine/data';
import type { BenchContext, ExtraRow, ExtraSection, GoalCheck } from './bench';

const PYTHON = '/usr/bin/python3';
/** Goal of issue 16: marginal `lockstep train` ms/step ÷ the peer's ms/step. */
export const MARGINAL_GOAL = 1.0;

/** Wall-clock ms of one whole `lockstep train --steps n` into a fresh store. */
function timeTrain(root: string, steps: number, last: number): number {
  const store = mkdtempSync(join(tmpdir(), 'lockstep-bench-marginal-'));
  try {
    const args = [
      join(root, 'bin', 'lockstep.mjs'),
      'train',
      '--steps',
      String(steps),
      '--seed',
      '1',
      '--checkpoint-every',
      String(last),
      '--eval-every',
      String(last),
      '--store',
      store,
      '--json',
    ];
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
    const ms = performance.now() - t0;
    if (r.status !== 0) {
      throw new Error(`lockstep train failed: ${(r.stderr ?? '').trim().split('\n').pop()}`);
    }
    return ms;
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

/** The peer's ms/step for the default MLP, or the reason it did not run. */
function peerMs(root: string, steps: number): number | string {
  const script = join(root, 'scripts', 'peers', 'torch_mlp.py');
  if (!existsSync(PYTHON) || spawnSync(PYTHON, ['-c', 'import torch, numpy']).status !== 0) {
    return 'python3-torch is not installed';
  }
  const r = spawnSync(
    PYTHON,
    [script, '--data', mnistDir(), '--steps', String(steps), '--threads', '1'],
    { encoding: 'utf8', cwd: root },
  );
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !last.startsWith('{')) {
    return `peer failed: ${(r.stderr ?? '').trim().split('\n').pop()}`;
  }
  return (JSON.parse(last) as { msPerStep: number }).msPerStep;
}

export async function marginalTrainSection(ctx: BenchContext): Promise<ExtraSection> {
  const [n1, n2, pairs] = ctx.quick ? [100, 600, 1] : [200, 2200, 3];
  ctx.log(`marginal: lockstep train --steps ${n1} and ${n2} (default MLP, wasm), ${pairs} pair(s)`);
  const per: number[] = [];
  for (let i = 0; i < pairs; i++) {
    const a = timeTrain(ctx.repoRoot, n1, n2);
    const b = timeTrain(ctx.repoRoot, n2, n2);
    per.push((b - a) / (n2 - n1));
  }
  const ms = median(per);
  const rows: ExtraRow[] = [
    {
      label: 'lockstep train, marginal ms/step (mlp 128,32 sgd, wasm, trace incl.)',
      value: ms,
      unit: 'ms/step',
      note: `(T(${n2}) − T(${n1})) / ${n2 - n1} of whole CLI runs; pairs ${per.map((x) => x.toFixed(2)).join(', ')}`,
    },
  ];
  const goals: GoalCheck[] = [];
  if (ctx.peer) {
    ctx.log('marginal: peer (torch_mlp.py, one thread)');
    const p = peerMs(ctx.repoRoot, ctx.quick ? 1000 : 2000);
    if (typeof p === 'string') {
      rows.push({ label: 'peer (torch, 1 thread)', value: NaN, unit: 'ms/step', note: `not run: ${p}` }); // prettier-ignore
      goals.push({ goal: 'lockstep train marginal ms/step ≤ 1.0× the PyTorch peer', value: null, limit: MARGINAL_GOAL, ok: null }); // prettier-ignore
    } else {
      const ratio = ms / p;
      rows.push(
        { label: 'peer (torch, 1 thread), same MLP and batch', value: p, unit: 'ms/step' },
        {
          label: 'marginal ours / peer',
          value: ratio,
          unit: '×',
          note: `goal ≤ ${MARGINAL_GOAL}×`,
        },
      );
      goals.push({
        goal: 'lockstep train marginal ms/step ≤ 1.0× the PyTorch peer (threads 1)',
        value: ratio,
        limit: MARGINAL_GOAL,
        ok: ratio <= MARGINAL_GOAL,
      });
    }
  }
  return {
    title: 'what a user gets: marginal ms/step of a real `lockstep train` (with its trace)',
    rows,
    goals,
  };
}
