/**
 * `sweep [--lr 0.01,0.1] [--batch-size 32,64] [--optimizer sgd,adam] [--seed 0,1] [train
 * options] [--executor local|slurm] [--job-dir DIR]`: a grid over learning rate, batch size,
 * optimizer and seed, run as a job directory (src/main/executors) like a study: `local` (the
 * default) runs every grid point here, one process per core, then collects and prints one row
 * per grid point (exit 1 when a run is missing or a verification failed); `slurm` submits a job
 * array and prints the Slurm job id, for `study status|collect|resubmit <dir>` later.
 * Without --lr each optimizer uses its default learning rate; without --seed, one seed from
 * LOCKSTEP_SEED or the OS (printed). A stored dataset (`--dataset NAME`) is copied into the job
 * directory, and each task adds it to its own store (src/main/executors/job-dataset.ts).
 */
import { InvalidArgumentError, type Command } from 'commander';
import {
  BACKENDS,
  DATASETS,
  MODELS,
  OPTIMIZERS,
  type TrainingConfig,
} from '../../main/engine/types';
import type { SweepReport } from '../../shared/contract';
import { CliError } from '../errors';
import {
  addExecutorOptions,
  formatCollectTail,
  jobDataset,
  launchJob,
  slurmOptions,
  type ExecutorOptionValues,
} from '../executor-options';
import { choice, datasetArg, intArg, intList, positiveNumber, seedArg } from '../options';
import { DEFAULT_LR, resolveSeed } from '../training-options';
import { say } from '../context';

type Optimizer = TrainingConfig['optimizer']['kind'];

interface SweepOptions extends ExecutorOptionValues {
  dataset: TrainingConfig['dataset'];
  model: TrainingConfig['model']['kind'];
  hidden?: number[];
  optimizer: Optimizer[];
  lr?: number[];
  batchSize: number[];
  seed?: (number | 'auto')[];
  steps: number;
  checkpointEvery?: number;
  evalEvery?: number;
  backend: TrainingConfig['backend'];
}

/** A comma-separated list parsed item by item. */
function listOf<T>(parse: (v: string) => T) {
  return (v: string): T[] => {
    const parts = v.split(',').map((p) => p.trim());
    if (parts.some((p) => p === '')) {
      throw new InvalidArgumentError(`expected a comma-separated list, got '${v}'`);
    }
    return parts.map(parse);
  };
}

export function register(program: Command): void {
  const sweep = program
    .command('sweep')
    .description('grid sweep over lr, batch size, optimizer and seed, as a job directory')
    .option(
      '--dataset <name>',
      `dataset (${DATASETS.join('|')}, or one added with lockstep data add)`,
      datasetArg,
      'mnist',
    )
    .option('--model <kind>', `model (${MODELS.join('|')})`, choice(MODELS), 'mlp')
    .option('--hidden <sizes>', 'hidden layer sizes for mlp (default 128,32)', intList)
    .option(
      '--optimizer <list>',
      `optimizers (${OPTIMIZERS.join('|')}), comma-separated`,
      listOf(choice(OPTIMIZERS)),
      ['sgd'] as Optimizer[],
    )
    .option('--lr <list>', 'learning rates, comma-separated', listOf(positiveNumber))
    .option('--batch-size <list>', 'batch sizes, comma-separated', listOf(intArg(1)), [100])
    .option(
      '--seed <list>',
      'seeds, comma-separated (default: LOCKSTEP_SEED, else auto)',
      listOf(seedArg),
    )
    .option('--steps <n>', 'parameter updates per run', intArg(1), 2000)
    .option('--checkpoint-every <n>', 'store a checkpoint every n steps (default 500)', intArg(1))
    .option('--eval-every <n>', 'evaluate every n steps (default 1000)', intArg(1))
    .option('--backend <name>', `compute backend (${BACKENDS.join('|')})`, choice(BACKENDS), 'wasm')
    .option('--parallel <n>', 'local: processes at once (default: one per core)', intArg(1));
  addExecutorOptions(sweep).action(async (o: SweepOptions, cmd: Command) => {
    const seeds: number[] = [];
    for (const s of o.seed ?? [undefined]) {
      const { seed, source } = await resolveSeed(s);
      if (source !== 'explicit') {
        say(cmd, `seed ${seed} (${source}; pass --seed ${seed} to repeat this sweep)`);
      }
      seeds.push(seed);
    }
    const optimizers = o.optimizer;
    if (o.lr === undefined && optimizers.length > 1) {
      const lrs = [...new Set(optimizers.map((k) => DEFAULT_LR[k]))];
      if (lrs.length > 1) {
        throw new CliError(
          'sweep over optimizers with different default learning rates needs --lr',
        );
      }
    }
    const lr = o.lr ?? [DEFAULT_LR[optimizers[0]]];
    const config: TrainingConfig = {
      dataset: o.dataset,
      model: { kind: o.model, hidden: o.model === 'mlp' ? (o.hidden ?? [128, 32]) : [] },
      optimizer: { kind: optimizers[0], lr: lr[0] },
      batchSize: o.batchSize[0],
      seed: seeds[0],
      backend: o.backend,
    };
    const data = await jobDataset(cmd, config.dataset); // a stored dataset travels with the job
    const { validateConfig } = await import('../../main/engine/trainer'); // loaded on use (tfjs)
    for (const batchSize of o.batchSize) {
      validateConfig({ ...config, batchSize });
    }
    const executor = o.executor ?? 'local';
    const { planSweep } = await import('../../main/executors/plan'); // loaded on use
    const spec = planSweep(
      config,
      { lr, batchSize: o.batchSize, seed: seeds, optimizer: optimizers },
      {
        steps: o.steps,
        checkpointEvery: o.checkpointEvery ?? 500,
        evalEvery: o.evalEvery ?? 1000,
      },
      {
        executor,
        ...(executor === 'slurm' ? { slurm: slurmOptions(o) } : {}),
        ...(data !== null ? { dataset: data.info } : {}),
      },
    );
    await launchJob(cmd, spec, o, (r) => formatSweepReport(r as SweepReport), data?.data);
  });
}

/** A collected sweep as a table, best test precision first. */
export function formatSweepReport(r: SweepReport): string {
  const rows = [...r.results].sort(
    (a, b) => (b.testPrecision ?? -1) - (a.testPrecision ?? -1) || a.task - b.task,
  );
  const num = (x: number | null, d: number, w: number): string =>
    (x === null ? '—' : x.toFixed(d)).padEnd(w);
  return [
    `sweep ${r.id}: ${r.results.length} of ${r.results.length + r.missing.length} runs, ${r.steps} steps`,
    'task  optimizer  lr         batch  seed        final loss  test prec.  checkpoint',
    ...rows.map(
      (x) =>
        `${String(x.task).padStart(4)}  ${x.config.optimizer.kind.padEnd(9)}  ${String(x.config.optimizer.lr).padEnd(9)}  ${String(x.config.batchSize).padStart(5)}  ${String(x.config.seed).padEnd(10)}  ${num(x.finalLoss, 6, 10)}  ${num(x.testPrecision, 4, 10)}  ${x.checkpoint.slice(0, 12)}`,
    ),
    ...formatCollectTail(r),
  ].join('\n');
}
