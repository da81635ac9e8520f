/**
 * `log [<ref>]`: the run graph in the terminal, like `git log --graph`: each run, its branches
 * (a branch drawn indented under the branch it forked from, at its branch point) and their
 * checkpoints newest first. With --json, one object `{ runs: [...] }` (runs with branches).
 * No store yet: "no runs yet", exit 0.
 */
import type { Command } from 'commander';
import { RefError } from '../../main/store/api';
import type { BranchView, RunView } from '../../main/service/inspect';
import { emit, NO_RUNS_YET, openStoreIfAny } from '../context';

export function register(program: Command): void {
  program
    .command('log')
    .description('list runs, branches and checkpoints')
    .argument('[branch]', 'only this branch')
    .action(async (branch: string | undefined, _opts: unknown, cmd: Command) => {
      const store = await openStoreIfAny(cmd);
      if (store !== null && branch !== undefined) {
        await store.getBranch(branch);
      }
      if (store === null && branch !== undefined) {
        throw new RefError(`unknown branch '${branch}': ${NO_RUNS_YET}`);
      }
      const { graphView } = await import('../../main/service/inspect'); // not for --help
      const runs = store === null ? [] : await graphView(store, branch);
      emit(cmd, { runs }, () =>
        runs.length === 0 ? NO_RUNS_YET : runs.map(formatRun).join('\n\n'),
      );
    });
}

function fmtEval(b: BranchView['checkpoints'][number]): string {
  const t = b.eval?.test;
  return [
    b.loss !== undefined ? `loss ${b.loss.toFixed(4)}` : '',
    t ? `test ${(t.precision * 100).toFixed(2)}%` : '',
  ]
    .filter(Boolean)
    .join('  ');
}

function formatRun(run: RunView): string {
  const c = run.config;
  const lines = [
    `run ${run.id}  seed ${run.seed}  ${c.dataset} · ${c.model.kind}${c.model.hidden.length ? ' ' + c.model.hidden.join(',') : ''} · ${c.backend}`,
  ];
  const byName = new Map(run.branches.map((b) => [b.name, b]));
  const children = new Map<string, BranchView[]>();
  const roots: BranchView[] = [];
  for (const b of run.branches) {
    const parent = b.base
      ? run.branches.find((p) => p !== b && p.checkpoints.some((n) => n.id === b.base))
      : undefined;
    if (parent && byName.has(parent.name)) {
      children.set(parent.name, [...(children.get(parent.name) ?? []), b]);
    } else {
      roots.push(b);
    }
  }
  const draw = (b: BranchView, indent: string): void => {
    const opt = `${b.config.optimizer.kind} lr ${b.config.optimizer.lr} · batch ${b.config.batchSize}`;
    const from = b.baseStep === null ? '' : ` from step ${b.baseStep}`;
    lines.push(`${indent}* ${b.name} [${b.status}]${from} · ${opt}${b.note ? ` · ${b.note}` : ''}`);
    const kids = children.get(b.name) ?? [];
    for (const n of b.checkpoints) {
      lines.push(`${indent}| ${String(n.step).padStart(7)}  ${n.id.slice(0, 12)}  ${fmtEval(n)}`);
      for (const k of kids.filter((k) => k.base === n.id)) {
        draw(k, `${indent}|   `);
      }
    }
    if (b.base === null) {
      return;
    }
    lines.push(`${indent}|/ branched from ${b.base.slice(0, 12)}`);
  };
  for (const r of roots) {
    draw(r, '');
  }
  return lines.join('\n');
}
