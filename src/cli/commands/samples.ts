/**
 * `samples <ref> -o grid.png [--count N] [--force]`: a gan checkpoint's sample grid as a PNG —
 * N (default 64, an 8×8 grid) generated digits from the fixed sample noise `samples/<k>`, so the
 * same checkpoint always writes the same bytes. The file is written to a temporary name and
 * renamed; an existing file is replaced only with --force. JSON: `{ path, checkpoint, step,
 * count, sha256 }` (sha256 of the PNG bytes).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { emit, openStore } from '../context';
import { CliError } from '../errors';
import { intArg } from '../options';

export function register(program: Command): void {
  program
    .command('samples')
    .description("write a gan checkpoint's grid of generated digits as a PNG")
    .argument('<ref>', 'checkpoint id or prefix, branch, or branch@step')
    .requiredOption('-o, --output <file>', 'the PNG file to write')
    .option('--count <n>', 'how many samples (default 64: an 8×8 grid; at most 256)', intArg(1))
    .option('--force', 'replace an existing file')
    .action(
      async (
        ref: string,
        opts: { output: string; count?: number; force?: boolean },
        cmd: Command,
      ) => {
        // prettier-ignore
        const path = resolve(opts.output);
        if (existsSync(path) && !opts.force) {
          throw new CliError(`${opts.output} exists: pass --force to replace it`);
        }
        const store = await openStore(cmd, false);
        const { gridPng, sampleGrid } = await import('../../main/service/samples'); // tfjs on use
        const grid = await sampleGrid(store, ref, opts.count);
        const png = gridPng(grid);
        const { createHash, randomBytes } = await import('node:crypto');
        const { rename, rm, writeFile } = await import('node:fs/promises');
        const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
        try {
          await writeFile(tmp, png, { flag: 'wx' });
          await rename(tmp, path);
        } catch (e) {
          await rm(tmp, { force: true });
          throw new CliError(`cannot write ${opts.output}: ${(e as Error).message}`);
        }
        const sha256 = createHash('sha256').update(png).digest('hex');
        const out = { path, checkpoint: grid.checkpoint, step: grid.step, count: grid.count, sha256 }; // prettier-ignore
        emit(cmd, out, () => `wrote ${grid.count} samples of ${grid.checkpoint.slice(0, 12)} (step ${grid.step}) to ${path}`); // prettier-ignore
      },
    );
}
