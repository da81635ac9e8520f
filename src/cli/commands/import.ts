/**
 * `import FILE`: merges a `.lockstep` bundle into the store (src/main/bundle/import.ts).
 * The bundle is validated completely first; a refused bundle exits 2 with one line on stderr and
 * leaves the store unchanged. Prints what was imported and what had to be renamed.
 * JSON: `{ imported, renamed, existing, runs, checkpoints, newCheckpoints }`.
 */
import type { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { emit, openStore } from '../context';
import { cliProgress } from '../progress';

export function register(program: Command): void {
  program
    .command('import')
    .description('import a .lockstep bundle into the store (never overwrites a branch)')
    .argument('<file>', 'the .lockstep file')
    .action(async (file: string, _opts: unknown, cmd: Command) => {
      // loaded on use, so they stay out of every other command's start
      const { readBundle } = await import('../../main/bundle/read');
      const { importReadBundle } = await import('../../main/bundle/import');
      // refuse a bad bundle before the store is even opened (or created)
      const bundle = await readBundle(file);
      const store = await openStore(cmd);
      const r = await importReadBundle(store, bundle);
      emit(cmd, r, () => {
        const lines = [
          `imported ${r.checkpoints} checkpoints (${r.newCheckpoints} new) from ${file}`,
        ];
        for (const name of r.imported) {
          lines.push(`  branch ${name}`);
        }
        for (const name of r.existing) {
          lines.push(`  branch ${name} (already here, unchanged)`);
        }
        for (const [from, to] of Object.entries(r.renamed)) {
          lines.push(`  renamed ${from} → ${to} (the name was taken)`);
        }
        return lines.join('\n');
      });
    });
}

export interface ByteProgress {
  update: (done: number, total: number) => void;
  stop: () => void;
}

/** Progress in bytes for work over 4 MB: a bar on a terminal, else a line per 10%. */
export function byteProgress(json: boolean, label: string, minBytes = 4 << 20): ByteProgress {
  const mb = (n: number) => (n / (1 << 20)).toFixed(1);
  if (process.stderr.isTTY && !process.env.CI) {
    let bar: SingleBar | null = null;
    return {
      update(done, total) {
        if (bar === null && total >= minBytes) {
          const { SingleBar, Presets } = cliProgress();
          bar = new SingleBar(
            {
              format: ` ${label} {bar} {percentage}% | {doneMb}/{totalMb} MB | ETA {eta_formatted}`,
              hideCursor: true,
              stream: process.stderr,
            },
            Presets.shades_classic,
          );
          bar.start(total, 0, { doneMb: mb(0), totalMb: mb(total) });
        }
        bar?.update(done, { doneMb: mb(done), totalMb: mb(total) });
      },
      stop() {
        bar?.stop();
      },
    };
  }
  const out = json ? process.stderr : process.stdout;
  let next = 10;
  return {
    update(done, total) {
      if (total < minBytes) {
        return;
      }
      const pct = Math.floor((100 * done) / total);
      if (pct >= next) {
        out.write(`${label}: ${pct}% (${mb(done)} of ${mb(total)} MB)\n`);
        next = Math.floor(pct / 10) * 10 + 10;
      }
    },
    stop() {},
  };
}
