/**
 * The charts' min-max decimation and EMA smoothing (pure renderer helpers): a long series keeps
 * every column's extremes within a bounded point count, a short one is drawn whole, a zoomed
 * range keeps the points next to its edges; smoothing is debiased (a constant stays constant).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decimateMinMax } from '../../src/renderer/src/lib/chart/decimate';
import { emaSmooth } from '../../src/renderer/src/lib/series';

const series = (n: number): { x: number; y: number }[] =>
  Array.from({ length: n }, (_, i) => ({ x: i, y: Math.sin(i / 7) + (i === 54_321 ? 50 : 0) }));

test('a 100,000-point series becomes at most 4 points per column and keeps its extremes', () => {
  const data = series(100_000);
  const out = decimateMinMax(data, 0, 99_999, 1000);
  assert.ok(out.length <= 4000, `${out.length} points`);
  assert.ok(
    out.some((p) => p.x === 54_321),
    'the spike survives',
  );
  assert.equal(out[0].x, 0);
  assert.equal(out.at(-1)?.x, 99_999);
  for (let i = 1; i < out.length; i++) {
    assert.ok(out[i].x > out[i - 1].x, 'strictly increasing x');
  }
});

test('a short series is drawn whole; a zoomed range keeps one point beyond each edge', () => {
  const short = series(500);
  assert.equal(decimateMinMax(short, 0, 499, 1000), short);
  const zoomed = decimateMinMax(series(100_000), 1000.5, 1500.5, 1000);
  assert.equal(zoomed[0].x, 1000);
  assert.equal(zoomed.at(-1)?.x, 1501);
});

test('EMA smoothing is debiased: a constant series stays constant, weight 0 is the raw series', () => {
  const flat = Array.from({ length: 50 }, (_, i) => ({ x: i, y: 2 }));
  for (const p of emaSmooth(flat, 0.9)) {
    assert.ok(Math.abs(p.y - 2) < 1e-12);
  }
  const raw = series(30);
  assert.deepEqual(emaSmooth(raw, 0), raw);
});
