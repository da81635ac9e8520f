/**
 * `branch rm <name>` and `run rm <id>`: remove a branch, or a run with all its branches (see
 * src/main/service/remove.ts); `gc` then frees what nothing else reaches.
 * JSON: `{ branches, run?, keeps }`.
 */
import type { Command } from 'commander';
import { removeBranch, removeRun, type RemoveResult } from '../../main/service/remove';
import { emit, openStore } from '../context';

function summary(r: RemoveResult): string {
  const what = r.run !== undefined ? `run ${r.run} and ` : '';
  return `removed ${what}${r.branches.length} branch(es)${r.branches.length ? `: ${r.branches.join(', ')}` : ''}; \`lockstep gc\` frees what nothing else reaches`;
}

export function register(program: Command): void {
  const branch = program.command('branch').description('manage branches');
  branch
    .command('rm')
    .description('remove a branch (its checkpoints stay until gc finds nothing else reaches them)')
    .argument('<name>', 'branch name')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const r = await removeBranch(await openStore(cmd, false), name);
      emit(cmd, r, () => summary(r));
    });

  const run = program.command('run').description('manage runs');
  run
    .command('rm')
    .description('remove a run with all its branches (gc then frees its checkpoints)')
    .argument('<id>', 'run id (see `lockstep log`)')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const r = await removeRun(await openStore(cmd, false), id);
      emit(cmd, r, () => summary(r));
    });
}
