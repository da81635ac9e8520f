/** Turning evaluations into chart series. Pure. */
import type { EvalResult } from '../../../shared/training';
import type { Point } from './state/live.svelte';

export const SPLITS = ['train', 'validation', 'test'] as const;
export type Split = (typeof SPLITS)[number];

/** precision@1 per split as points (step, precision), in step order. */
export function precisionSeries(
  evals: readonly { step: number; eval: EvalResult }[],
): Record<Split, Point[]> {
  const out: Record<Split, Point[]> = { train: [], validation: [], test: [] };
  const sorted = [...evals].sort((a, b) => a.step - b.step);
  for (const e of sorted) {
    for (const split of SPLITS) {
      const s = e.eval[split];
      if (s) {
        out[split].push({ x: e.step, y: s.precision });
      }
    }
  }
  return out;
}

/** Dashes that tell the splits apart when colors tell the branches apart. */
export const SPLIT_DASH: Record<Split, number[]> = {
  train: [],
  validation: [6, 3],
  test: [2, 2],
};
