/**
 * The training options shared by `train` and `study` (DESIGN.md CLI contract), their defaults,
 * and how a root seed is chosen: `--seed N`, else LOCKSTEP_SEED, else one drawn from the OS
 * (`auto`) and reported so the run can be repeated.
 */
import type { Command } from 'commander';
import type { StartRunRequest } from '../shared/contract';
import { GAN_DEFAULTS, GAN_LR } from '../shared/training';
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
  intArg,
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
  shuffle?: string;
  noiseDims?: number;
  generator?: number[];
  discriminator?: number[];
  dLr?: number;
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
      '--shuffle <order>',
      "example order: 'epoch' (a permutation per epoch, default) or 'buffer:N' (a seeded shuffle buffer of N over the repeated data, as tf.data)",
    )
    .option(
      '--noise-dims <n>',
      `gan: noise values per sample (default ${GAN_DEFAULTS.noiseDims})`,
      intArg(1),
    ) // prettier-ignore
    .option(
      '--generator <sizes>',
      `gan: generator hidden sizes (default ${GAN_DEFAULTS.generator.join(',')})`,
      intList,
    ) // prettier-ignore
    .option(
      '--discriminator <sizes>',
      `gan: discriminator hidden sizes (default ${GAN_DEFAULTS.discriminator.join(',')})`,
      intList,
    ) // prettier-ignore
    .option('--d-lr <x>', 'gan: the discriminator learning rate (default: --lr)', lrArg)
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
export async function modelAndDataOf(
  opts: TrainingOptionValues,
  cmd: Command,
): Promise<{ model: ModelConfig; augment?: AugmentConfig }> {
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
  // the parsers' modules (and the data and shuffle code they sit in) are loaded on use
  const { parseAugment } = await import('../main/engine/augment');
  try {
    augment = opts.augment === undefined ? undefined : parseAugment(opts.augment);
  } catch (e) {
    throw e instanceof InputError ? new CliError(e.message) : e;
  }
  return augment ? { model, augment } : { model };
}

/** The request fields a start or study request takes, as StartRunRequest shapes them. */
export type RunFields = Omit<StartRunRequest, 'seed' | 'branch'>;

/**
 * The model, data order, optimizer and schedule of a start (or study) request from the options:
 * a gan trains with adam at lr 0.0002 unless --optimizer / --lr say otherwise; --noise-dims,
 * --generator, --discriminator and --d-lr need --model gan.
 */
export async function runFieldsOf(opts: TrainingOptionValues, cmd: Command): Promise<RunFields> {
  const { model, augment } = await modelAndDataOf(opts, cmd);
  const gan = model.kind === 'gan';
  const ganOpts = ['noiseDims', 'generator', 'discriminator', 'dLr'] as const;
  if (!gan) {
    const used = ganOpts.find((k) => opts[k] !== undefined);
    if (used !== undefined) {
      const flag = { noiseDims: '--noise-dims', generator: '--generator', discriminator: '--discriminator', dLr: '--d-lr' }[used]; // prettier-ignore
      throw new CliError(`${flag} needs --model gan`);
    }
  }
  const optimizer =
    gan && cmd.getOptionValueSource('optimizer') === 'default' ? 'adam' : opts.optimizer;
  let shuffle;
  const { parseShuffle } = await import('../main/engine/shuffle-buffer');
  try {
    shuffle = opts.shuffle === undefined ? undefined : parseShuffle(opts.shuffle);
  } catch (e) {
    throw e instanceof InputError ? new CliError(e.message) : e;
  }
  return {
    dataset: opts.dataset,
    model: model.kind,
    hidden: model.hidden,
    ...(model.layers !== undefined ? { layers: model.layers } : {}),
    ...(augment ? { augment } : {}),
    ...(shuffle ? { shuffle } : {}),
    ...(gan
      ? {
          gan: {
            noiseDims: opts.noiseDims ?? GAN_DEFAULTS.noiseDims,
            generator: opts.generator ?? GAN_DEFAULTS.generator,
            discriminator: opts.discriminator ?? GAN_DEFAULTS.discriminator,
          },
          ...(opts.dLr !== undefined ? { dLr: opts.dLr } : {}),
        }
      : {}),
    optimizer,
    lr: opts.lr ?? (gan ? GAN_LR : DEFAULT_LR[optimizer]),
    batchSize: opts.batchSize,
    steps: opts.steps,
    checkpointEvery: opts.checkpointEvery ?? 500,
    evalEvery: opts.evalEvery ?? 1000,
    backend: opts.backend,
  };
}
