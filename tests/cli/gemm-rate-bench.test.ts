/**
 * The bench's "GEMM throughput" section (src/main/bench/gemm-rate.ts) with one round: our packed
 * GEMM's rate from a real run of the bench worker, its native twin's (or why it did not run:
 * with LOCKSTEP_NATIVE=0), and — where python3 imports torch — torch.mm's on the same shape and
 * the ratio to the kernel training runs; without --peer, no peer rows.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  GEMM_RATE_SHAPE,
  GEMM_RATE_TITLE,
  gemmRateSection,
  isaName,
} from '../../src/main/bench/gemm-rate';
import { nativeKernels } from '../../src/main/engine/kernels/native';
import { ROOT } from '../helpers/cli';
import { torchOrSkip } from '../helpers/torch';

const name = GEMM_RATE_SHAPE.join('×');

test('our GEMM rates (wasm, native), and no peer rows without --peer', async () => {
  const s = await gemmRateSection({ quick: true, peer: false, repoRoot: ROOT, log: () => {} });
  assert.equal(s.title, GEMM_RATE_TITLE);
  assert.equal(s.rows.length, 2);
  const [ours, native] = s.rows;
  assert.equal(ours.label, `ours: packed dense GEMM ${name} (wasm)`);
  assert.equal(ours.unit, 'GMAC/s');
  // (a real rate: far above 0, far below what one core can do)
  assert.ok(ours.value > 0.1 && ours.value < 1000, String(ours.value));
  if (nativeKernels() === null) {
    assert.ok(Number.isNaN(native.value) && /^not run: /.test(native.note ?? ''), native.note);
  } else {
    assert.equal(
      native.label,
      `ours: native dense GEMM ${name} (${isaName(nativeKernels()!.isa)})`,
    );
    assert.ok(native.value > 0.1 && native.value < 1000, String(native.value));
  }
});

test('without the native kernels the section says why', async () => {
  const before = process.env.LOCKSTEP_NATIVE;
  process.env.LOCKSTEP_NATIVE = '0'; // (the worker is a process of its own: it reads this)
  try {
    const s = await gemmRateSection({ quick: true, peer: false, repoRoot: ROOT, log: () => {} });
    const native = s.rows[1];
    assert.ok(Number.isNaN(native.value));
    assert.match(native.note ?? '', /^not run: turned off \(LOCKSTEP_NATIVE=0\)/);
  } finally {
    if (before === undefined) {
      delete process.env.LOCKSTEP_NATIVE;
    } else {
      process.env.LOCKSTEP_NATIVE = before;
    }
  }
});

test("with --peer, torch.mm's rate on the same shape and the ratio", async (t) => {
  if (!torchOrSkip(t)) {
    return;
  }
  const s = await gemmRateSection({ quick: true, peer: true, repoRoot: ROOT, log: () => {} });
  assert.deepEqual(
    s.rows.map((r) => r.unit),
    ['GMAC/s', 'GMAC/s', 'GMAC/s', '×'],
  );
  const [wasm, native, peer, ratio] = s.rows;
  assert.match(peer.label, new RegExp(`^peer: torch\\.mm ${name} \\(torch `));
  assert.ok(peer.value > 0.1 && peer.value < 1000, String(peer.value));
  // one round: the ratio is that round's, against the kernel training runs
  const ours = Number.isNaN(native.value) ? wasm : native;
  assert.ok(Math.abs(ratio.value - peer.value / ours.value) < 1e-9 * ratio.value, `${ratio.value} vs ${peer.value} / ${ours.value}`); // prettier-ignore
});
