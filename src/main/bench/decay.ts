/**
 * Bench section "optimizer state with subnormals" (listed in ./bench.ts): the default MLP with
 * adam and with momentum at lr 0.01, ms/step early in the run (steps 100–400, before any slot is
 * subnormal) and later (from step 3,000), when the optimizer's state has decayed through
 * float32's subnormals where weights get no gradient — 18.7 % of adam's first-layer m by step
 * 3,000. Before the kernels computed such groups in float64 (../engine/kernels/wasm-module.ts,
 * `tiny`), x86's microcode assists for subnormal operands made adam's later steps ~3× slower
 * than its early ones (2.5 against 0.75 ms/step here). Each optimizer trains in a process of
 * its own (./worker.ts, one thread).
 */
import { runWorker, type BenchContext, type ExtraRow, type ExtraSection } from './bench';
import type { DecayResult } from './worker';

/** Where the two timed stretches start, and their length. */
const EARLY = 100;
const LATE = 3000;

export async function decaySection(ctx: BenchContext): Promise<ExtraSection> {
  const rows: ExtraRow[] = [];
  const [reps, steps] = ctx.quick ? [3, 50] : [3, 100];
  for (const optimizer of ['adam', 'momentum'] as const) {
    ctx.log(`decay: mlp ${optimizer} lr 0.01, steps from ${EARLY} and from ${LATE}`);
    const r = await runWorker<DecayResult>({ kind: 'decay', optimizer, early: EARLY, late: LATE, reps, steps }); // prettier-ignore
    const share = (100 * r.subnormal) / r.slots;
    rows.push(
      { label: `mlp 128,32 ${optimizer} lr 0.01, from step ${EARLY}`, value: r.earlyMs, unit: 'ms/step', note: `median of ${reps}×${steps} steps` }, // prettier-ignore
      {
        label: `mlp 128,32 ${optimizer} lr 0.01, from step ${LATE}`,
        value: r.lateMs,
        unit: 'ms/step',
        note: `${(r.lateMs / r.earlyMs).toFixed(2)}× the early steps; then ${share.toFixed(1)} % of the ${r.slots} slot floats subnormal`, // prettier-ignore
      },
    );
  }
  return { title: 'optimizer state with subnormals (wasm, 1 thread)', rows };
}
