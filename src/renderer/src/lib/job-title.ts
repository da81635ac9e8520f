/**
 * A job's title as a person reads it (review finding 24): "Branch fake-lr0.1 from step 1,000
 * (lr 0.01 → 0.1)", "Continue main from step 600 to 900", "Train main", instead of the service's
 * terse label ("continue 097361461992 +1000"). Pure: the run graph supplies the branch's parent
 * config; a branch the graph does not have yet (its first checkpoint has not landed) gets a
 * title from the job alone.
 */
import type { BranchInfo, JobInfo, RunInfo } from '../../../shared/contract';
import { configDiff, int } from './format';

/** The branch named `name` and the branch its base checkpoint belongs to, if any. */
export function branchAndParent(
  runs: readonly RunInfo[],
  name: string,
): { branch: BranchInfo; parent: BranchInfo | null } | null {
  for (const run of runs) {
    const branch = run.branches.find((b) => b.name === name);
    if (branch === undefined) {
      continue;
    }
    const base = branch.base;
    const parent =
      base === null
        ? null
        : (run.branches.find((b) => b !== branch && b.checkpoints.some((c) => c.id === base)) ??
          null);
    return { branch, parent };
  }
  return null;
}

/** The title of a job (see the module comment). */
export function jobTitle(info: JobInfo, runs: readonly RunInfo[]): string {
  const name = info.branch;
  if (info.kind === 'train') {
    return name === undefined ? capitalise(info.label) : `Train ${name}`;
  }
  if (info.kind !== 'continue' || name === undefined || info.fromStep === undefined) {
    return capitalise(info.label);
  }
  const from = int(info.fromStep);
  const to = info.toStep === undefined ? '' : ` to ${int(info.toStep)}`;
  const found = branchAndParent(runs, name);
  if (found !== null && found.parent !== null && found.branch.baseStep === info.fromStep) {
    // the job started this branch: say what it changes
    const diff = configDiff(found.parent.config, found.branch.config, null);
    return `Branch ${name} from step ${from}${diff === 'same config' ? '' : ` (${diff})`}`;
  }
  return `Continue ${name} from step ${from}${to}`;
}

function capitalise(s: string): string {
  return s.length === 0 ? s : s[0].toUpperCase() + s.slice(1);
}
