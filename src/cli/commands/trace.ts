/**
 * `trace <ref> [--from N --to N] [--with-indices]`: the recorded per-step trace of a ref's history
 * — `{ step, loss, batchDigest, stateDigest }` per step, plus each batch's example indices with
 * --with-indices. JSON: TraceInfo (src/shared/contract.ts).
 */
import type { Command } from 'commander';
import type { TraceInfo } from '../../main/service/trace-view';
import { emit, openStore } from '../context';
import { stepArg } from '../options';

export function register(program: Command): void {
  program
    .command('trace')
    .description('show the per-step trace of a ref: loss, batch digest, state digest')
    .argument('<ref>', 'checkpoint id or prefix, branch, or branch@step')
    .option('--from <n>', 'first step to show', stepArg)
    .option('--to <n>', 'last step to show', stepArg)
    .option('--with-indices', "also show each batch's example indices")
    .action(
      async (
        ref: string,
        opts: { from?: number; to?: number; withIndices?: boolean },
        cmd: Command,
      ) => {
        const store = await openStore(cmd, false);
        const { readTrace } = await import('../../main/service/trace-view'); // loaded on use
        const t = await readTrace(store, ref, opts);
        emit(cmd, t, () => formatTrace(t, opts.from));
      },
    );
}

function formatTrace(t: TraceInfo, from: number | undefined): string {
  const lines = [
    `trace of ${t.ref} (${t.checkpoint?.slice(0, 12)}, step ${t.step}; digests ${t.digests?.join(', ') || '-'})`,
    `${'step'.padStart(8)}  ${'loss'.padEnd(10)}  ${'batch'.padEnd(16)}  state`,
  ];
  const evals = new Map(t.evals.map((e) => [e.step, e.eval]));
  for (const s of t.steps) {
    let line = `${String(s.step).padStart(8)}  ${s.loss.toFixed(6).padEnd(10)}  ${s.batchDigest.padEnd(16)}  ${s.stateDigest}`;
    if (s.gLoss !== undefined) {
      line += `  d_loss ${s.dLoss ?? s.loss} g_loss ${s.gLoss}`;
    }
    const e = evals.get(s.step);
    if (e?.test) {
      line += `  test ${(e.test.precision * 100).toFixed(2)}%`;
    }
    lines.push(line);
    if (s.indices) {
      lines.push(`${''.padStart(8)}  indices ${s.indices.join(',')}`);
    }
  }
  if (t.missing) {
    lines.push(`(${t.missing} step(s) in the range have no recorded trace)`);
  }
  if (from !== undefined && t.step !== undefined && from > t.step) {
    lines.push(
      `(nothing to show: the history of ${t.ref} ends at step ${t.step}, before step ${from})`,
    );
  }
  return lines.join('\n');
}
