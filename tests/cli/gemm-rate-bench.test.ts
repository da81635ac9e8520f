/**
 * The bench's "GEMM throughput" section (src/main/bench/gemm-rate.ts) with one round: our packed
 * GEMM's rate from a real run of the bench worker, and — where python3 imports torch — torch.mm's
 * on the same shape and the ratio of the two; without --peer, no peer rows.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GEMM_RATE_SHAPE, GEMM_RATE_TITLE, gemmRateSection } from '../../src/main/bench/gemm-rate';
import { ROOT } from '../helpers/cli';
import { torchOrSkip } from '../helpers/torch';

const name = GEMM_RATE_SHAPE.join('×');

test('our GEMM rate, and no peer rows without --peer', async () => {
  const s = await gemmRateSection({ quick: true, peer: false, repoRoot: ROOT, log: () => {} });
  assert.equal(s.title, GEMM_RATE_TITLE);
  assert.equal(s.rows.length, 1);
  const [ours] = s.rows;
  assert.equal(ours.label, `ours: packed dense GEMM ${name} (wasm)`);
  assert.equal(ours.unit, 'GMAC/s');
  // (a real rate: far above 0, far below what one core can do)
  assert.ok(ours.value > 0.1 && ours.value < 1000, String(ours.value));
});

test("with --peer, torch.mm's rate on the same shape and the ratio", async (t) => {
  if (!torchOrSkip(t)) {
    return;
  }
  const s = await gemmRateSection({ quick: true, peer: true, repoRoot: ROOT, log: () => {} });
  assert.deepEqual(
    s.rows.map((r) => r.unit),
    ['GMAC/s', 'GMAC/s', '×'],
  );
  const [ours, peer, ratio] = s.rows;
  assert.match(peer.label, new RegExp(`^peer: torch\\.mm ${name} \\(torch `));
  assert.ok(peer.value > 0.1 && peer.value < 1000, String(peer.value));
  // one round: the ratio is that round's
  assert.ok(Math.abs(ratio.value - peer.value / ours.value) < 1e-9 * ratio.value, `${ratio.value} vs ${peer.value} / ${ours.value}`); // prettier-ignore
});
