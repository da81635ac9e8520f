/**
 * Per-tensor histograms of a checkpoint (weights, biases and optimizer slots), for the UI's
 * weight view. Statistics are computed in float64 over the float32 values; the bins split
 * [min, max] evenly (a constant tensor gets one unit-wide range around its value). Non-finite
 * values (never stored by training) are left out of every statistic.
 */
import type { TensorHistogram } from '../../shared/contract';
import type { TrainingState } from '../engine/types';

export const DEFAULT_BINS = 30;

/** Histograms of every tensor of `state`, by name. */
export function histograms(state: TrainingState, bins = DEFAULT_BINS): TensorHistogram[] {
  return Object.keys(state.tensors)
    .sort()
    .map((name) =>
      tensorHistogram(name, state.tensors[name].shape, state.tensors[name].data, bins),
    );
}

/** The histogram of one tensor. */
export function tensorHistogram(
  name: string,
  shape: number[],
  data: Float32Array,
  bins = DEFAULT_BINS,
): TensorHistogram {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let n = 0;
  for (const v of data) {
    if (Number.isFinite(v)) {
      min = Math.min(min, v);
      max = Math.max(max, v);
      sum += v;
      n++;
    }
  }
  if (n === 0) {
    return { name, shape, min: 0, max: 0, mean: 0, std: 0, edges: [], counts: [] };
  }
  const mean = sum / n;
  let sq = 0;
  for (const v of data) {
    if (Number.isFinite(v)) {
      sq += (v - mean) * (v - mean);
    }
  }
  const lo = min === max ? min - 0.5 : min;
  const hi = min === max ? max + 0.5 : max;
  const width = (hi - lo) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? hi : lo + i * width));
  const counts = new Array<number>(bins).fill(0);
  for (const v of data) {
    if (Number.isFinite(v)) {
      counts[Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / width)))]++;
    }
  }
  return { name, shape, min, max, mean, std: Math.sqrt(sq / n), edges, counts };
}
