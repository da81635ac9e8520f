/**
 * `train` and `continue`: run a training job in this process and print the result of the CLI
 * contract `{ run, branch, checkpoint, step, stateHash, seed, backend, loss, msPerStep, eval }`.
 * Ctrl-C stops after the current step and writes a checkpoint there.
 */
import type { Command } from 'commander';
import {
  addTrainingOptions,
  DEFAULT_LR,
  resolveSeed,
  type TrainingOptionValues,
} from '../training-options';
import { OPTIMIZERS, type TrainingConfig } from '../../main/engine/types';
import { validateConfig } from '../../main/engine/trainer';
import { continueFrom, startRun, type JobEvents, type JobResult } from '../../main/service/train';
import { openStore, globalOptions, say, emit } from '../context';
import { EXIT_NEGATIVE } from '../errors';
import { batchSizeArg, choice, intervalArg, lrArg, stepsArg } from '../options';
import { createProgress } from '../progress';

interface TrainOptions extends TrainingOptionValues {
  branch?: string;
}

export function register(program: Command): void {
  addTrainingOptions(
    program.command('train').description('train a new run from step 0'),
    'root seed (default: LOCKSTEP_SEED, else auto)',
  )
    .option('--branch <name>', 'name of the new branch')
    .action(async (opts: TrainOptions, cmd: Command) => {
      const { seed, source } = await resolveSeed(opts.seed);
      if (source !== 'explicit') {
        say(cmd, `seed ${seed} (${source}; pass --seed ${seed} to repeat this run)`);
      }
      const hidden = opts.model === 'mlp' ? (opts.hidden ?? [128, 32]) : (opts.hidden ?? []);
      const config: TrainingConfig = {
        dataset: opts.dataset,
        model: { kind: opts.model, hidden },
        optimizer: { kind: opts.optimizer, lr: opts.lr ?? DEFAULT_LR[opts.optimizer] },
        batchSize: opts.batchSize,
        seed,
        backend: opts.backend,
      };
      validateConfig(config); // bad input fails before the store is opened or created
      const store = await openStore(cmd);
      await runJob(cmd, (events, signal) =>
        startRun(
          store,
          {
            config,
            seedSource: source,
            steps: opts.steps,
            checkpointEvery: opts.checkpointEvery,
            evalEvery: opts.evalEvery,
            branch: opts.branch,
          },
          events,
          signal,
        ),
      );
    });

  program
    .command('continue')
    .description('continue from a checkpoint; changed hyperparameters start a new branch')
    .argument('<ref>', 'checkpoint id or prefix, branch, or branch@step')
    .requiredOption('--steps <n>', 'parameter updates to run', stepsArg)
    .option('--lr <x>', 'new learning rate (starts a branch)', lrArg)
    .option(
      '--optimizer <kind>',
      `new optimizer (${OPTIMIZERS.join('|')}; starts a branch)`,
      choice(OPTIMIZERS),
    )
    .option('--batch-size <n>', 'new batch size (starts a branch)', batchSizeArg)
    .option('--checkpoint-every <n>', 'store a checkpoint every n steps (default 500)', intervalArg)
    .option('--eval-every <n>', 'evaluate every n steps (default 1000)', intervalArg)
    .option('--branch <name>', 'name of the new branch (starts a branch)')
    .action(
      async (
        ref: string,
        opts: Omit<TrainOptions, 'dataset' | 'model' | 'optimizer' | 'batchSize'> & {
          optimizer?: TrainOptions['optimizer'];
          batchSize?: number;
        },
        cmd: Command,
      ) => {
        const store = await openStore(cmd, false);
        await runJob(cmd, (events, signal) =>
          continueFrom(
            store,
            {
              from: ref,
              steps: opts.steps,
              lr: opts.lr,
              optimizer: opts.optimizer,
              batchSize: opts.batchSize,
              checkpointEvery: opts.checkpointEvery,
              evalEvery: opts.evalEvery,
              branch: opts.branch,
            },
            events,
            signal,
          ),
        );
      },
    );
}

async function runJob(
  cmd: Command,
  job: (events: JobEvents, signal: AbortSignal) => Promise<JobResult>,
): Promise<void> {
  const json = globalOptions(cmd).json ?? false;
  const progress = createProgress(json);
  const abort = new AbortController();
  const onSigint = (): void => {
    say(cmd, 'stopping after this step (Ctrl-C again to kill)…');
    abort.abort();
    process.off('SIGINT', onSigint);
  };
  process.on('SIGINT', onSigint);
  let result: JobResult;
  try {
    result = await job(
      {
        started: (i) => {
          say(
            cmd,
            `${i.fromStep === 0 ? 'training' : 'continuing'} ${i.branch} (run ${i.run}) from step ${i.fromStep} to ${i.toStep} on ${i.config.backend}`,
          );
          progress.start(i.fromStep, i.toStep);
        },
        step: (s) => progress.step(s.step, s.loss),
        notice: (m) => process.stderr.write(`note: ${m}\n`),
      },
      abort.signal,
    );
  } finally {
    progress.stop();
    process.off('SIGINT', onSigint);
  }
  const { reproduced, created, status, note, ...contract } = result;
  emit(cmd, { ...contract, status, ...(note ? { note } : {}), reproduced, created }, () =>
    formatResult(result),
  );
  if (status === 'diverged') {
    process.stderr.write(`diverged: ${note}\n`);
    process.exitCode = EXIT_NEGATIVE;
  }
}

function pct(x: number | undefined): string {
  return x === undefined ? '-' : `${(x * 100).toFixed(2)}%`;
}

function formatResult(r: JobResult): string {
  const lines = [
    `${r.status === 'done' ? 'done' : r.status}: branch ${r.branch} at step ${r.step}`,
    `  checkpoint ${r.checkpoint}`,
    `  seed ${r.seed} · backend ${r.backend} · loss ${r.loss === null ? '-' : r.loss.toFixed(4)} · ${r.msPerStep.toFixed(2)} ms/step`,
    `  precision@1 train ${pct(r.eval.train?.precision)} · validation ${pct(r.eval.validation?.precision)} · test ${pct(r.eval.test?.precision)}`,
  ];
  if (r.reproduced > 0) {
    lines.push(
      `  ${r.reproduced} checkpoint(s) reproduced bit-for-bit: identical to the existing ones, nothing new stored for them`,
    );
  }
  if (r.note) {
    lines.push(`  ${r.note}`);
  }
  return lines.join('\n');
}
