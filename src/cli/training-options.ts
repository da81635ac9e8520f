/**
 * The training options shared by `train` and `study` (DESIGN.md CLI contract), their defaults,
 * and how a root seed is chosen: `--seed N`, else LOCKSTEP_SEED, else one drawn from the OS
 * (`auto`) and reported so the run can be repeated.
 */
import type { Command } from 'commander';
import { parseAugment } from '../main/engine/augment';
import { drawSeed } from '../main/engine/rng';
import {
  BACKENDS,
  DATASETS,
  InputError,
  MODELS,
  OPTIMIZERS,
  type AugmentConfig,
  type ModelConfig,
  type TrainingConfig,
} from '../main/engine/types';
import { CliError } from './errors';
import {
  batchSizeArg,
  choice,
  datasetArg,
  intList,
  intervalArg,
  lrArg,
  seedArg,
  stepsArg,
} from './options';

/** Default learning rate per optimizer. */
export const DEFAULT_LR = { sgd: 0.01, momentum: 0.01, adam: 0.001 } as const;

/** The values commander parses from {@link addTrainingOptions}' options. */
export interface TrainingOptionValues {
  dataset: TrainingConfig['dataset'];
  model: TrainingConfig['model']['kind'];
  hidden?: number[];
  layers?: string;
  augment?: string;
  dataDir?: string;
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
    .option(
      '--dataset <name>',
      `dataset (${DATASETS.join('|')}, or one added with lockstep data add)`,
      datasetArg,
      'mnist',
    )
    .option('--model <kind>', `model (${MODELS.join('|')})`, choice(MODELS), 'mlp')
    .option('--hidden <sizes>', 'hidden layer sizes for mlp (default 128,32)', intList)
    .option('--layers <spec>', 'a custom layer stack (implies --model layers; see README)')
    .option('--augment <items>', 'seeded image augmentation: crop[:P],flip or none')
    .option(
      '--data-dir <dir>',
      'where the dataset files are (same as LOCKSTEP_CIFAR10_DIR / LOCKSTEP_FASHION_MNIST_DIR / LOCKSTEP_MNIST_DIR)',
    )
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

/** The environment variable that says where a dataset's files are. */
export const DATA_DIR_ENV: Record<TrainingConfig['dataset'], string | null> = {
  mnist: 'LOCKSTEP_MNIST_DIR',
  'fashion-mnist': 'LOCKSTEP_FASHION_MNIST_DIR',
  cifar10: 'LOCKSTEP_CIFAR10_DIR',
  fake: null,
};

/**
 * The model, augmentation and data location from the options: `--layers` implies
 * `--model layers` (an explicit other --model is an error), `--hidden` defaults to 128,32 for
 * mlp, `--data-dir` sets the dataset's environment variable for this process and its workers.
 */
export function modelAndDataOf(
  opts: TrainingOptionValues,
  cmd: Command,
): { model: ModelConfig; augment?: AugmentConfig } {
  let kind = opts.model;
  if (opts.layers !== undefined) {
    if (cmd.getOptionValueSource('model') === 'default') {
      kind = 'layers';
    } else if (kind !== 'layers') {
      throw new CliError(`--layers needs --model layers (got --model ${kind})`);
    }
  }
  if (kind === 'layers' && opts.layers === undefined) {
    throw new CliError(
      '--model layers needs a --layers spec, e.g. --layers conv:8x3,relu,maxpool:2',
    );
  }
  const hidden = kind === 'mlp' ? (opts.hidden ?? [128, 32]) : (opts.hidden ?? []);
  const model: ModelConfig = { kind, hidden };
  if (kind === 'layers') {
    model.layers = opts.layers;
  }
  if (opts.dataDir !== undefined) {
    const env = DATA_DIR_ENV[opts.dataset] ?? null;
    if (env === null) {
      throw new CliError(`--data-dir does not apply to the ${opts.dataset} dataset`);
    }
    process.env[env] = opts.dataDir;
  }
  let augment: AugmentConfig | undefined;
  try {
    augment = opts.augment === undefined ? undefined : parseAugment(opts.augment);
  } catch (e) {
    throw e instanceof InputError ? new CliError(e.message) : e;
  }
  return augment ? { model, augment } : { model };
}
