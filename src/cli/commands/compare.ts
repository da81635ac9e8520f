/**
 * `compare <refA> <refB>`: whether two runs are the same and, if not, exactly where they part —
 * the first divergent step, the first differing tensor there (differing elements, max |Δ|, max
 * ULP), whether the data and the batches were the same. JSON: `{ identical, firstDivergentStep,
 * tensor, differing, maxAbsDiff, maxUlp, sameData, sameBatchesUntil, … }`. Exit 0 identical,
 * 1 differences found.
 */
import type { Command } from 'commander';
import type { CompareReport } from '../../main/service/compare';
import { emit, openStore } from '../context';
import { EXIT_NEGATIVE } from '../errors';

export function register(program: Command): void {
  program
    .command('compare')
    .description('compare two runs: first divergent step and tensor, same data, same batches')
    .argument('<refA>', 'checkpoint id or prefix, branch, or branch@step')
    .argument('<refB>', 'checkpoint id or prefix, branch, or branch@step')
    .action(async (a: string, b: string, _opts: unknown, cmd: Command) => {
      const store = await openStore(cmd, false);
      const { compareRefs } = await import('../../main/service/compare'); // loaded on use (tfjs)
      const abort = new AbortController();
      const onSigint = (): void => abort.abort();
      process.once('SIGINT', onSigint);
      let r: CompareReport;
      try {
        r = await compareRefs(store, a, b, { signal: abort.signal });
      } finally {
        process.off('SIGINT', onSigint);
      }
      emit(cmd, r, () => r.summary.join('\n'));
      if (!r.identical) {
        process.exitCode = EXIT_NEGATIVE;
      }
    });
}
