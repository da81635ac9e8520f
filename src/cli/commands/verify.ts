/**
 * `verify <ref|file.lockstep> [--from <checkpoint>]`: replays a ref's history (from its root, or
 * from a checkpoint on it) and checks every stored checkpoint and every trace step. A path to an
 * existing `.lockstep` file is handed to the bundle verifier (src/main/bundle/verify.ts).
 * Any existing zip file is a bundle whatever its name (src/main/bundle/path.ts); a `.lockstep` /
 * `.zip` path that does not exist is a file error. JSON: `{ verified, checkpoints, steps,
 * firstMismatch, checkpoint, fromStep, msPerStep }` for refs and bundles alike.
 * Exit codes: 0 verified; 1 the answer is no (a mismatch, a damaged store or bundle, a backend not
 * available here to replay on); 2 the question could not be asked (bad ref, missing file, not a
 * bundle), with the reason in one line.
 */
import type { Command } from 'commander';
import { isBundlePath, missingBundleFile } from '../../main/bundle/path';
import { verifyBundle } from '../../main/bundle/verify';
import { verifyRef, type VerifyOptions, type VerifyReport } from '../../main/service/verify';
import { emit, globalOptions, openStore } from '../context';
import { CliError, EXIT_NEGATIVE } from '../errors';

export function register(program: Command): void {
  program
    .command('verify')
    .description('replay a ref (or a .lockstep bundle) and check every checkpoint and step')
    .argument('<ref>', 'checkpoint id or prefix, branch, branch@step, or a .lockstep file')
    .option('--from <ref>', 'start the replay at this checkpoint of the history (default: root)')
    .action(async (ref: string, opts: { from?: string }, cmd: Command) => {
      const abort = new AbortController();
      const onSigint = (): void => abort.abort();
      process.once('SIGINT', onSigint);
      const progress = progressLine(globalOptions(cmd).json ?? false);
      const vopts: VerifyOptions = { from: opts.from, signal: abort.signal, onProgress: progress };
      let r: VerifyReport;
      try {
        const missing = missingBundleFile(ref);
        if (missing !== null) {
          throw new CliError(missing);
        }
        if (isBundlePath(ref)) {
          if (opts.from !== undefined) {
            throw new CliError('--from applies to a ref in the store, not to a bundle');
          }
          r = await verifyBundle(ref, vopts);
        } else {
          r = await verifyRef(await openStore(cmd, false), ref, vopts);
        }
      } finally {
        process.off('SIGINT', onSigint);
        progress(-1, 0);
      }
      emit(cmd, r, () => formatReport(ref, r));
      if (!r.verified) {
        process.exitCode = EXIT_NEGATIVE;
      }
    });
}

/**
 * Progress on stderr: on a terminal one line kept up to date (`verify: 1200/5000 steps`), else a
 * line per 10% (so CI logs show it too). done < 0 clears the terminal line.
 */
function progressLine(json: boolean): (done: number, total: number) => void {
  if (!process.stderr.isTTY) {
    let shown = 0;
    return (done, total) => {
      const tenth = total >= 100 && done >= 0 ? Math.floor((done * 10) / total) : 0;
      if (!json && tenth > shown) {
        shown = tenth;
        process.stderr.write(`verify: ${done}/${total} steps\n`);
      }
    };
  }
  if (json) {
    return () => {};
  }
  let last = 0;
  return (done, total) => {
    if (done < 0) {
      process.stderr.write('\r\x1b[K');
      return;
    }
    const now = performance.now();
    if (now - last > 100 || done === total) {
      last = now;
      process.stderr.write(`\rverify: ${done}/${total} steps`);
    }
  };
}

function formatReport(ref: string, r: VerifyReport): string {
  const head = `${r.checkpoints} checkpoint(s) and ${r.steps} step(s) replayed from step ${r.fromStep ?? 0}${
    r.msPerStep ? ` (${r.msPerStep.toFixed(2)} ms/step)` : ''
  }`;
  if (r.verified) {
    const which = r.checkpoint !== undefined ? ` (${r.checkpoint.slice(0, 12)})` : '';
    return `verified: ${ref}${which} — ${head}; every checkpoint and trace step matches`;
  }
  const m = r.firstMismatch;
  return [
    `NOT verified: ${ref} — first mismatch at step ${m?.step}${m?.checkpoint ? ` (checkpoint ${m.checkpoint.slice(0, 12)})` : ''}`,
    `  ${m?.detail}`,
    `  ${head}`,
  ].join('\n');
}
