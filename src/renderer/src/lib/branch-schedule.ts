/**
 * What the Branch/continue form should start from for a checkpoint (review finding 28): the
 * branch's checkpoint and evaluation intervals as its stored checkpoints show them (the run graph
 * does not carry the schedule itself), and its tip step. Pure.
 *
 * The interval is the smallest gap between consecutive checkpoints (resp. evaluated checkpoints)
 * of the branch, not counting the gap into the tip (a run's final step is checkpointed and
 * evaluated whatever its schedule); with a single gap, that gap.
 */
import type { BranchInfo } from '../../../shared/contract';

export interface BranchSchedule {
  checkpointEvery: number | null;
  evalEvery: number | null;
  tipStep: number;
}

function smallestGap(steps: number[]): number | null {
  const s = [...new Set(steps)].sort((a, b) => a - b);
  const gaps: number[] = [];
  for (let i = 1; i < s.length; i++) {
    gaps.push(s[i] - s[i - 1]);
  }
  if (gaps.length === 0) {
    return null;
  }
  const inner = gaps.length > 1 ? gaps.slice(0, -1) : gaps;
  return Math.min(...inner);
}

/** The schedule of `branch` (see the module comment). */
export function branchSchedule(branch: BranchInfo): BranchSchedule {
  const steps = branch.checkpoints.map((c) => c.step);
  const start = branch.baseStep ?? 0;
  const tipStep = Math.max(start, ...steps);
  const evaluated = branch.checkpoints.filter((c) => c.eval !== undefined).map((c) => c.step);
  return {
    checkpointEvery: smallestGap([start, ...steps]),
    evalEvery: smallestGap(evaluated.length >= 2 ? evaluated : []),
    tipStep,
  };
}
