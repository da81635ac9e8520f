/**
 * The bounded loss curve the service's job history and the UI's live curve share
 * (src/shared/loss-curve.ts): every step below the bound, evenly thinned beyond with the latest
 * step always there, and a curve re-made from a view going on exactly as one that saw every step
 * (a reloaded page against one that followed the job from its start).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LossCurve, MAX_LOSS_POINTS } from '../../src/shared/loss-curve';

type P = { step: number; loss: number; gLoss?: number };

/** Steps first..last, one point each (a gan's generator loss beside every third). */
function steps(first: number, last: number): P[] {
  const out: P[] = [];
  for (let s = first; s <= last; s++) {
    out.push(s % 3 === 0 ? { step: s, loss: 1 / s, gLoss: 2 / s } : { step: s, loss: 1 / s });
  }
  return out;
}

/** A curve given `points` in reports of `size` steps. */
function fed(points: readonly P[], size: number, max?: number): LossCurve<P> {
  const c = new LossCurve<P>(max);
  for (let i = 0; i < points.length; i += size) {
    c.add(points.slice(i, i + size));
  }
  return c;
}

test('every step while fewer than the bound; then evenly thinned, at most the bound, the latest step last', () => {
  const few = fed(steps(1, MAX_LOSS_POINTS - 1), 100).view();
  assert.equal(few.length, MAX_LOSS_POINTS - 1);
  assert.deepEqual(few, steps(1, MAX_LOSS_POINTS - 1));

  const n = MAX_LOSS_POINTS * 5 + 3;
  const v = fed(steps(1, n), 100).view();
  assert.ok(v.length <= MAX_LOSS_POINTS + 1, `${v.length} points`);
  assert.ok(v.length >= MAX_LOSS_POINTS / 2, `${v.length} points`);
  assert.equal(v[0].step, 1);
  assert.equal(v.at(-1)?.step, n);
  const stride = v[1].step - v[0].step;
  assert.ok(stride > 1 && (stride & (stride - 1)) === 0, `stride ${stride}: a power of two`);
  for (let i = 1; i < v.length - 1; i++) {
    assert.equal(v[i].step - v[i - 1].step, stride, `even spacing at ${i}`);
  }
  // each point is the one given, with its generator loss or without the key
  for (const p of v) {
    assert.deepEqual(p, steps(p.step, p.step)[0]);
  }
});

test('a curve made from a view, then given the steps after it, has the view of one given them all', () => {
  for (const max of [4, 6, 8, 64]) {
    for (const first of [1, 7]) {
      const all = steps(first, first + 40 * max);
      const whole = fed(all, 5, max).view();
      for (let cut = 1; cut < all.length; cut += 3) {
        const resumed = LossCurve.from(fed(all.slice(0, cut), 7, max).view(), max);
        resumed.add(all.slice(cut));
        assert.deepEqual(
          resumed.view().map((p) => p.step),
          whole.map((p) => p.step),
          `max ${max}, first step ${first}, re-made after ${cut} steps`,
        );
      }
    }
  }
  assert.deepEqual(LossCurve.from<P>([]).view(), []);
  assert.throws(() => new LossCurve(3), RangeError);
});
