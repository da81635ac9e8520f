/**
 * `data add NAME PATH [--test FILE.csv] [--shape HxWxC] [--digest SHA256]`, `data ls`,
 * `data rm NAME`: the user's own datasets, stored in the store content-addressed
 * (src/main/service/datasets.ts) and usable as `--dataset NAME` in train, continue, study and
 * sweep (job directories carry a copy to their tasks: src/main/executors/job-dataset.ts).
 * PATH: a folder of IDX files (gzipped or not), a folder of CIFAR-10 binary batches, a folder with
 * train.csv and test.csv, a training .csv with --test, or a stored dataset's own file (format
 * lockstep/dataset@1, as a job directory carries it); see src/main/engine/dataset-files.ts.
 * `--digest` refuses data whose digest is any other (nothing written).
 * Bad files or names exit 2 with one line and write nothing.
 * JSON: add → the record plus `created`; ls → `{ datasets: [record…] }`; rm → `{ removed }`.
 * A record: `{ name, kind, shape, examples: { train, validation, test }, digest, bytes, files }`.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { DatasetRecord } from '../../main/service/datasets';
import { emit, openStore, openStoreIfAny } from '../context';
import { formatBytes } from './export';

function row(d: DatasetRecord): string {
  const e = d.examples;
  return `${d.name}  ${d.kind}  ${d.shape.join('x')}  ${e.train}/${e.validation}/${e.test}  ${d.digest.slice(0, 12)}  ${formatBytes(d.bytes)}`;
}

/** A full SHA-256 in lowercase hex. */
function digestArg(v: string): string {
  if (!/^[0-9a-f]{64}$/.test(v)) {
    throw new InvalidArgumentError(
      `expected a SHA-256 digest (64 lowercase hex digits), got '${v.slice(0, 80)}'`,
    );
  }
  return v;
}

export function register(program: Command): void {
  const data = program.command('data').description("manage the store's own datasets");
  data
    .command('add')
    .description('add a dataset (IDX folder, CIFAR batches folder, or CSV) to the store')
    .argument('<name>', 'the name to train with (--dataset NAME)')
    .argument('<path>', 'a folder of IDX files or CIFAR batches, or a training .csv')
    .option('--test <file>', 'the test examples, when PATH is a training .csv')
    .option('--shape <HxWxC>', 'the image shape of CSV rows (default: a square image)')
    .option('--digest <sha256>', 'refuse the data unless its digest is this one', digestArg)
    .action(
      async (
        name: string,
        path: string,
        opts: { test?: string; shape?: string; digest?: string },
        cmd: Command,
      ) => {
        // (the dataset readers and the store's dataset service are loaded on use)
        const { parseShape } = await import('../../main/engine/dataset-files');
        const { addDatasetFromFiles } = await import('../../main/service/datasets');
        const shape = opts.shape === undefined ? undefined : parseShape(opts.shape);
        const store = await openStore(cmd);
        const r = await addDatasetFromFiles(store, name, path, {
          ...(opts.test !== undefined ? { test: opts.test } : {}),
          ...(shape !== undefined ? { shape } : {}),
          ...(opts.digest !== undefined ? { digest: opts.digest } : {}),
        });
        emit(cmd, { ...r.record, created: r.created }, () =>
          r.created
            ? `added dataset ${row(r.record)}`
            : `dataset ${r.record.name} already holds this data (digest ${r.record.digest.slice(0, 12)}): nothing changed`,
        );
      },
    );
  data
    .command('ls')
    .description('list the stored datasets: name, kind, shape, examples, digest, size')
    .action(async (_opts: unknown, cmd: Command) => {
      const store = await openStoreIfAny(cmd);
      const { listDatasets } = await import('../../main/service/datasets');
      const datasets = store === null ? [] : await listDatasets(store);
      emit(cmd, { datasets }, () =>
        datasets.length === 0
          ? 'no datasets yet: add one with `lockstep data add NAME PATH`'
          : ['name  kind  shape  train/validation/test  digest  size', ...datasets.map(row)].join(
              '\n',
            ),
      );
    });
  data
    .command('rm')
    .description(
      'remove a dataset name (gc then frees its data: runs trained on it can no longer replay here)',
    )
    .argument('<name>', 'dataset name')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const { removeDataset } = await import('../../main/service/datasets');
      await removeDataset(await openStore(cmd, false), name);
      emit(cmd, { removed: name }, () => `removed dataset ${name}; \`lockstep gc\` frees its data`);
    });
}
