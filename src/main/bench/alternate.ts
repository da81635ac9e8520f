/**
 * The speed-up of kernel threads measured on one trainer, one and `threads` threads in turn
 * (../engine/kernels/threads.ts: setKernelThreads between steps never changes a bit). This host's
 * speed drifts by tens of percent within minutes, and two processes minutes apart measure that
 * drift as much as the threads; pairs a fraction of a second apart in one process cancel most of
 * it. Each turn sets its thread count, runs `settle` steps and pauses (the first turn on
 * `threads` starts the workers in the background; the pool is then kept, its workers asleep
 * during the one-thread turns, as warm as in a run on `threads` throughout), then times `steps`
 * steps. Returns each pair's ms/step on one thread and on `threads`, in order.
 */
import { setKernelThreads } from '../engine/kernels/threads';
import type { Trainer } from '../engine/trainer';

/** Pause after a change of thread count (workers start in ~50–100 ms here). */
const PAUSE_MS = 200;

export interface Alternating {
  one: number[];
  many: number[];
}

export async function alternateThreads(
  t: Trainer,
  threads: number,
  pairs: number,
  steps: number,
  settle = 3,
): Promise<Alternating> {
  const out: Alternating = { one: [], many: [] };
  try {
    for (let p = 0; p < pairs; p++) {
      for (const n of [1, threads]) {
        setKernelThreads(n);
        for (let i = 0; i < settle; i++) {
          t.trainStep();
        }
        await new Promise((done) => setTimeout(done, PAUSE_MS));
        t.trainStep();
        const t0 = performance.now();
        for (let i = 0; i < steps; i++) {
          t.trainStep();
        }
        (n === 1 ? out.one : out.many).push((performance.now() - t0) / steps);
      }
    }
  } finally {
    setKernelThreads(1);
  }
  return out;
}
