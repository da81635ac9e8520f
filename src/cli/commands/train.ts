/**
 * `train` and `continue`: run a training job in this process and print the result of the CLI
 * contract `{ run, branch, checkpoint, step, stateHash, seed, backend, loss, msPerStep, eval }`.
 * Ctrl-C stops after the current step and writes a checkpoint there.
 */
import type { Command } from 'commander';
import {
  addTrainingOptions,
  resolveSeed,
  runFieldsOf,
  type TrainingOptionValues,
} from '../training-options';
import { configOfRequest } from '../../main/service/model-request';
import { OPTIMIZERS, isBuiltinDataset, type TrainingConfig } from '../../main/engine/types';
import { checkBranchName } from '../../main/store/layout';
import type { JobEvent, TrainResult } from '../../shared/contract';
import type { TrainControl } from '../../main/service/train';
import { openStore, openStoreIfAny, globalOptions, say, emit } from '../context';
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
      if (opts.branch !== undefined) {
        checkBranchName(opts.branch); // before a seed is drawn and printed
      }
      const { seed, source } = await resolveSeed(opts.seed);
      if (source !== 'explicit') {
        say(cmd, `seed ${seed} (${source}; pass --seed ${seed} to repeat this run)`);
      }
      const config: TrainingConfig = configOfRequest(await runFieldsOf(opts, cmd), seed);
      // the engine (tfjs) is loaded on use, so commands that never train start fast
      const { validateConfig } = await import('../../main/engine/trainer');
      const { startRun } = await import('../../main/service/train');
      if (!isBuiltinDataset(config.dataset)) {
        // a stored dataset (`lockstep data add`) is read from the store, which must exist
        await openStoreIfAny(cmd);
      }
      validateConfig(config); // bad input fails before the store is opened or created
      const store = await openStore(cmd);
      await runJob(cmd, (ctl) =>
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
          ctl,
        ),
      );
    });

  program
    .command('continue')
    .description('continue from a checkpoint; changed hyperparameters start a new branch')
    .argument('<ref>', 'checkpoint id or prefix, branch, or branch@step')
    .requiredOption('--steps <n>', 'parameter updates to run', stepsArg)
    .option('--lr <x>', 'new learning rate (a gan: the generator’s; starts a branch)', lrArg)
    .option('--d-lr <x>', 'a gan: new discriminator learning rate (starts a branch)', lrArg)
    .option(
      '--optimizer <kind>',
      `new optimizer (${OPTIMIZERS.join('|')}; starts a branch)`,
      choice(OPTIMIZERS),
    )
    .option('--batch-size <n>', 'new batch size (starts a branch)', batchSizeArg)
    .option(
      '--checkpoint-every <n>',
      'store a checkpoint every n steps (default: the branch’s, else 500)',
      intervalArg,
    )
    .option(
      '--eval-every <n>',
      'evaluate every n steps (default: the branch’s, else 1000)',
      intervalArg,
    )
    .option('--branch <name>', 'name of the new branch (starts a branch)')
    .option(
      '--same-branch',
      'refuse, instead of starting a new branch, when this machine’s backend fingerprint differs from the checkpoint’s',
    )
    .action(
      async (
        ref: string,
        opts: Omit<TrainOptions, 'dataset' | 'model' | 'optimizer' | 'batchSize'> & {
          optimizer?: TrainOptions['optimizer'];
          batchSize?: number;
          sameBranch?: boolean;
        },
        cmd: Command,
      ) => {
        const store = await openStore(cmd, false);
        const { continueFrom } = await import('../../main/service/train'); // loaded on use (tfjs)
        await runJob(cmd, (ctl) =>
          continueFrom(
            store,
            {
              from: ref,
              steps: opts.steps,
              lr: opts.lr,
              dLr: opts.dLr,
              optimizer: opts.optimizer,
              batchSize: opts.batchSize,
              checkpointEvery: opts.checkpointEvery,
              evalEvery: opts.evalEvery,
              branch: opts.branch,
              sameBranch: opts.sameBranch,
            },
            ctl,
          ),
        );
      },
    );
}

async function runJob(
  cmd: Command,
  job: (ctl: TrainControl) => Promise<TrainResult>,
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
  const onEvent = (e: JobEvent): void => {
    switch (e.type) {
      case 'started':
        say(
          cmd,
          `${e.fromStep === 0 ? 'training' : 'continuing'} ${e.branch} (run ${e.run}) from step ${e.fromStep} to ${e.toStep} on ${e.backend}`,
        );
        progress.start(e.fromStep, e.toStep);
        return;
      case 'progress':
        for (const s of e.losses) {
          progress.step(s.step, s.loss, s.gLoss);
        }
        return;
      case 'notice':
        process.stderr.write(`note: ${e.message}\n`);
        return;
    }
  };
  let result: TrainResult;
  try {
    // one progress event per step: the status lines and the bar time each step as it ends
    result = await job({ emit: onEvent, signal: abort.signal, progressEveryMs: 0 });
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

function formatResult(r: TrainResult): string {
  const lines = [
    r.status === 'diverged'
      ? `diverged (${r.note ?? 'non-finite values'}); branch ${r.branch} stays at its last good checkpoint, step ${r.step}`
      : `${r.status}: branch ${r.branch} at step ${r.step}`,
    `  checkpoint ${r.checkpoint}`,
    `  seed ${r.seed} · backend ${r.backend} · last finite loss ${r.loss === null ? '-' : r.loss.toPrecision(6)} · ${r.msPerStep.toFixed(2)} ms/step (training steps only)`,
    r.gLoss !== undefined
      ? `  gan losses: discriminator ${r.dLoss} · generator ${r.gLoss} (lockstep samples ${r.branch} -o grid.png draws its digits)`
      : `  precision@1 train ${pct(r.eval.train?.precision)} · validation ${pct(r.eval.validation?.precision)} · test ${pct(r.eval.test?.precision)}`,
  ];
  if (r.reproduced > 0) {
    lines.push(
      `  ${r.reproduced} checkpoint(s) reproduced bit-for-bit: identical to the existing ones, nothing new stored for them`,
    );
  }
  if (r.note && r.status !== 'diverged') {
    lines.push(`  ${r.note}`);
  }
  return lines.join('\n');
}
