/**
 * `verify <ref|file.lockstep> [--from <checkpoint>]`: replays a ref's history (from its root, or
 * from a checkpoint on it) and checks every stored checkpoint and every trace step. A path to an
 * existing `.lockstep` file is handed to the bundle verifier (src/main/bundle/verify.ts).
 * Any existing zip file is a bundle (whatever its name); a `.lockstep`/`.zip` path that does not
 * exist is a file error. JSON: `{ verified, checkpoints, steps, firstMismatch, checkpoint,
 * fromStep, msPerStep }` for refs and bundles alike.
 * Exit codes: 0 verified; 1 the answer is no (a mismatch, a damaged store or bundle, a backend not
 * available here to replay on); 2 the question could not be asked (bad ref, missing file, not a
 * bundle), with the reason in one line.
 */
import type { Command } from 'commander';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { verifyRef, type VerifyOptions, type VerifyReport } from '../../main/service/verify';
// registers the trace-overhead and verify-speed sections of `lockstep bench`
import { emit, globalOptions, openStore } from '../context';
import { CliError, EXIT_NEGATIVE } from '../errors';

type BundleVerifier = (path: string, opts: VerifyOptions) => Promise<VerifyReport>;

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
        if (isBundleFile(ref)) {
          if (opts.from !== undefined) {
            throw new CliError('--from applies to a ref in the store, not to a bundle');
          }
          r = await (await bundleVerifier())(ref, vopts);
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

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];

/**
 * Whether `ref` names a bundle: an existing file that is a zip (whatever its name, e.g. a bundle
 * renamed `.zip`), or an existing `.lockstep` file (the bundle reader then says what is wrong).
 * A `.lockstep` / `.zip` path that does not exist is a file error, not an unknown ref.
 */
function isBundleFile(ref: string): boolean {
  const st = statSync(ref, { throwIfNoEntry: false });
  if (st === undefined) {
    if (/\.(lockstep|zip)$/i.test(ref)) {
      throw new CliError(`no such file: ${ref}`);
    }
    return false;
  }
  if (!st.isFile()) {
    if (/\.(lockstep|zip)$/i.test(ref)) {
      throw new CliError(`${ref} is not a file`);
    }
    return false;
  }
  if (ref.toLowerCase().endsWith('.lockstep')) {
    return true;
  }
  const head = Buffer.alloc(4);
  const fd = openSync(ref, 'r');
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  return ZIP_MAGIC.every((b, i) => head[i] === b);
}

async function bundleVerifier(): Promise<BundleVerifier> {
  const path = '../../main/bundle/verify';
  let mod: { verifyBundle?: BundleVerifier };
  try {
    mod = (await import(path)) as { verifyBundle?: BundleVerifier };
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') {
      throw new CliError('verifying a .lockstep bundle is not available in this build');
    }
    throw e;
  }
  if (typeof mod.verifyBundle !== 'function') {
    throw new CliError('verifying a .lockstep bundle is not available in this build');
  }
  return mod.verifyBundle;
}

/**
 * Progress on stderr: on a terminal one line kept up to date (`verify: 1200/5000 steps`), else a
 * line per 10% (so CI logs show it too). done < 0 clears the terminal line.
 */
function progressLine(json: boolean): (done: number, total: number) => void {
  if (!process.stderr.isTTY) {
    let shown = -1;
    return (done, total) => {
      const tenth = total > 0 && done >= 0 ? Math.floor((done * 10) / total) : -1;
      if (!json && tenth > shown && tenth > 0 && total >= 100) {
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
