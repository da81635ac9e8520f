/** Helpers for the bundle tests: a small real run, a store's bytes, the CLI as a process. */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { readZipSafely, writeZip } from '../../src/main/bundle/zip-safe';
import { BUNDLE_LIMITS } from '../../src/main/bundle/read';
import { startRun } from '../../src/main/service/train';
import type { TrainResult } from '../../src/shared/contract';
import type { Store } from '../../src/main/store/store';
import type { TrainingConfig } from '../../src/main/engine/types';
import { fakeConfig } from '../helpers/fixtures';

export const ROOT = join(import.meta.dirname, '..', '..');

export const CONFIG: TrainingConfig = fakeConfig({ seed: 3 });

/** 120 steps with checkpoints and evaluations every 40. */
export function trainSmall(store: Store, branch?: string): Promise<TrainResult> {
  return startRun(store, {
    config: CONFIG,
    steps: 120,
    checkpointEvery: 40,
    evalEvery: 40,
    branch,
  });
}

/** SHA-256 of every file under `dir`, by relative path (directories included as entries). */
export async function hashTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const rel = relative(dir, p);
      if (e.isDirectory()) {
        out[rel + '/'] = 'dir';
        await walk(p);
      } else {
        out[rel] = createHash('sha256')
          .update(await readFile(p))
          .digest('hex');
      }
    }
  };
  await walk(dir);
  return out;
}

/** Rewrites a bundle with `change` applied to its entries (through writeZip: CRCs consistent). */
export async function rewriteBundle(
  from: string,
  to: string,
  change: (entries: Map<string, Uint8Array>) => void,
): Promise<void> {
  const entries = await readZipSafely(from, BUNDLE_LIMITS);
  change(entries);
  await writeZip(
    to,
    [...entries].map(([name, data]) => ({ name, data })),
  );
}

/** Every object of a bundle by id (all in memory: for tests on small bundles). */
export async function bundleObjects(file: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const [name, data] of await readZipSafely(file, BUNDLE_LIMITS)) {
    if (name.startsWith('objects/')) {
      out.set(name.slice('objects/'.length), data);
    }
  }
  return out;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/lockstep.mjs …args`. */
export function cli(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, 'bin', 'lockstep.mjs'), ...args],
      { cwd: ROOT, env: { ...process.env, CI: '1' }, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
