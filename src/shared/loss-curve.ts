/**
 * A job's training-loss curve, bounded: the one rule by which the service keeps a job's history
 * (src/main/service/jobs/history.ts) and the UI keeps the curve it draws while it follows the job
 * (src/renderer/src/lib/state/live.svelte.ts), so a long job costs neither more than
 * {@link MAX_LOSS_POINTS} points, and a window that re-attaches to a job (a reloaded page) goes on
 * with the same points a window that followed it from its start has.
 *
 * Promises:
 * - While a curve has been given fewer than {@link MAX_LOSS_POINTS} steps, it keeps every one.
 *   Beyond, it keeps the steps `first + k·stride` (first: the first step it was given), the
 *   stride doubling each time the kept points reach the bound: thinned evenly, like a zoomed-out
 *   chart. `view()` adds the latest step given when it is not a kept one, so the curve always
 *   spans the job up to now.
 * - Which steps are kept depends on the steps alone, not on how they arrived: a curve made
 *   {@link LossCurve.from} another curve's view, then given the steps that followed, has the view
 *   of one curve given them all.
 * - A point keeps every field it came with (a gan's `gLoss` beside its `loss`).
 * - Steps are given in increasing order, each once (a training job reports every step).
 *
 * No Node imports: the renderer imports this file.
 */

/** Most points a curve keeps (a chart is a few thousand pixels wide at most). */
export const MAX_LOSS_POINTS = 20_000;

export class LossCurve<P extends { step: number }> {
  private kept: P[] = [];
  /** kept steps are `kept[0].step + k·stride` (kept[0] is the first step given: always kept) */
  private stride = 1;
  private last: P | null = null;

  /** `max`: at least 4 (a thinned curve then keeps two points or more, which `from` reads) */
  constructor(private readonly max = MAX_LOSS_POINTS) {
    if (!Number.isInteger(max) || max < 4) {
      throw new RangeError(`a loss curve keeps at least 4 points, not ${max}`);
    }
  }

  /**
   * A curve that goes on from `view`, the view of another curve with the same bound (e.g. a
   * job's history): its stride is the distance of its first two points, which are kept ones.
   */
  static from<P extends { step: number }>(view: readonly P[], max = MAX_LOSS_POINTS): LossCurve<P> {
    const c = new LossCurve<P>(max);
    if (view.length === 0) {
      return c;
    }
    c.stride = view.length >= 2 ? view[1].step - view[0].step : 1;
    c.kept = view.filter((p) => (p.step - view[0].step) % c.stride === 0);
    c.last = view[view.length - 1];
    return c;
  }

  /** Takes the next reported steps. */
  add(points: readonly P[]): void {
    for (const p of points) {
      if ((p.step - (this.kept[0]?.step ?? p.step)) % this.stride === 0) {
        this.kept.push(p);
        if (this.kept.length >= this.max) {
          this.kept = this.kept.filter((_, i) => i % 2 === 0);
          this.stride *= 2;
        }
      }
      this.last = p;
    }
  }

  /** The kept points, then the latest step given when it is not one of them. */
  view(): P[] {
    const out = this.kept.slice();
    if (this.last !== null && out.at(-1)?.step !== this.last.step) {
      out.push(this.last);
    }
    return out;
  }
}
