/**
 * Bench section "threads" (listed in ./bench.ts): ms/step on 1 and on 2 kernel threads
 * (LOCKSTEP_THREADS in a fresh process each) for the default MLP (MNIST, batch 100, sgd, wasm)
 * and lenet5 (MNIST, batch 64, wasm), the speed-up, and issue 16's goal: 2 threads ≥ 1.7× faster
 * than 1 on a 2-core machine. The bits are the same for every thread count (tests/engine/
 * threads.test.ts), so this is purely a speed figure; on a machine shared with other work it
 * measures the machine as much as the kernels (the table says how many cores there were).
 */
import { availableParallelism } from 'node:os';
import { plan, runWorker, type BenchContext, type ExtraRow, type ExtraSection, type GoalCheck } from './bench'; // prettier-ignore
import { runCnnWorker } from './cnn';
import type { TrainResult } from './worker';

/** Goal of issue 16: 1-thread ms/step ÷ 2-thread ms/step. */
export const THREADS_GOAL = 1.7;

export async function threadsSection(ctx: BenchContext): Promise<ExtraSection> {
  const rows: ExtraRow[] = [];
  const goals: GoalCheck[] = [];
  const cores = availableParallelism();
  const add = (label: string, one: number, two: number): void => {
    const speedup = one / two;
    rows.push(
      { label: `${label}, 1 thread`, value: one, unit: 'ms/step' },
      { label: `${label}, 2 threads`, value: two, unit: 'ms/step' },
      {
        label: `${label}, speed-up`,
        value: speedup,
        unit: '×',
        note: `goal ≥ ${THREADS_GOAL}× (${cores} cores here)`,
      },
    );
    goals.push({
      goal: `2 threads ≥ ${THREADS_GOAL}× faster than 1: ${label} (speed-up; higher is better)`,
      value: speedup,
      limit: THREADS_GOAL,
      ok: speedup >= THREADS_GOAL,
    });
  };
  const p = plan('wasm', ctx.quick);
  const mlp = (threads: number): Promise<TrainResult> =>
    runWorker<TrainResult>(
      { kind: 'train', backend: 'wasm', model: 'mlp', optimizer: 'sgd', ...p },
      threads,
    );
  ctx.log('threads: default MLP on 1 and 2 threads');
  add('mlp 128,32 sgd, batch 100', (await mlp(1)).msPerStep, (await mlp(2)).msPerStep);
  const lenet = {
    model: 'lenet5',
    batchSize: 64,
    warmup: ctx.quick ? 5 : 20,
    reps: 3,
    steps: ctx.quick ? 5 : 20,
  } as const;
  ctx.log('threads: lenet5 on 1 and 2 threads');
  const l1 = await runCnnWorker(lenet, 1);
  const l2 = await runCnnWorker(lenet, 2);
  add('lenet5, batch 64', l1.msPerStep, l2.msPerStep);
  return { title: 'threads (wasm; the same bits for any thread count)', rows, goals };
}
