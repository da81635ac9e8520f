/**
 * Removing branches and runs (CLI `branch rm`, `run rm`; the service's deleteBranch/deleteRun).
 *
 * - removeBranch drops one branch record. Checkpoints other branches reach stay (a branch forked
 *   from it keeps its whole lineage); what only this branch reached becomes unreferenced, and
 *   `gc` frees it (after its grace period). A checkpoint a study keeps (refs/keep/study/…) stays
 *   until its run is removed.
 * - removeRun drops every branch of the run, its run record, and the run's checkpoints from every
 *   keep ref (so a study's runs can be cleaned up); the study's report itself stays listed.
 * Both refuse (RefError, nothing removed) an unknown name; nothing else is written.
 */
import type { Store } from '../store/store';

export interface RemoveResult {
  /** branches removed */
  branches: string[];
  /** the run removed, if any */
  run?: string;
  /** keep refs that no longer hold the run's checkpoints */
  keeps: string[];
}

export async function removeBranch(store: Store, name: string): Promise<RemoveResult> {
  await store.getBranch(name);
  await store.deleteBranch(name);
  return { branches: [name], keeps: [] };
}

export async function removeRun(store: Store, id: string): Promise<RemoveResult> {
  const run = await store.getRun(id);
  const branches = (await store.listBranches()).filter((b) => b.run === id);
  // the run's checkpoints: everything its branches reach
  const ids = new Set<string>([run.root]);
  for (const b of branches) {
    for (const n of await store.lineage(b.tip)) {
      ids.add(n.id);
    }
  }
  for (const b of branches) {
    await store.deleteBranch(b.name);
  }
  await store.deleteRun(id);
  const keeps: string[] = [];
  for (const [name, list] of await store.listKeeps()) {
    const rest = list.filter((x) => !ids.has(x));
    if (rest.length !== list.length) {
      await store.setKeep(name, rest);
      keeps.push(name);
    }
  }
  return { branches: branches.map((b) => b.name), run: id, keeps };
}
