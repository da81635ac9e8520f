/**
 * Timeline layout: the run graph (RunInfo[]) as horizontal lanes over steps, like a git graph
 * turned sideways. Pure and O(checkpoints): the canvas renderer draws from this.
 *
 * - One lane per branch. Runs are stacked newest first (or in creation order), each with a
 *   header row; inside a run, a branch is placed right below the branch it forked from
 *   (depth-first, older first), so a branch point's connector is short.
 * - The runs of one seed study or sweep (branches named `<study id>-…`, see {@link studyOf}) sit
 *   together under one group row, at the place of the group's first run, collapsed unless their
 *   id is in `expanded`: a 3-per-group study is one row, not twelve. A collapsed group's lanes
 *   are not laid out, but its checkpoints count and its steps widen the axis (expanding it does
 *   not rescale the view).
 * - A lane starts at its base step (0 for a run's first branch) and ends at its tip.
 * - Each lane's checkpoints are sorted by step for binary search (hit testing, culling).
 */
import type { BranchInfo, CheckpointInfo, RunInfo } from '../../../../shared/contract';

export interface LaneNode {
  id: string;
  step: number;
  checkpoint: CheckpointInfo;
}

export interface Lane {
  kind: 'branch';
  row: number;
  run: RunInfo;
  branch: BranchInfo;
  /** row of the lane holding the base checkpoint, or null */
  parentRow: number | null;
  startStep: number;
  endStep: number;
  depth: number;
  /** checkpoints sorted by ascending step */
  nodes: LaneNode[];
  /** sorted steps (same order as nodes), for binary search */
  steps: Float64Array;
}

export interface RunHeader {
  kind: 'run';
  row: number;
  run: RunInfo;
}

/** The header row of a seed study's or sweep's runs. */
export interface GroupHeader {
  kind: 'group';
  row: number;
  /** the study or sweep id */
  id: string;
  runs: RunInfo[];
  collapsed: boolean;
  /** branches and checkpoints in the group */
  branches: number;
  checkpoints: number;
}

export type Row = Lane | RunHeader | GroupHeader;

export interface LayoutOptions {
  /** newest run first (default) or creation order */
  newestFirst?: boolean;
  /** ids of the study groups shown expanded */
  expanded?: ReadonlySet<string>;
}

const STUDY_BRANCH = /^((?:study|sweep)-\d{8}-\d{6}-[0-9a-f]{6})-/;

/** The seed study or sweep a run belongs to (from its branches' names), or null. */
export function studyOf(run: RunInfo): string | null {
  for (const b of run.branches) {
    const m = STUDY_BRANCH.exec(b.name);
    if (m) {
      return m[1];
    }
  }
  return null;
}

export interface TimelineLayout {
  rows: Row[];
  lanes: Lane[];
  maxStep: number;
  /** every branch, collapsed groups' included */
  branches: number;
  /** checkpoint id → lane row and index in lane.nodes (the first lane that owns it) */
  where: Map<string, { row: number; index: number }>;
  checkpoints: number;
}

/** Lays out every run and branch. */
export function layoutTimeline(runs: readonly RunInfo[], opts: LayoutOptions = {}): TimelineLayout {
  const rows: Row[] = [];
  const lanes: Lane[] = [];
  const where = new Map<string, { row: number; index: number }>();
  let maxStep = 0;
  let checkpoints = 0;

  // runs in display order, a study's runs together at the place of its first run
  const ordered = [...runs];
  if (opts.newestFirst ?? true) {
    ordered.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
  }
  const groups = new Map<string, RunInfo[]>();
  const items: (RunInfo | { id: string; runs: RunInfo[] })[] = [];
  for (const run of ordered) {
    const id = studyOf(run);
    if (id === null) {
      items.push(run);
      continue;
    }
    let list = groups.get(id);
    if (list === undefined) {
      list = [];
      groups.set(id, list);
      items.push({ id, runs: list });
    }
    list.push(run);
  }

  const layoutRun = (run: RunInfo): void => {
    rows.push({ kind: 'run', row: rows.length, run });
    // which branch owns each checkpoint id (its own checkpoints)
    const owner = new Map<string, BranchInfo>();
    for (const b of run.branches) {
      for (const c of b.checkpoints) {
        if (!owner.has(c.id)) {
          owner.set(c.id, b);
        }
      }
    }
    const children = new Map<BranchInfo | null, BranchInfo[]>();
    for (const b of run.branches) {
      const parent = b.base === null ? null : (owner.get(b.base) ?? null);
      const key = parent === b ? null : parent;
      const list = children.get(key) ?? [];
      list.push(b);
      children.set(key, list);
    }
    const rowOfBranch = new Map<BranchInfo, number>();
    const visit = (b: BranchInfo, depth: number, parentRow: number | null): void => {
      const row = rows.length;
      rowOfBranch.set(b, row);
      const nodes = b.checkpoints
        .map((c): LaneNode => ({ id: c.id, step: c.step, checkpoint: c }))
        .sort((x, y) => x.step - y.step);
      const steps = Float64Array.from(nodes, (n) => n.step);
      const startStep = b.baseStep ?? (nodes.length > 0 ? nodes[0].step : 0);
      const endStep = nodes.length > 0 ? nodes[nodes.length - 1].step : startStep;
      const lane: Lane = {
        kind: 'branch',
        row,
        run,
        branch: b,
        parentRow,
        startStep,
        endStep,
        depth,
        nodes,
        steps,
      };
      rows.push(lane);
      lanes.push(lane);
      maxStep = Math.max(maxStep, endStep);
      checkpoints += nodes.length;
      nodes.forEach((n, index) => {
        if (!where.has(n.id)) {
          where.set(n.id, { row, index });
        }
      });
      for (const child of children.get(b) ?? []) {
        visit(child, depth + 1, row);
      }
    };
    for (const root of children.get(null) ?? []) {
      const baseOwner = root.base === null ? undefined : where.get(root.base);
      visit(root, 0, baseOwner ? baseOwner.row : null);
    }
  };

  for (const item of items) {
    if (!('runs' in item)) {
      layoutRun(item);
      continue;
    }
    const collapsed = !(opts.expanded?.has(item.id) ?? false);
    let branches = 0;
    let count = 0;
    for (const run of item.runs) {
      for (const b of run.branches) {
        branches++;
        count += b.checkpoints.length;
        for (const c of b.checkpoints) {
          maxStep = Math.max(maxStep, c.step);
        }
      }
    }
    // oldest run first inside a group: its task order
    const groupRuns = [...item.runs].sort((a, b) =>
      a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0,
    );
    rows.push({
      kind: 'group',
      row: rows.length,
      id: item.id,
      runs: groupRuns,
      collapsed,
      branches,
      checkpoints: count,
    });
    if (collapsed) {
      checkpoints += count;
    } else {
      groupRuns.forEach(layoutRun);
    }
  }
  const branches = runs.reduce((n, r) => n + r.branches.length, 0);
  return { rows, lanes, maxStep, branches, where, checkpoints };
}

/** Index of the first element of sorted `a` that is ≥ v. */
export function lowerBound(a: Float64Array, v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < v) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

/** Index of the node of `lane` nearest to `step`, or -1 for an empty lane. */
export function nearestNode(lane: Lane, step: number): number {
  const n = lane.steps.length;
  if (n === 0) {
    return -1;
  }
  const i = lowerBound(lane.steps, step);
  if (i === 0) {
    return 0;
  }
  if (i >= n) {
    return n - 1;
  }
  return step - lane.steps[i - 1] <= lane.steps[i] - step ? i - 1 : i;
}
