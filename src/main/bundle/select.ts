/**
 * What a bundle holds for a ref (used by export):
 * - `run:<runId>`: the run record and every branch of the run, with their lineages;
 * - a branch name: that branch record, its run record, and its lineage from the run's step 0
 *   (through the branches it forked from; their records are not included);
 * - any other ref (a checkpoint id or prefix, `branch@N`): that checkpoint's lineage and its run.
 *   When a branch has it as its tip, that branch record goes along; otherwise a branch record
 *   `<branch>-step<N>` is made for it (config from the checkpoint, base from the branch it lies
 *   on), so that the import has a name to continue from and gc keeps it.
 * Nodes come parents first (by step, then id). `verified` annotations are dropped: they state a
 * replay made on the exporter's machine, which the importer should redo (`verify`).
 * Unknown refs are the store's RefError.
 */
import { parseManifest } from '../engine/state';
import { RefError, type BranchRecord, type CheckpointNode, type RunRecord } from '../store/api';
import { branchNameProblem } from '../store/layout';
import type { Store } from '../store/store';
import type { BundleKind } from './format';

export const RUN_REF_PREFIX = 'run:';

export interface Selection {
  kind: BundleKind;
  runs: RunRecord[];
  branches: BranchRecord[];
  nodes: CheckpointNode[];
  tips: string[];
}

export async function selectForBundle(store: Store, ref: string): Promise<Selection> {
  if (ref.startsWith(RUN_REF_PREFIX)) {
    const run = await store.getRun(ref.slice(RUN_REF_PREFIX.length));
    const branches = (await store.listBranches()).filter((b) => b.run === run.id);
    if (branches.length === 0) {
      throw new RefError(`run '${run.id}' has no branches to export`);
    }
    return finish(store, 'run', [run], branches);
  }
  if (branchNameProblem(ref) === null && (await store.hasBranch(ref))) {
    const branch = await store.getBranch(ref);
    return finish(store, 'branch', [await store.getRun(branch.run)], [branch]);
  }
  const id = await store.resolveRef(ref);
  const all = await store.listBranches();
  const lineages = new Map<string, CheckpointNode[]>();
  for (const b of all) {
    lineages.set(b.name, await store.lineage(b.tip));
  }
  const owners = all.filter((b) => lineages.get(b.name)!.some((n) => n.id === id));
  if (owners.length === 0) {
    throw new RefError(`checkpoint ${id.slice(0, 12)} is on no branch: nothing to export it with`);
  }
  const atTip = owners.find((b) => b.tip === id);
  if (atTip) {
    return finish(store, 'checkpoint', [await store.getRun(atTip.run)], [atTip]);
  }
  const node = await store.getNode(id);
  // the branch whose own part (after its base) holds the checkpoint, else the first owner
  const stepOf = (cid: string | null, name: string) =>
    cid === null ? -1 : (lineages.get(name)!.find((n) => n.id === cid)?.step ?? -1);
  const owner = owners.find((b) => stepOf(b.base, b.name) < node.step) ?? owners[0];
  const manifest = parseManifest(await store.getObject(id));
  const now = owner.updatedAt;
  const synthetic: BranchRecord = {
    name: `${owner.name}-step${node.step}`.slice(0, 100),
    run: owner.run,
    tip: id,
    base: stepOf(owner.base, owner.name) < node.step ? owner.base : null,
    config: manifest.config,
    status: 'done',
    note: `exported from branch '${owner.name}' at step ${node.step}`,
    createdAt: now,
    updatedAt: now,
  };
  return finish(store, 'checkpoint', [await store.getRun(owner.run)], [synthetic]);
}

async function finish(
  store: Store,
  kind: BundleKind,
  runs: RunRecord[],
  branches: BranchRecord[],
): Promise<Selection> {
  const nodes = new Map<string, CheckpointNode>();
  for (const b of branches) {
    for (const n of await store.lineage(b.tip)) {
      const { verified: _verified, ...rest } = n;
      nodes.set(n.id, rest);
    }
  }
  for (const r of runs) {
    if (!nodes.has(r.root)) {
      const { verified: _verified, ...rest } = await store.getNode(r.root);
      nodes.set(r.root, rest);
    }
  }
  const sorted = [...nodes.values()].sort(
    (a, b) => a.step - b.step || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  const tips = [...new Set(branches.map((b) => b.tip))];
  return { kind, runs, branches, nodes: sorted, tips };
}
