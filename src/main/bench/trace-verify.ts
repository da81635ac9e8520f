/**
 * Bench sections of the trace and verify feature (listed in ./bench.ts's BENCH_SECTIONS):
 * "trace overhead in % of step time" (default MLP, sgd and adam) and "verify speed relative to
 * training speed". The measurements themselves are in ./measure.ts.
 */
import { measureTraceOverhead, measureVerifySpeed } from './measure';
import type { BenchContext, ExtraSection } from './bench';

export async function traceOverheadSection(ctx: BenchContext): Promise<ExtraSection> {
  ctx.log('trace: digest cost per step (default MLP, wasm)');
  const rows = [];
  for (const opt of ['sgd', 'adam'] as const) {
    const r = await measureTraceOverhead(opt, ctx.quick);
    rows.push({
      label: `trace overhead, mlp 128,32 ${opt}`,
      value: r.percent,
      unit: '% of step time',
      note: `${r.digestMs.toFixed(3)} ms digest / ${r.stepMs.toFixed(3)} ms step, ${r.floats} floats`,
    });
  }
  return { title: 'trace overhead in % of step time', rows };
}

export async function verifySpeedSection(ctx: BenchContext): Promise<ExtraSection> {
  ctx.log('verify: replay speed against training speed (default MLP, wasm)');
  const r = await measureVerifySpeed(ctx.quick);
  return {
    title: 'verify speed relative to training speed',
    rows: [
      {
        label: 'verify speed ÷ training speed',
        value: r.ratio,
        unit: '×',
        note: `${r.steps} steps: train ${r.trainMsPerStep.toFixed(3)} ms/step (job, with checkpoints), verify ${r.verifyMsPerStep.toFixed(3)} ms/step`,
      },
    ],
  };
}
