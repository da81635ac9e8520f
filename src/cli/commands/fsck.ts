/**
 * `fsck`: verify every object, record and ref of the store (exit 1 when anything is damaged) and
 * `gc`: remove what no run, branch or keep ref reaches, reporting the bytes freed.
 * With no store yet both say "no runs yet" and exit 0 (nothing to check or remove).
 */
import type { Command } from 'commander';
import { emit, NO_RUNS_YET, openStoreIfAny, storeDir } from '../context';
import { EXIT_NEGATIVE } from '../errors';
import { intArg } from '../options';

export function register(program: Command): void {
  program
    .command('fsck')
    .description('verify every object and ref in the store')
    .action(async (_opts: unknown, cmd: Command) => {
      const store = await openStoreIfAny(cmd);
      if (store === null) {
        const empty = { ok: true, objects: 0, refs: 0, problems: [] };
        emit(cmd, empty, () => `${NO_RUNS_YET} (no store at ${storeDir(cmd)})`);
        return;
      }
      const report = await store.fsck();
      emit(cmd, report, () => {
        const lines = [`checked ${report.objects} objects and ${report.refs} refs in ${store.dir}`];
        for (const p of report.problems) {
          lines.push(
            `${p.kind === 'temp' || p.kind === 'lock' ? 'leftover' : 'damaged'} ${p.kind} ${p.name}: ${p.message}`,
          );
        }
        lines.push(
          report.ok
            ? 'store is consistent'
            : `store has ${report.problems.filter((p) => p.kind !== 'temp' && p.kind !== 'lock').length} problem(s)`,
        );
        return lines.join('\n');
      });
      if (!report.ok) {
        process.exitCode = EXIT_NEGATIVE;
      }
    });

  program
    .command('gc')
    .description('remove objects that no run, branch or keep ref reaches')
    .option(
      '--grace <minutes>',
      'keep unreferenced objects younger than this (protects concurrent writers)',
      intArg(0),
      15,
    )
    .action(async (opts: { grace: number }, cmd: Command) => {
      const store = await openStoreIfAny(cmd);
      if (store === null) {
        const none = { removedObjects: 0, bytesFreed: 0, keptObjects: 0 };
        emit(cmd, none, () => `${NO_RUNS_YET} (no store at ${storeDir(cmd)}): nothing to remove`);
        return;
      }
      const report = await store.gc({ graceMs: opts.grace * 60_000 });
      emit(
        cmd,
        report,
        () =>
          `removed ${report.removedObjects} object(s), freed ${formatBytes(report.bytesFreed)}; kept ${report.keptObjects}`,
      );
    });
}

function formatBytes(n: number): string {
  return n < 1024
    ? `${n} B`
    : n < 1024 ** 2
      ? `${(n / 1024).toFixed(1)} KiB`
      : `${(n / 1024 ** 2).toFixed(1)} MiB`;
}
