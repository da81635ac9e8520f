/**
 * Bench section "what a user gets" (listed in ./bench.ts): the marginal ms/step of a real
 * `lockstep train` of the default MLP (MNIST, 128,32, sgd, batch 100, wasm) with its per-step
 * trace, checkpoints and final evaluation, on one thread (`--threads 1`, like the peer) — (T(n2) − T(n1)) / (n2 − n1) of two whole CLI runs
 * into fresh temporary stores, so start-up, data loading, the final checkpoint and evaluation
 * cancel out. Both runs checkpoint and evaluate only at their end (--checkpoint-every and
 * --eval-every n2). Wall clock, and the runs' CPU time (Linux) next to it. With `--peer`, the
 * PyTorch peer (scripts/peers/torch_mlp.py, one thread) is measured the same way — two whole
 * runs, so its start-up and evaluation cancel out too — right after ours in each of three rounds
 * (one with --quick), and the section checks issue 16's goal: marginal ms/step ≤ 1.0× the peer's,
 * as the median of the rounds' ratios. Each round's runs, ours and the peer's, are pinned to the
 * core that was fastest at its start (./cores.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mnistDir } from '../engine/data';
import type { BenchContext, ExtraRow, ExtraSection, GoalCheck } from './bench';
import { childCpuMs } from './child-cpu';
import { onOneCore, pinToFastestCore } from './cores';
import { peerUnavailable, runPeerScript } from './peer';
import { median } from './worker';

/** Goal of issue 16: marginal `lockstep train` ms/step ÷ the peer's ms/step. */
export const MARGINAL_GOAL = 1.0;

interface Timed {
  wallMs: number;
  cpuMs: number | null;
}

/** Runs `f` (which waits for a child) and returns its wall-clock and the child's CPU time. */
function timed(f: () => void): Timed {
  const c0 = childCpuMs();
  const t0 = performance.now();
  f();
  const wallMs = performance.now() - t0;
  const c1 = childCpuMs();
  return { wallMs, cpuMs: c0 === null || c1 === null ? null : c1 - c0 };
}

/** Wall-clock and CPU ms of one whole `lockstep train --steps n` into a fresh store. */
function timeTrain(root: string, steps: number, last: number): Timed {
  const store = mkdtempSync(join(tmpdir(), 'lockstep-bench-marginal-'));
  try {
    const args = [
      join(root, 'bin', 'lockstep.mjs'),
      '--threads',
      '1',
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
    let r: ReturnType<typeof spawnSync> | undefined;
    const t = timed(() => {
      r = spawnSync(...onOneCore(process.execPath, args), { cwd: root, encoding: 'utf8' });
    });
    if (r?.status !== 0) {
      throw new Error(
        `lockstep train failed: ${String(r?.stderr ?? '')
          .trim()
          .split('\n')
          .pop()}`,
      );
    }
    return t;
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
}

/** The peer's whole-run wall and CPU time for the default MLP, or the reason it did not run. */
function peerRun(root: string, steps: number): Timed | string {
  const script = join(root, 'scripts', 'peers', 'torch_mlp.py');
  const why = peerUnavailable();
  if (why !== null) {
    return why;
  }
  let r: ReturnType<typeof runPeerScript> | undefined;
  const t = timed(() => {
    r = runPeerScript([script, '--data', mnistDir(), '--steps', String(steps), '--threads', '1'], root); // prettier-ignore
  });
  if (r?.status !== 0) {
    return `peer failed: ${String(r?.stderr ?? '')
      .trim()
      .split('\n')
      .pop()}`;
  }
  return t;
}

/** (b − a) / steps for wall and CPU time. */
function marginal(a: Timed, b: Timed, steps: number): Timed {
  return {
    wallMs: (b.wallMs - a.wallMs) / steps,
    cpuMs: a.cpuMs === null || b.cpuMs === null ? null : (b.cpuMs - a.cpuMs) / steps,
  };
}

export async function marginalTrainSection(ctx: BenchContext): Promise<ExtraSection> {
  const [n1, n2, rounds] = ctx.quick ? [100, 600, 1] : [200, 2200, 3];
  const [s1, s2] = [n1, n2].map((n) => Math.max(n, 10));
  const list = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(', ');
  // each round: our pair of runs, then the peer's: the two sides of a ratio are measured minutes
  // apart at most, and the median round counts (a single peer pair measured the host's drift as
  // much as the peer: 0.27 ms/step in one bench, 0.69–0.82 in others)
  const ours: Timed[] = [];
  const peer: Timed[] = [];
  let peerMissing: string | null = null;
  for (let i = 0; i < rounds; i++) {
    const withPeer = ctx.peer && peerMissing === null;
    await pinToFastestCore(`marginal, round ${i + 1}`, ctx.log);
    ctx.log(`marginal: round ${i + 1} of ${rounds}: lockstep train --steps ${n1} and ${n2} (default MLP, wasm)${withPeer ? ', then the peer (torch_mlp.py, one thread)' : ''}`); // prettier-ignore
    ours.push(marginal(timeTrain(ctx.repoRoot, n1, n2), timeTrain(ctx.repoRoot, n2, n2), n2 - n1));
    if (withPeer) {
      const a = peerRun(ctx.repoRoot, s1);
      const b = typeof a === 'string' ? a : peerRun(ctx.repoRoot, s2);
      if (typeof a === 'string' || typeof b === 'string') {
        peerMissing = typeof a === 'string' ? a : (b as string);
      } else {
        peer.push(marginal(a, b, s2 - s1));
      }
    }
  }
  const wall = ours.map((t) => t.wallMs);
  const cpu = ours.every((t) => t.cpuMs !== null) ? ours.map((t) => t.cpuMs as number) : null;
  const of = (xs: number[]): string => (rounds > 1 ? `median of rounds ${list(xs)}` : list(xs));
  const rows: ExtraRow[] = [
    {
      label: 'lockstep train, marginal ms/step (mlp 128,32 sgd, wasm, 1 thread, trace incl.)',
      value: median(wall),
      unit: 'ms/step',
      note: `(T(${n2}) − T(${n1})) / ${n2 - n1} of whole CLI runs, wall clock; ${of(wall)}`,
    },
  ];
  if (cpu !== null) {
    rows.push({
      label: 'lockstep train, marginal CPU ms/step',
      value: median(cpu),
      unit: 'ms/step',
      note: 'user + system time of the same runs (steadier on a shared machine)',
    });
  }
  const goals: GoalCheck[] = [];
  if (ctx.peer && peerMissing !== null) {
    rows.push({ label: 'peer (torch, 1 thread)', value: NaN, unit: 'ms/step', note: `not run: ${peerMissing}` }); // prettier-ignore
    goals.push({ goal: 'lockstep train marginal ms/step ≤ 1.0× the PyTorch peer', value: null, limit: MARGINAL_GOAL, ok: null }); // prettier-ignore
  } else if (ctx.peer) {
    const peerWall = peer.map((t) => t.wallMs);
    const ratios = wall.map((w, i) => w / peerWall[i]);
    const ratio = median(ratios);
    rows.push(
      {
        label: 'peer (torch, 1 thread), marginal ms/step, same MLP and batch',
        value: median(peerWall),
        unit: 'ms/step',
        note: `(T(${s2}) − T(${s1})) / ${s2 - s1} of whole peer runs; ${of(peerWall)}`,
      },
      { label: 'marginal ours / peer (wall)', value: ratio, unit: '×', note: `${rounds > 1 ? `median of rounds ${list(ratios)}; ` : ''}goal ≤ ${MARGINAL_GOAL}×` }, // prettier-ignore
    );
    if (cpu !== null && peer.every((t) => t.cpuMs !== null)) {
      const cpuRatios = cpu.map((c, i) => c / (peer[i].cpuMs as number));
      rows.push({
        label: 'marginal ours / peer (CPU time)',
        value: median(cpuRatios),
        unit: '×',
        note: `${of(cpuRatios)}; peer ${median(peer.map((t) => t.cpuMs as number)).toFixed(2)} CPU ms/step`,
      });
    }
    goals.push({
      goal: 'lockstep train marginal ms/step ≤ 1.0× the PyTorch peer (threads 1)',
      value: ratio,
      limit: MARGINAL_GOAL,
      ok: ratio <= MARGINAL_GOAL,
    });
  }
  return {
    title: 'what a user gets: marginal ms/step of a real `lockstep train` (with its trace)',
    rows,
    goals,
  };
}
