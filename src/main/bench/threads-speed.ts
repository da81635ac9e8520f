/**
 * Bench section "threads" (listed in ./bench.ts): ms/step on 1 and on 2 kernel threads for the
 * default MLP (MNIST, batch 100, sgd, wasm) and lenet5 (MNIST, batch 64, wasm, warmed up as in
 * ./cnn.ts), the speed-up, and issue 16's goal: 2 threads ≥ 1.7× faster than 1 on a 2-core
 * machine. Each model trains in one process that takes turns on 1 and on 2 threads, 20 pairs of
 * turns (3 with --quick) a fraction of a second apart (./alternate.ts), and the speed-up is the
 * median of the pairs' ratios, with their quartiles. This host's speed drifts by tens of percent
 * within minutes (lenet5 on one thread ran at 6.2 and at 10.2 ms/step in runs a few minutes
 * apart): the three pairs of whole processes measured before this (one thread, then two, each in
 * its own process) measured that drift as much as the threads — in one bench the rounds'
 * one-thread times were 6.72, 8.21 and 6.84 ms while the two-thread ones were 5.72–5.81. The bits
 * are the same for every thread count (tests/engine/threads.test.ts), so this is purely a speed
 * figure (the table says how many cores there were).
 *
 * Each model's run starts by measuring the cores (./cores.ts); the ideal speed-up — what
 * perfectly parallel work gains on both cores over one thread on the fastest — is in the table
 * next to the measured one. A core shared with other work lowers it: with cpu1 at 57 % of cpu0's
 * speed (seen here), no program can reach 1.7×.
 *
 * With `peer` (`bench --peer`), the PyTorch peer of each model (scripts/peers/torch_mlp.py,
 * torch_cnn.py) in whole processes on 1 thread (pinned to the fastest core) and on 2 (./peer.ts's
 * runPeerScript), alternating, 5 pairs (1 with --quick): what two threads give the peer on the same
 * model and batch — the yardstick for the goal.
 */
import { availableParallelism } from 'node:os';
import { plan, runWorker, type BenchContext, type ExtraRow, type ExtraSection, type GoalCheck } from './bench'; // prettier-ignore
import { runCnnWorker } from './cnn';
import type { Alternating } from './alternate';
import { idealSpeedup, pinToFastestCore } from './cores';
import { mnistDir } from '../engine/data';
import { peerOutput, peerUnavailable, runPeerScript } from './peer';
import { median, type TrainResult } from './worker';

/** Goal of issue 16: 1-thread ms/step ÷ 2-thread ms/step. */
export const THREADS_GOAL = 1.7;
/** Alternating pairs of turns on 1 and 2 threads per model (3 with --quick). */
const PAIRS = 20;
/** Alternating pairs of whole peer runs on 1 and 2 threads per model (1 with --quick). */
const PEER_PAIRS = 5;

/** One peer run's ms/step on `threads` threads, or why it gave none. */
function peerMsPerStep(root: string, args: string[], threads: number): number | string {
  const r = runPeerScript([...args, '--data', mnistDir(), '--threads', String(threads)], root);
  const out = peerOutput<{ msPerStep: number }>(r);
  return typeof out === 'string' ? out : out.msPerStep;
}

export async function threadsSection(ctx: BenchContext): Promise<ExtraSection> {
  const rows: ExtraRow[] = [];
  const goals: GoalCheck[] = [];
  const cores = availableParallelism();
  const pairs = ctx.quick ? 3 : PAIRS;
  const range = (xs: number[]): string => {
    const s = [...xs].sort((a, b) => a - b);
    return `quartiles ${s[Math.floor((s.length - 1) / 4)].toFixed(2)}–${s[Math.ceil((3 * (s.length - 1)) / 4)].toFixed(2)}`; // prettier-ignore
  };
  /** the peer's speed-up on the same model: whole runs on 1 and 2 threads, alternating */
  const peerRows = (label: string, args: string[]): void => {
    const peerPairs = ctx.quick ? 1 : PEER_PAIRS;
    const ratios: number[] = [];
    let missing = peerUnavailable();
    for (let i = 0; i < peerPairs && missing === null; i++) {
      ctx.log(`threads: ${label}, the peer on 1 and 2 threads (pair ${i + 1} of ${peerPairs})`);
      const [one, two] = [1, 2].map((threads) => peerMsPerStep(ctx.repoRoot, args, threads));
      if (typeof one === 'string' || typeof two === 'string') {
        missing = typeof one === 'string' ? one : (two as string);
      } else {
        ratios.push(one / two);
      }
    }
    rows.push(
      missing !== null
        ? { label: `${label}, peer speed-up`, value: NaN, unit: '×', note: `not run: ${missing}` }
        : {
            label: `${label}, peer speed-up`,
            value: median(ratios),
            unit: '×',
            note: `PyTorch, the same model and batch: 1-thread ÷ 2-thread ms/step of whole runs, median of ${peerPairs} alternating pair${peerPairs > 1 ? 's' : ''} (${ratios.map((r) => r.toFixed(2)).join(', ')})`, // prettier-ignore
          },
    );
  };
  /** one process, `pairs` alternating turns of 1 and 2 threads, then the rows and the goal */
  const measure = async (
    label: string,
    run: () => Promise<Alternating>,
    peerArgs?: string[],
  ): Promise<void> => {
    ctx.log(`threads: ${label}, ${pairs} pairs of turns on 1 and 2 threads in one process`);
    // (a process of 2 threads is never pinned: both thread counts run on either core)
    const check = await pinToFastestCore(`threads ${label}`, ctx.log);
    const { one, many } = await run();
    const ratios = one.map((t, i) => t / many[i]);
    const speedup = median(ratios);
    const of = `median of ${pairs} turns`;
    rows.push(
      { label: `${label}, 1 thread`, value: median(one), unit: 'ms/step', note: of },
      { label: `${label}, 2 threads`, value: median(many), unit: 'ms/step', note: of },
      {
        label: `${label}, speed-up`,
        value: speedup,
        unit: '×',
        note: `median of the ${pairs} pairs' ratios (${range(ratios)}); goal ≥ ${THREADS_GOAL}× (${cores} cores here)`, // prettier-ignore
      },
    );
    if (check?.ids.length === 2) {
      const ideal = idealSpeedup(check);
      rows.push({
        label: `${label}, ideal speed-up on these cores`,
        value: ideal,
        unit: '×',
        note: `perfectly parallel work, from the core check before; measured / ideal ${(speedup / ideal).toFixed(2)}`, // prettier-ignore
      });
    }
    if (peerArgs && ctx.peer) {
      peerRows(label, peerArgs);
    }
    goals.push({
      goal: `2 threads ≥ ${THREADS_GOAL}× faster than 1: ${label} (speed-up; higher is better)`,
      value: speedup,
      limit: THREADS_GOAL,
      ok: speedup >= THREADS_GOAL,
    });
  };
  const p = plan('wasm', ctx.quick);
  await measure(
    'mlp 128,32 sgd, batch 100',
    async () => {
      const job = { kind: 'train', backend: 'wasm', model: 'mlp', optimizer: 'sgd', ...p, reps: pairs, alternate: 2 } as const; // prettier-ignore
      return alternatingOf(await runWorker<TrainResult>(job, 2));
    },
    ['scripts/peers/torch_mlp.py', '--steps', ctx.quick ? '300' : '1500'],
  );
  // the warm-up of ./cnn.ts's lenet5 (shorter ones ran 5–15 % slow)
  const lenet = {
    model: 'lenet5',
    batchSize: 64,
    warmup: ctx.quick ? 5 : 150,
    reps: pairs,
    steps: ctx.quick ? 5 : 10,
    alternate: 2,
  } as const;
  await measure('lenet5, batch 64', async () => alternatingOf(await runCnnWorker(lenet, 2)), ['scripts/peers/torch_cnn.py', '--model', 'lenet5', '--steps', ctx.quick ? '30' : '200']); // prettier-ignore
  return { title: 'threads (wasm; the same bits for any thread count)', rows, goals };
}

/** A worker's alternating turns (it ran with `alternate`). */
function alternatingOf(r: { alternating?: Alternating }): Alternating {
  if (!r.alternating) {
    throw new Error('the bench worker did not alternate thread counts');
  }
  return r.alternating;
}
