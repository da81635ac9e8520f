/**
 * `log [<ref>]`: the run graph in the terminal, like `git log --graph`: each run, its branches
 * (a branch drawn indented under the branch it forked from, at its branch point) and their
 * checkpoints newest first. With --json, the same as an array of runs with branches.
 */
import type { Command } from 'commander';
import { graphView, type BranchView, type RunView } from '../../main/service/inspect';
import { emit, openStore } from '../context';

export function register(program: Command): void {
  program
    .command('log')
    .description('list runs, branches and checkpoints')
    .argument('[branch]', 'only this branch')
    .action(async (branch: string | undefined, _opts: unknown, cmd: Command) => {
      const store = await openStore(cmd, false);
      if (branch !== undefined) {
        await store.getBranch(branch);
      }
      const runs = await graphView(store, branch);
      emit(cmd, runs, () =>
        runs.length === 0
          ? 'no runs yet: start one with `lockstep train`'
          : runs.map(formatRun).join('\n\n'),
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
