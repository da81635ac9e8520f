/**
 * Importing a `.lockstep` bundle into a store.
 *
 * `importBundle(store, path, opts)` validates everything before it writes anything:
 *  - the bundle itself (./read.ts: zip safety, schema version, hashes, manifests and blobs,
 *    graph consistency); then, read-only against the store,
 *  - what the bundle refers to without holding it (parents, traces, runs) exists in the store;
 *  - runs: a run id the store already has with the same record is shared; with a different
 *    record, the bundle's run is imported as `<id>-imported` (or `-imported-2`, …);
 *  - branches: a branch the store already has with the same tip, base and run, under the same
 *    name or one an earlier import gave it (`<name>-imported…`), is left as it is and reported in
 *    `existing`; any other clash imports the branch as `<name>-imported` (or
 *    `-imported-2`, … at most 1000 tries): an existing branch is never overwritten. Names are
 *    compared as the store compares them (up to case and Unicode form); a branch whose namespace
 *    is a branch of the store (`mine/sub` into a store with `mine`) is refused (NAME_CLASH), as
 *    no suffix could make it fit. The store's branches are read once: planning is O(n log n).
 * A refused bundle is a BundleError and the store is byte-for-byte unchanged. Then it merges in
 * two steps, holding one object in memory at a time: every object the store lacks is read from
 * the file again (re-checked against its id) and staged (../store/staging.ts: temp files, removed
 * again if anything fails before the commit); then checkpoints are committed parents first
 * (store.putStagedCheckpoint: staged objects renamed into place, then the node record; an
 * existing checkpoint is kept), new runs, new branches. A branch recorded as `running` arrives `stopped`
 * (nothing is running it here). Node records get the importer's createdAt (the store sets it).
 * `renamed` maps old to new branch names, and `run:<old>` to `run:<new>` for runs.
 * Datasets the bundle carries (`export --with-data`) are added under their names; a name the store
 * uses for other data is refused (NAME_CLASH), one with the same data is left as it is.
 * `onProgress(done, total)` counts checkpoints merged.
 */
import { canonicalJson } from '../engine/canonical-json';
import { branchNameProblem as newBranchNameProblem, nameKey } from '../../shared/names';
import { RefError, type BranchRecord, type RunRecord } from '../store/api';
import { objectKindProblem } from '../store/kinds';
import type { Store } from '../store/store';
import { BundleError } from './errors';
import { adoptStagedDataset, findDataset } from '../store/datasets';
import { ObjectStaging } from '../store/staging';
import { openBundleObjects, readBundle, type CheckedDataset, type ReadBundle } from './read';

export interface ImportOptions {
  onProgress?: (done: number, total: number) => void;
}

export interface ImportResult {
  /** branches created in the store (their names there) */
  imported: string[];
  /** bundle name → store name, for every branch (and `run:<id>`) that had to be renamed */
  renamed: Record<string, string>;
  /** branches that were already in the store, identical (a repeated import) */
  existing: string[];
  /** runs created in the store */
  runs: string[];
  checkpoints: number;
  /** checkpoints that were not in the store before */
  newCheckpoints: number;
}

export async function importBundle(
  store: Store,
  path: string,
  opts: ImportOptions = {},
): Promise<ImportResult> {
  return importReadBundle(store, await readBundle(path), opts);
}

/** importBundle for a bundle already read and validated by readBundle. */
export async function importReadBundle(
  store: Store,
  bundle: ReadBundle,
  opts: ImportOptions = {},
): Promise<ImportResult> {
  const plan = await planImport(store, bundle);
  return applyImport(store, bundle, plan, opts);
}

interface Plan {
  /** datasets the bundle carries that the store lacks */
  datasets: CheckedDataset[];
  runs: RunRecord[];
  runIds: Map<string, string>;
  branches: BranchRecord[];
  existing: string[];
  renamed: Record<string, string>;
}

/** Read-only checks against the store and the names things will get there. */
export async function planImport(store: Store, b: ReadBundle): Promise<Plan> {
  for (const [id, what] of b.external.checkpoints) {
    if (!(await store.hasCheckpoint(id))) {
      throw new BundleError(
        'MISSING_OBJECT',
        `checkpoint ${id} (${what}) is neither in the bundle nor in the store`,
        { checkpoint: id },
      );
    }
  }
  for (const [id, what] of b.external.objects) {
    if (!(await store.hasObject(id))) {
      throw new BundleError(
        'MISSING_OBJECT',
        `object ${id} (${what}) is neither in the bundle nor in the store`,
        { object: id },
      );
    }
    // an object is typed where it is referenced: the store's object must be a trace
    const kind = objectKindProblem('trace', await store.getObject(id));
    if (kind !== null) {
      throw new BundleError(
        'BAD_OBJECT',
        `object ${id} (${what}) in the store is not a trace segment: ${kind}`,
        { object: id },
      );
    }
  }
  for (const id of b.external.runs) {
    if (!(await runExists(store, id))) {
      throw new BundleError(
        'BAD_GRAPH',
        `the bundle's run graph is inconsistent: run '${id}' is neither in the bundle nor in the store`,
      );
    }
  }
  const datasets: CheckedDataset[] = [];
  for (const d of b.datasets) {
    const here = await findDataset(store, d.name);
    if (here === null) {
      datasets.push(d);
    } else if (here.digest !== d.data) {
      throw new BundleError(
        'NAME_CLASH',
        `the bundle carries dataset '${d.name}' (digest ${d.data.slice(0, 12)}), but this store has other data under that name (digest ${here.digest.slice(0, 12)}); remove or rename it first (lockstep data rm ${d.name})`,
      );
    }
  }
  const renamed: Record<string, string> = {};
  const runIds = new Map<string, string>();
  const runs: RunRecord[] = [];
  const takenRuns = new Set(await store.listRunIds());
  for (const r of b.manifest.runs) {
    if (takenRuns.has(r.id)) {
      const same = canonicalJson(await store.getRun(r.id)) === canonicalJson(r);
      if (same) {
        runIds.set(r.id, r.id);
        continue;
      }
      const base = `${r.id.slice(0, 80)}-imported`;
      const id = firstFree(base, (c) => !takenRuns.has(c), `run id like '${base}'`);
      renamed[`run:${r.id}`] = `run:${id}`;
      runIds.set(r.id, id);
      takenRuns.add(id);
      runs.push({ ...r, id });
    } else {
      runIds.set(r.id, r.id);
      takenRuns.add(r.id);
      runs.push(r);
    }
  }

  // every branch of the store, read once: the plan is O(n log n) in branches, not O(n²)
  const names = new Names(await store.listBranches());
  const branches: BranchRecord[] = [];
  const existing: string[] = [];
  for (const rec of b.manifest.branches) {
    const run = runIds.get(rec.run) ?? rec.run;
    const next: BranchRecord = {
      ...rec,
      run,
      ...(rec.status === 'running'
        ? { status: 'stopped' as const, note: 'imported while it was running' }
        : {}),
    };
    const clash = names.conflict(rec.name);
    if (clash === null) {
      names.add(rec.name);
      branches.push(next);
      continue;
    }
    // the same branch already here (under its name, or renamed by an earlier import)
    const same = names.same(rec, run);
    if (same !== undefined) {
      existing.push(rec.name);
      continue;
    }
    if (clash.namespace) {
      throw new BundleError(
        'NAME_CLASH',
        `branch '${rec.name}' of the bundle cannot be imported: ${clash.message}; rename the store's branch first`,
      );
    }
    const base = `${rec.name.slice(0, 80)}-imported`;
    const name = firstFree(
      base,
      (c) => newBranchNameProblem(c) === null && names.conflict(c) === null,
      `branch name like '${base}'`,
    );
    names.add(name);
    renamed[rec.name] = name;
    branches.push({ ...next, name });
  }
  return { datasets, runs, runIds, branches, existing, renamed };
}

/** How many `-N` suffixes a name search tries before it gives up. */
const MAX_CANDIDATES = 1000;

/** `base`, else `base-2` … `base-1000`: the first that `free` accepts; a BundleError if none. */
function firstFree(base: string, free: (c: string) => boolean, what: string): string {
  for (let i = 1; i <= MAX_CANDIDATES; i++) {
    const cand = i === 1 ? base : `${base}-${i}`;
    if (free(cand)) {
      return cand;
    }
  }
  throw new BundleError('NAME_CLASH', `no free ${what}: the first ${MAX_CANDIDATES} are taken`);
}

/**
 * The branch names of a store plus those planned, compared as the store compares them (up to
 * case and Unicode form, namespaces included), with an index of branches by tip, base and run.
 */
class Names {
  private readonly keys = new Set<string>();
  /** keys of every namespace prefix (`a` and `a/b` for `a/b/c`) */
  private readonly prefixes = new Set<string>();
  private readonly byTarget = new Map<string, string[]>();

  constructor(branches: BranchRecord[]) {
    for (const b of branches) {
      this.add(b.name);
      const k = `${b.tip}|${b.base}|${b.run}`;
      this.byTarget.set(k, [...(this.byTarget.get(k) ?? []), b.name]);
    }
  }

  add(name: string): void {
    const key = nameKey(name);
    this.keys.add(key);
    const parts = key.split('/');
    for (let i = 1; i < parts.length; i++) {
      this.prefixes.add(parts.slice(0, i).join('/'));
    }
  }

  /** Why `name` is not free, or null; `namespace` when one of its prefixes is a branch. */
  conflict(name: string): { message: string; namespace: boolean } | null {
    const key = nameKey(name);
    const parts = key.split('/');
    for (let i = 1; i < parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (this.keys.has(p)) {
        return {
          message: `branch '${p}' (up to case) exists, and a name cannot be both a branch and a namespace of branches`,
          namespace: true,
        };
      }
    }
    if (this.keys.has(key)) {
      return { message: `branch '${name}' (up to case) exists`, namespace: false };
    }
    if (this.prefixes.has(key)) {
      return { message: `branches exist under '${name}/'`, namespace: false };
    }
    return null;
  }

  /** A store branch equal to `rec` (same tip, base and run) under its name or an import's. */
  same(rec: BranchRecord, run: string): string | undefined {
    const cands = this.byTarget.get(`${rec.tip}|${rec.base}|${run}`) ?? [];
    return cands.find(
      (n) =>
        n === rec.name ||
        n.startsWith(`${rec.name.slice(0, 80)}-imported`) ||
        n.startsWith(`${rec.name.slice(0, 88)}-imported`),
    );
  }
}

async function runExists(store: Store, id: string): Promise<boolean> {
  try {
    await store.getRun(id);
    return true;
  } catch (e) {
    if (e instanceof RefError) {
      return false;
    }
    throw e;
  }
}

/** Writes a validated, planned bundle into the store. */
export async function applyImport(
  store: Store,
  b: ReadBundle,
  plan: Plan,
  opts: ImportOptions = {},
): Promise<ImportResult> {
  const total = b.checkpoints.length;
  let done = 0;
  let created = 0;
  opts.onProgress?.(0, total);
  // pass 2: every object the store lacks is staged (one in memory at a time, re-checked against
  // its id); nothing is committed unless all of them are
  const staging = new ObjectStaging(store);
  try {
    const src = await openBundleObjects(b);
    try {
      for (const c of b.checkpoints) {
        const { node } = c;
        if (node.trace !== undefined && b.objects.has(node.trace) && !staging.has(node.trace)) {
          await staging.stage(node.trace, await src.read(node.trace));
        }
        if (await store.hasCheckpoint(node.id)) {
          continue;
        }
        if (!staging.has(c.blobId)) {
          await staging.stage(c.blobId, await src.read(c.blobId));
        }
        await staging.stage(node.id, c.manifestBytes);
      }
      for (const d of plan.datasets) {
        await staging.stage(d.recordId, d.recordBytes);
        await staging.stage(d.data, await src.read(d.data));
      }
    } finally {
      src.close();
    }
    for (const c of b.checkpoints) {
      const { node } = c;
      const res = await store.putStagedCheckpoint(
        staging,
        { id: node.id, blobId: c.blobId, step: c.manifest.step },
        {
          parent: node.parent,
          step: node.step,
          ...(node.trace !== undefined ? { trace: node.trace } : {}),
          ...(node.eval !== undefined ? { eval: node.eval } : {}),
          ...(node.loss !== undefined ? { loss: node.loss } : {}),
        },
      );
      if (res.created) {
        created++;
      } else if (node.eval !== undefined && (await store.getNode(node.id)).eval === undefined) {
        await store.annotateNode(node.id, { eval: node.eval });
      }
      opts.onProgress?.(++done, total);
    }
    for (const d of plan.datasets) {
      await adoptStagedDataset(store, staging, d.name, d.recordId, d.data);
    }
  } finally {
    await staging.discard();
  }
  for (const r of plan.runs) {
    await store.createRun(r);
  }
  const imported: string[] = [];
  const renamed = { ...plan.renamed };
  for (const rec of plan.branches) {
    let name = rec.name;
    for (let attempt = 0; ; attempt++) {
      try {
        await store.createBranch({ ...rec, name });
        break;
      } catch (e) {
        // someone took the name since the plan was made: take the next free one
        if (!(e instanceof RefError) || attempt > 5 || !/already exists|is taken/.test(e.message)) {
          throw e;
        }
        const original = Object.entries(plan.renamed).find(([, v]) => v === rec.name)?.[0];
        name = await store.uniqueBranchName(`${(original ?? rec.name).slice(0, 80)}-imported`);
        renamed[original ?? rec.name] = name;
      }
    }
    imported.push(name);
  }
  return {
    imported,
    renamed,
    existing: plan.existing,
    runs: plan.runs.map((r) => r.id),
    checkpoints: total,
    newCheckpoints: created,
  };
}
