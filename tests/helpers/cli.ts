/** Runs the real `lockstep` CLI in a child process and snapshots store directories. */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tempDir } from './fixtures';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin/lockstep.mjs');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** the parsed last stdout line when --json was given */
  json?: unknown;
}

/** Runs `lockstep args…` to completion. */
export function cli(args: string[], env: Record<string, string | undefined> = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, CI: '1', ...env },
    timeout: 600_000,
  });
  const out: CliResult = { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  if (args.includes('--json')) {
    const lines = r.stdout.trim().split('\n');
    try {
      out.json = JSON.parse(lines[lines.length - 1]);
    } catch {
      out.json = undefined;
    }
  }
  return out;
}

/** Starts `lockstep args…` without waiting (for kill tests). */
export function cliAsync(args: string[], env: Record<string, string | undefined> = {}) {
  return spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, CI: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export { tempDir } from './fixtures';

/**
 * A copy of this checkout's sources (bin, scripts, src, the package and TypeScript configs) in a
 * fresh temp folder, with node_modules linked: a checkout with no CLI bundle built yet.
 */
export function checkoutCopy(prefix: string): string {
  const root = tempDir(prefix);
  for (const p of [
    'bin',
    'scripts',
    'src',
    'package.json',
    'tsconfig.json',
    'tsconfig.node.json',
  ]) {
    cpSync(join(ROOT, p), join(root, p), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  return root;
}

/**
 * An edit of a source file in a {@link checkoutCopy}: the program's description in
 * src/cli/program.ts becomes `text` (what `--help` then shows, once the edit is built).
 */
export function editDescription(root: string, text: string): void {
  const program = join(root, 'src', 'cli', 'program.ts');
  const before = readFileSync(program, 'utf8');
  const after = before.replace(
    "'Deterministic neural-network training: the same inputs give the same bits.'",
    `'${text}'`,
  );
  if (after === before) {
    throw new Error(`the description in ${program} was not found`);
  }
  writeFileSync(program, after);
}

/** SHA-256 of every file under dir, by relative path: equal maps mean an untouched tree. */
export function treeDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      if (statSync(p).isDirectory()) {
        out[r + '/'] = 'dir';
        walk(p, r);
      } else {
        out[r] = createHash('sha256').update(readFileSync(p)).digest('hex');
      }
    }
  };
  walk(dir, '');
  return out;
}

/** Small real training options on the fake dataset. */
export const FAKE_TRAIN = [
  '--dataset',
  'fake',
  '--model',
  'mlp',
  '--hidden',
  '16,8',
  '--batch-size',
  '32',
  '--lr',
  '0.05',
];
