/**
 * The training options shared by `train` and `study` (DESIGN.md CLI contract), their defaults,
 * and how a root seed is chosen: `--seed N`, else LOCKSTEP_SEED, else one drawn from the OS
 * (`auto`) and reported so the run can be repeated.
 */
import type { Command } from 'commander';
import { drawSeed } from '../main/engine/rng';
import { BACKENDS, DATASETS, MODELS, OPTIMIZERS, type TrainingConfig } from '../main/engine/types';
import { CliError } from './errors';
import { batchSizeArg, choice, intList, intervalArg, lrArg, seedArg, stepsArg } from './options';

/** Default learning rate per optimizer. */
export const DEFAULT_LR = { sgd: 0.01, momentum: 0.01, adam: 0.001 } as const;

/** The values commander parses from {@link addTrainingOptions}' options. */
export interface TrainingOptionValues {
  dataset: TrainingConfig['dataset'];
  model: TrainingConfig['model']['kind'];
  hidden?: number[];
  optimizer: TrainingConfig['optimizer']['kind'];
  lr?: number;
  batchSize: number;
  steps: number;
  seed?: number | 'auto';
  checkpointEvery?: number;
  evalEvery?: number;
  backend: TrainingConfig['backend'];
}

/** Adds --dataset … --backend to a command. */
export function addTrainingOptions(cmd: Command, seedHelp: string): Command {
  return cmd
    .option('--dataset <name>', `dataset (${DATASETS.join('|')})`, choice(DATASETS), 'mnist')
    .option('--model <kind>', `model (${MODELS.join('|')})`, choice(MODELS), 'mlp')
    .option('--hidden <sizes>', 'hidden layer sizes for mlp (default 128,32)', intList)
    .option('--optimizer <kind>', `optimizer (${OPTIMIZERS.join('|')})`, choice(OPTIMIZERS), 'sgd')
    .option('--lr <x>', 'learning rate (default 0.01; adam 0.001)', lrArg)
    .option('--batch-size <n>', 'examples per batch', batchSizeArg, 100)
    .option('--steps <n>', 'parameter updates per run', stepsArg, 2000)
    .option('--seed <n|auto>', seedHelp, seedArg)
    .option('--checkpoint-every <n>', 'store a checkpoint every n steps (default 500)', intervalArg)
    .option('--eval-every <n>', 'evaluate every n steps (default 1000)', intervalArg)
    .option(
      '--backend <name>',
      `compute backend (${BACKENDS.join('|')})`,
      choice(BACKENDS),
      'wasm',
    );
}

export type SeedSource = 'explicit' | 'auto' | 'env';

/** The root seed from --seed, LOCKSTEP_SEED or the OS, and where it came from. */
export async function resolveSeed(
  opt: number | 'auto' | undefined,
): Promise<{ seed: number; source: SeedSource }> {
  if (typeof opt === 'number') {
    return { seed: opt, source: 'explicit' };
  }
  const env = process.env.LOCKSTEP_SEED;
  if (opt === undefined && env !== undefined && env !== '' && env !== 'auto') {
    if (!/^\d+$/.test(env) || Number(env) > 0xffffffff) {
      throw new CliError(
        `LOCKSTEP_SEED must be 'auto' or an integer from 0 to 4294967295, got '${env}'`,
      );
    }
    return { seed: Number(env), source: 'env' };
  }
  return { seed: await drawSeed(), source: 'auto' };
}
