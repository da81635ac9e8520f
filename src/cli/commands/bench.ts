/**
 * `bench [--quick] [--peer] [--out FILE]`: training speed on every available backend,
 * checkpoint and resume times, peak RSS; with --peer also the PyTorch peer and the ratio.
 * Writes the report as JSON to --out (default bench-results/bench-<date>.json) and prints the
 * table (with --json: the report as the last stdout line; progress on stderr).
 */
import type { Command } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { formatBenchTable, runBench } from '../../main/bench/bench';
import { emit, globalOptions } from '../context';

export function register(program: Command): void {
  program
    .command('bench')
    .description('measure training speed, checkpoint and resume times (and the PyTorch peer)')
    .option('--quick', 'fewer and shorter repetitions')
    .option('--peer', 'also run the PyTorch peer (needs python3-torch) and print ours/peer')
    .option('--out <file>', 'JSON report file (default bench-results/bench-<date>.json)')
    .action(async (opts: { quick?: boolean; peer?: boolean; out?: string }, cmd: Command) => {
      const json = globalOptions(cmd).json === true;
      const report = await runBench({
        quick: opts.quick === true,
        peer: opts.peer === true,
        log: (line) => process.stderr.write(`${line}\n`),
      });
      const stamp = report.date.replace(/[:]/g, '-').replace(/\..*$/, '');
      const out = resolve(opts.out ?? join('bench-results', `bench-${stamp}.json`));
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
      if (!json) {
        process.stdout.write(`${formatBenchTable(report)}\n\nreport: ${out}\n`);
      } else {
        emit(cmd, { ...report, out }, () => '');
      }
    });
}
