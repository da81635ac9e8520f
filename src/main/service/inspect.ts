/**
 * Read-only views of the store for every front: one checkpoint's details, and the run graph as
 * branches with their checkpoints (newest first).
 */
import { parseManifest } from '../engine/state';
import type { CheckpointDetails } from '../../shared/contract';
import type { BranchRecord, CheckpointNode, RunRecord } from '../store/api';
import type { Store } from '../store/store';
import { compareCodeUnits } from '../../shared/order';

export type { CheckpointDetails } from '../../shared/contract';

export async function describeCheckpoint(store: Store, id: string): Promise<CheckpointDetails> {
  const node = (await store.getNode(id)) as CheckpointNode & { verified?: string };
  const m = parseManifest(await store.getObject(id));
  const branches: string[] = [];
  for (const b of await store.listBranches()) {
    if ((await store.lineage(b.tip)).some((n) => n.id === id)) {
      branches.push(b.name);
    }
  }
  return {
    stateHash: id,
    step: m.step,
    cursor: m.cursor,
    parent: node.parent,
    config: m.config,
    backend: m.backend,
    datasetDigest: m.datasetDigest,
    counters: m.counters,
    tensors: Object.keys(m.tensors.shapes)
      .sort()
      .map((name) => ({ name, shape: m.tensors.shapes[name] })),
    ...(node.eval ? { eval: node.eval } : {}),
    ...(node.loss !== undefined ? { loss: node.loss } : {}),
    ...(node.verified ? { verified: node.verified } : {}),
    createdAt: node.createdAt,
    branches,
  };
}

export interface BranchView extends BranchRecord {
  /** the branch's own checkpoints, newest first (those after its base) */
  checkpoints: CheckpointNode[];
  /** step of the base checkpoint (null for a run's first branch) */
  baseStep: number | null;
}

export interface RunView extends RunRecord {
  branches: BranchView[];
}

/** The run graph: every run with its branches (first branch first) and their checkpoints. */
export async function graphView(store: Store, onlyBranch?: string): Promise<RunView[]> {
  const g = await store.listGraph();
  const nodes = new Map(g.nodes.map((n) => [n.id, n]));
  const lineage = (tip: string): CheckpointNode[] => {
    // cycle-safe: a damaged store's parents may loop (fsck reports it)
    const out: CheckpointNode[] = [];
    const seen = new Set<string>();
    for (
      let n = nodes.get(tip);
      n && !seen.has(n.id);
      n = n.parent ? nodes.get(n.parent) : undefined
    ) {
      seen.add(n.id);
      out.push(n);
    }
    return out;
  };
  const runs: RunView[] = [];
  for (const run of [...g.runs].sort((a, b) => compareCodeUnits(a.createdAt, b.createdAt))) {
    const branches = g.branches
      .filter((b) => b.run === run.id && (onlyBranch === undefined || b.name === onlyBranch))
      .sort(
        (a, b) => compareCodeUnits(a.createdAt, b.createdAt) || compareCodeUnits(a.name, b.name),
      )
      .map((b): BranchView => {
        const baseStep = b.base ? (nodes.get(b.base)?.step ?? null) : null;
        const own = lineage(b.tip).filter((n) => baseStep === null || n.step > baseStep);
        return { ...b, checkpoints: own, baseStep };
      });
    if (branches.length > 0) {
      runs.push({ ...run, branches });
    }
  }
  return runs;
}
