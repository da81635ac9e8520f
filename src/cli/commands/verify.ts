/**
 * `verify <ref|file.lockstep> [--from <checkpoint>]`: replays a ref's history (from its root, or
 * from a checkpoint on it) and checks every stored checkpoint and every trace step. A path to an
 * existing `.lockstep` file is handed to the bundle verifier (src/main/bundle/verify.ts).
 * JSON: `{ verified, checkpoints, steps, firstMismatch, … }`. Exit 0 verified, 1 not verified.
 */
import type { Command } from 'commander';
import { isBundlePath } from '../../main/bundle/path';
import { verifyBundle } from '../../main/bundle/verify';
import { verifyRef, type VerifyOptions, type VerifyReport } from '../../main/service/verify';
import { emit, globalOptions, openStore } from '../context';
import { EXIT_NEGATIVE } from '../errors';

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
        if (isBundlePath(ref)) {
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

/** Progress on stderr when it is a terminal: `verify: 1200/5000 steps`. done < 0 clears it. */
function progressLine(json: boolean): (done: number, total: number) => void {
  if (!process.stderr.isTTY || json) {
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
    return `verified: ${ref} (${r.checkpoint?.slice(0, 12)}) — ${head}; every checkpoint and trace step matches`;
  }
  const m = r.firstMismatch;
  return [
    `NOT verified: ${ref} — first mismatch at step ${m?.step}${m?.checkpoint ? ` (checkpoint ${m.checkpoint.slice(0, 12)})` : ''}`,
    `  ${m?.detail}`,
    `  ${head}`,
  ].join('\n');
}
