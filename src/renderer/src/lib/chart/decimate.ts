/**
 * Min-max decimation of a sorted series before it reaches Chart.js: for the x range in view,
 * each of `buckets` equal columns keeps its first, lowest, highest and last point, so the drawn
 * line keeps every peak and trough of the full series at a few thousand points whatever its
 * length. One point on each side of the range is kept so the line runs to the edges. Series
 * short enough to draw whole (≤ 4 points per bucket) are returned as they are. O(n). Pure.
 */
export interface XY {
  x: number;
  y: number;
}

/** Index of the first point with x ≥ v in `data` (sorted by x). */
function lowerBound(data: readonly XY[], v: number): number {
  let lo = 0;
  let hi = data.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (data[mid].x < v) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

/** The points of `data` (sorted by x) to draw for x in [min, max] over `buckets` columns. */
export function decimateMinMax(
  data: readonly XY[],
  min: number,
  max: number,
  buckets: number,
): readonly XY[] {
  const n = data.length;
  const cols = Math.max(1, Math.floor(buckets));
  if (n <= 4 * cols || !(max > min)) {
    return data;
  }
  const start = Math.max(0, lowerBound(data, min) - 1);
  const end = Math.min(n, lowerBound(data, max) + 1);
  if (end - start <= 4 * cols) {
    return data.slice(start, end);
  }
  const out: XY[] = [];
  const width = (max - min) / cols;
  let i = start;
  while (i < end) {
    const col = Math.min(cols - 1, Math.max(0, Math.floor((data[i].x - min) / width)));
    const first = i;
    let lo = i;
    let hi = i;
    i++;
    while (
      i < end &&
      Math.min(cols - 1, Math.max(0, Math.floor((data[i].x - min) / width))) === col
    ) {
      if (data[i].y < data[lo].y) {
        lo = i;
      }
      if (data[i].y > data[hi].y) {
        hi = i;
      }
      i++;
    }
    const last = i - 1;
    // in x order, without repeats
    const picks = [first, lo, hi, last].sort((a, b) => a - b);
    let prev = -1;
    for (const k of picks) {
      if (k !== prev) {
        out.push(data[k]);
        prev = k;
      }
    }
  }
  return out;
}
