/**
 * The bench's "optimizer state with subnormals" section (src/main/bench/decay.ts, --quick: real
 * bench workers training the default MLP): adam's and momentum's ms/step early in a run and after
 * step 3,000, and the share of their slots then subnormal — adam's first-layer m decays through
 * float32's subnormals where its weights get no gradient, which is what the section is about.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decaySection } from '../../src/main/bench/decay';
import { ROOT } from '../helpers/cli';

test('the decay section: early and late ms/step of adam and momentum, and the subnormal share of their state', async () => {
  const s = await decaySection({ quick: true, peer: false, repoRoot: ROOT, log: () => {} });
  assert.equal(s.rows.length, 4, s.rows.map((r) => r.label).join('; '));
  for (const opt of ['adam', 'momentum']) {
    const row = (from: number) => s.rows.find((r) => r.label === `mlp 128,32 ${opt} lr 0.01, from step ${from}`); // prettier-ignore
    const [early, late] = [row(100), row(3000)];
    assert.ok(early && late, `${opt}: ${s.rows.map((r) => r.label).join('; ')}`);
    assert.ok(early.value > 0 && late.value > 0, `${opt}: ${early.value}, ${late.value}`);
    assert.equal(early.note, 'median of 3×50 steps');
    const m = /^([0-9.]+)× the early steps; then ([0-9.]+) % of the ([0-9]+) slot floats subnormal$/.exec(late.note ?? ''); // prettier-ignore
    assert.ok(m, late.note);
    assert.equal(Number(m[1]), Number((late.value / early.value).toFixed(2)));
    // the default MLP's slots: adam's m and v, momentum's one per weight (784·128 + 128·32 + 32·10 + 170)
    assert.equal(Number(m[3]), (opt === 'adam' ? 2 : 1) * 104938);
    if (opt === 'adam') {
      // (by step 3,000 at lr 0.01, ~10 % of adam's slots are subnormal: the state the row is about)
      assert.ok(Number(m[2]) > 1, late.note);
    }
  }
});
