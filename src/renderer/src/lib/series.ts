/** Turning evaluations into chart series. Pure. */
import type { EvalResult } from '../../../shared/training';
import type { Point } from './point';

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

/**
 * TensorBoard's smoothing: an exponential moving average with weight `w` in [0, 1), debiased so
 * the first points are not pulled towards 0 (s_n = w·s_{n-1} + (1−w)·y_n, shown as s_n / (1−w^n)).
 */
export function emaSmooth(data: readonly Point[], w: number): Point[] {
  const out: Point[] = new Array<Point>(data.length);
  let s = 0;
  let debias = 1;
  for (let i = 0; i < data.length; i++) {
    s = w * s + (1 - w) * data[i].y;
    debias *= w;
    out[i] = { x: data[i].x, y: s / (1 - debias) };
  }
  return out;
}
