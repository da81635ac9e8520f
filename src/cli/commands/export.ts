/**
 * `export <ref> -o FILE [--format bundle|safetensors|tfjs|tensorboard|csv] [--with-slots]
 * [--with-data]`.
 * - --with-data (bundles): the store's own datasets (`lockstep data add`) the checkpoints were
 *   trained on go into the bundle, so it replays on a machine that never had them.
 *
 * - bundle (the default for a FILE ending in .lockstep): a branch (ref = its name), one
 *   checkpoint's lineage (a checkpoint id or prefix, `branch@N`) or a whole run with all its
 *   branches (ref = `run:<runId>`) as one file; see src/main/bundle/format.ts.
 * - safetensors (default for .safetensors): the checkpoint's weights, with --with-slots also the
 *   optimizer slots; tfjs: a directory with model.json + weights.bin; tensorboard: a directory
 *   with one events file (loss per step, precision per split at evaluations); csv (default for
 *   .csv): metrics per step. See src/main/export/from-store.ts.
 * The output is checked first (src/main/service/export-target.ts): never inside a store, an
 * existing output only with --force, a missing directory or a directory-for-a-file named in one
 * line; files are written through a temp file and a rename.
 * JSON: `{ format, path, bytes?, checkpoint?, … }`. Progress for bundles over 4 MB: a bar on a
 * terminal, else a line per 10% (on stderr with --json).
 */
import type { Command } from 'commander';
import { emit, globalOptions, openStore } from '../context';
import { CliError } from '../errors';
import { choice } from '../options';
import { byteProgress } from './import';

const FORMATS = ['bundle', 'safetensors', 'tfjs', 'tensorboard', 'csv'] as const;
type Format = (typeof FORMATS)[number];

function formatFor(file: string, given: Format | undefined): Format {
  if (given !== undefined) {
    return given;
  }
  const ext = /\.([a-z]+)$/i.exec(file)?.[1]?.toLowerCase();
  const byExt: Record<string, Format> = {
    lockstep: 'bundle',
    safetensors: 'safetensors',
    csv: 'csv',
  };
  const f = ext === undefined ? undefined : byExt[ext];
  if (f === undefined) {
    throw new CliError(
      `cannot tell the format from '${file}': pass --format ${FORMATS.join('|')} (or name the file .lockstep, .safetensors, .csv)`,
    );
  }
  return f;
}

export function register(program: Command): void {
  program
    .command('export')
    .description('export a branch, checkpoint or run (run:<id>) as a bundle or for other tools')
    .argument('<ref>', 'branch, checkpoint id or prefix, branch@step, or run:<runId>')
    .requiredOption('-o, --output <file>', 'file (or directory for tfjs/tensorboard) to write')
    .option('--format <format>', `output format (${FORMATS.join('|')})`, choice(FORMATS))
    .option('--with-slots', 'safetensors: include the optimizer slots')
    .option('--with-data', "bundle: carry the store's datasets the checkpoints were trained on")
    .option('--force', 'replace an existing output (never one inside a store)')
    .action(
      async (
        ref: string,
        opts: {
          output: string;
          format?: Format;
          withSlots?: boolean;
          withData?: boolean;
          force?: boolean;
        },
        cmd: Command,
      ) => {
        const format = formatFor(opts.output, opts.format);
        if (opts.withSlots && format !== 'safetensors') {
          throw new CliError('--with-slots applies to --format safetensors only');
        }
        if (opts.withData && format !== 'bundle') {
          throw new CliError('--with-data applies to --format bundle only');
        }
        const store = await openStore(cmd, false);
        await store.resolveRef(
          ref.startsWith('run:') ? (await store.getRun(ref.slice(4))).root : ref,
        );
        const kind = format === 'tfjs' || format === 'tensorboard' ? 'dir' : 'file';
        const { checkExportTarget, describeFsError } =
          await import('../../main/service/export-target');
        checkExportTarget(opts.output, { kind, force: opts.force, format });
        try {
          await write();
        } catch (e) {
          const line = describeFsError(e, opts.output);
          throw line !== null ? new CliError(line) : e;
        }
        async function write(): Promise<void> {
          const json = globalOptions(cmd).json ?? false;
          let result: { path: string; bytes?: number } & Record<string, unknown>;
          // the writers are loaded on use, so they stay out of every other command's start
          const { exportCsv, exportSafetensors, exportTensorboard, exportTfjs } =
            await import('../../main/export/from-store');
          switch (format) {
            case 'bundle': {
              const { exportBundle } = await import('../../main/bundle/export');
              const progress = byteProgress(json, 'export');
              const controller = new AbortController();
              const onSigint = () => controller.abort(new CliError('export interrupted'));
              process.once('SIGINT', onSigint);
              try {
                result = await exportBundle(store, ref, opts.output, {
                  withData: opts.withData ?? false,
                  onProgress: progress.update,
                  signal: controller.signal,
                });
              } finally {
                process.off('SIGINT', onSigint);
                progress.stop();
              }
              break;
            }
            case 'safetensors':
              result = await exportSafetensors(store, ref, opts.output, {
                withSlots: opts.withSlots,
              });
              break;
            case 'tfjs':
              result = await exportTfjs(store, ref, opts.output);
              break;
            case 'tensorboard':
              result = await exportTensorboard(store, ref, opts.output, { replace: opts.force });
              break;
            case 'csv':
              result = await exportCsv(store, ref, opts.output);
              break;
          }
          const out = { format, ...result };
          emit(cmd, out, () => {
            const size = out.bytes !== undefined ? ` (${formatBytes(out.bytes)})` : '';
            return `exported ${ref} as ${format} to ${out.path}${size}`;
          });
        }
      },
    );
}

export function formatBytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MB` : `${(n / 1024).toFixed(1)} kB`;
}
