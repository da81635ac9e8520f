/**
 * BENCHMARK ONLY — synthetic data for the render benchmark page (`?perf=1`, PerfBench.svelte).
 * It is never shown as store data and never reaches the service: it only feeds the Timeline and
 * LineChart components to time their rendering in a real browser.
 */
import type { BranchInfo, CheckpointInfo, RunInfo } from '../../../shared/contract';
import type { TrainingConfig } from '../../../shared/training';
import type { Point } from './state/live.svelte';

/** A fake 64-hex id from a counter (benchmark only). */
function fakeId(n: number): string {
  return n.toString(16).padStart(64, '0');
}

/**
 * One run with `branches` branches and `checkpoints` checkpoints in total, spread evenly; each
 * branch forks from a checkpoint of an earlier branch (benchmark only).
 */
export function syntheticGraph(branches: number, checkpoints: number): RunInfo[] {
  const config: TrainingConfig = {
    dataset: 'fake',
    model: { kind: 'mlp', hidden: [16, 8] },
    optimizer: { kind: 'sgd', lr: 0.1 },
    batchSize: 32,
    seed: 1,
    backend: 'wasm',
  };
  const t = '2025-01-01T00:00:00.000Z';
  const per = Math.max(1, Math.floor(checkpoints / branches));
  const every = 100;
  let next = 1;
  const list: BranchInfo[] = [];
  for (let b = 0; b < branches; b++) {
    let base: CheckpointInfo | null = null;
    if (b > 0) {
      // a pseudo-random earlier branch: some fork from the first, some from forks of forks
      const parent = list[((b * 2654435761) >>> 0) % b];
      const own = parent.checkpoints;
      base = own[(b * 31) % own.length];
    }
    const start = base ? base.step : 0;
    const cps: CheckpointInfo[] = [];
    let parent = base?.id ?? null;
    for (let i = 0; i < per; i++) {
      const step = b === 0 && i === 0 ? 0 : start + (i + (b === 0 ? 0 : 1)) * every;
      const id = fakeId(next++);
      cps.push({
        id,
        parent,
        step,
        loss: 2 * Math.exp(-step / 20000),
        ...(step % 1000 === 0
          ? { eval: { test: { precision: 0.9, correct: 9, examples: 10 } } }
          : {}),
        createdAt: t,
      });
      parent = id;
    }
    list.push({
      name: `bench-${b}`,
      run: 'bench-run',
      tip: cps[cps.length - 1].id,
      base: base?.id ?? null,
      baseStep: base?.step ?? null,
      config,
      status: b % 9 === 0 ? 'running' : 'done',
      createdAt: t,
      updatedAt: t,
      checkpoints: [...cps].reverse(),
    });
  }
  return [
    {
      id: 'bench-run',
      createdAt: t,
      seed: 1,
      seedSource: 'explicit',
      root: list[0].checkpoints[list[0].checkpoints.length - 1].id,
      config,
      branches: list,
    },
  ];
}

/** A noisy decaying loss curve of `n` points (benchmark only; deterministic). */
export function syntheticSeries(n: number, phase = 0): Point[] {
  const out: Point[] = new Array<Point>(n);
  let s = 12345 + phase;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const noise = (s / 0xffffffff - 0.5) * 0.3;
    out[i] = { x: i, y: 2.3 * Math.exp(-i / 15000) + 0.05 + noise * Math.exp(-i / 40000) };
  }
  return out;
}
