/**
 * `study --runs K [train options] [--parallel N]`: the seed study — K runs with the same seed and
 * K with different seeds; mean and std of the final loss and test precision per group and the
 * same-seed share of the spread (0 is the goal; anything else is flagged as a determinism bug,
 * exit 1). `study --list` shows the stored studies. Ctrl-C stops the study.
 */
import type { Command } from 'commander';
import {
  addTrainingOptions,
  DEFAULT_LR,
  modelAndDataOf,
  resolveSeed,
  type TrainingOptionValues,
} from '../training-options';
import { listStudies, runStudy, type StudyReport } from '../../main/service/study';
import { emit, openStore, say } from '../context';
import { CliError, EXIT_NEGATIVE } from '../errors';
import { intArg } from '../options';

interface StudyOptions extends TrainingOptionValues {
  runs?: number;
  list?: boolean;
  parallel?: number;
}

export function register(program: Command): void {
  const study = program
    .command('study')
    .description('seed study: K runs with the same seed against K with different seeds')
    .option('--runs <k>', 'runs per group', intArg(1))
    .option('--list', 'list the stored studies')
    .option(
      '--parallel <n>',
      'processes at once (default: one per core; 1 = in this process)',
      intArg(1),
    );
  addTrainingOptions(study, 'base seed (default: LOCKSTEP_SEED, else auto)').action(
    async (opts: StudyOptions, cmd: Command) => {
      if (opts.list) {
        const store = await openStore(cmd, false);
        const studies = await listStudies(store);
        emit(cmd, studies, () =>
          studies.length === 0 ? 'no studies yet' : studies.map(formatStudy).join('\n\n'),
        );
        return;
      }
      if (opts.runs === undefined) {
        throw new CliError('study needs --runs K (or --list)');
      }
      const seed = await baseSeed(cmd, opts.seed);
      const { model, augment } = modelAndDataOf(opts, cmd);
      const store = await openStore(cmd);
      const abort = new AbortController();
      const onSigint = (): void => {
        say(cmd, 'stopping the study after the current steps…');
        abort.abort();
      };
      process.once('SIGINT', onSigint);
      let r: StudyReport;
      try {
        r = await runStudy(
          store,
          {
            runs: opts.runs,
            seed,
            train: {
              dataset: opts.dataset,
              model: model.kind,
              hidden: model.hidden,
              ...(model.layers !== undefined ? { layers: model.layers } : {}),
              ...(augment ? { augment } : {}),
              optimizer: opts.optimizer,
              lr: opts.lr ?? DEFAULT_LR[opts.optimizer],
              batchSize: opts.batchSize,
              steps: opts.steps,
              checkpointEvery: opts.checkpointEvery ?? 500,
              evalEvery: opts.evalEvery ?? 1000,
              backend: opts.backend,
            },
          },
          {
            signal: abort.signal,
            parallel: opts.parallel,
            onProgress: (done, total) => process.stderr.write(`study: ${done}/${total} runs\n`),
          },
        );
      } finally {
        process.off('SIGINT', onSigint);
      }
      emit(cmd, r, () => formatStudy(r));
      if (r.determinismBug) {
        process.exitCode = EXIT_NEGATIVE;
      }
    },
  );
}

async function baseSeed(cmd: Command, opt: number | 'auto' | undefined): Promise<number> {
  const { seed, source } = await resolveSeed(opt);
  if (source === 'auto') {
    say(cmd, `base seed ${seed} (auto; pass --seed ${seed} to repeat this study)`);
  }
  return seed;
}

function formatStudy(r: StudyReport): string {
  const f = (x: number, d = 6) => x.toFixed(d);
  const row = (name: string, g: StudyReport['sameSeed']) =>
    `${name.padEnd(16)} ${String(g.seeds.length).padStart(4)}  ${f(g.finalLoss.mean)}  ${f(g.finalLoss.std)}  ${f(g.testPrecision.mean, 4)}  ${f(g.testPrecision.std, 6)}`;
  const lines = [
    `study ${r.id}${r.createdAt ? ` (${r.createdAt})` : ''}: ${r.runs} + ${r.runs} runs, base seed ${r.baseSeed ?? '?'}${r.steps ? `, ${r.steps} steps` : ''}`,
    `${'group'.padEnd(16)} runs  loss mean  loss std  test mean  test std`,
    row('same seed', r.sameSeed),
    row('different seeds', r.differentSeeds),
    `same-seed share of the spread: loss ${r.sameSeedShare}${
      r.sameSeedPrecisionShare !== undefined ? `, test precision ${r.sameSeedPrecisionShare}` : ''
    }`,
    r.determinismBug
      ? `DETERMINISM BUG: ${r.determinismBug.detail}`
      : 'same-seed runs identical: zero spread, every final checkpoint the same',
  ];
  return lines.join('\n');
}
