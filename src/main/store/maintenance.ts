/**
 * fsck, gc and storeInfo.
 *
 * fsck (under the writer lock when the store is writable and the lock is not stale; otherwise
 * unlocked, so it also checks a read-only store) verifies: every object's SHA-256; every node
 * record parses, its manifest object exists, parses and matches its step, its tensor blob exists
 * and decodes, its parent is a node, its trace object exists; every run's root and every branch's
 * tip, base and run exist; every keep ref names existing objects. It returns all problems found
 * and never changes anything. Problems of kind 'temp' (a temp file of a process that is gone)
 * and 'lock' (a stale lock) are leftovers of an interruption, not damage: they are listed but do
 * not clear `ok`. gc removes stale temp files; the next writer recovers a stale lock.
 *
 * gc (under the writer lock) keeps every checkpoint reachable from a run root, a branch tip or
 * base, a checkpoint named in a keep ref (refs/keep/*), or a node record younger than the grace
 * period, following parents; for each it keeps the manifest, tensor blob and trace objects. It
 * also keeps objects named in keep refs and every object younger than the grace period (default
 * 15 min: a concurrent writer's objects are unreferenced for a moment between their write and
 * the ref update). It removes the node records of unreachable checkpoints first, then their
 * objects, so a crash mid-gc never leaves a node pointing at a missing object. It refuses to run
 * (StoreCorruptError) when a record is damaged or a reachable object is missing, since then it
 * cannot know what is reachable.
 *
 * Hostile or damaged stores: objects are hashed as streams (any size; one over the 2 GiB the
 * store reads is reported oversized), every object is checked to be of the kind its reference
 * needs (manifest, tensor blob, trace; ./kinds.ts), parents that are the node itself, at the same
 * or a later step, or that form a cycle are reported, and so is every symbolic link inside the
 * store (never followed; gc refuses while one is there). A folder named like a temp file is
 * listed, and gc leaves it alone.
 */
// fs.promises loads Node's promise API on first use (a `log` never needs it)
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { decodeState, parseManifest, sha256Hex } from '../engine/state';
import {
  StoreCorruptError,
  type CheckpointNode,
  type FsckProblem,
  type FsckReport,
  type GcReport,
} from './api';
import {
  MAX_READ_BYTES,
  errCode,
  hashFile,
  isTempName,
  listDir,
  pidAlive,
  readIfExists,
  tempOwnerPid,
} from './fsutil';
import { objectKindProblem } from './kinds';
import { isObjectId } from './layout';
import type { Store } from './store';
import type { StoreCounts } from '../../shared/contract';

export interface GcOptions {
  /** unreferenced objects and node records younger than this are kept (default 15 min) */
  graceMs?: number;
}

export const DEFAULT_GC_GRACE_MS = 15 * 60 * 1000;
/** a temp file of a live process older than this is considered abandoned */
const TEMP_MAX_AGE_MS = 60 * 60 * 1000;

interface FileEntry {
  file: string;
  size: number;
  mtimeMs: number;
}

/** Every object file (by id), plus temp and unexpected files found under objects/. */
async function scanObjects(store: Store): Promise<{
  objects: Map<string, FileEntry>;
  temps: FileEntry[];
  strays: string[];
}> {
  // (symbolic links are strays here; fsck names them as links, see scanLinks)
  const root = store.layout.objects;
  const objects = new Map<string, FileEntry>();
  const temps: FileEntry[] = [];
  const strays: string[] = [];
  for (const d of await listDir(root)) {
    const dir = path.join(root, d.name);
    if (!d.isDirectory() || !/^[0-9a-f]{2}$/.test(d.name)) {
      if (isTempName(d.name) && d.isFile()) {
        pushEntry(temps, await entryIfThere(dir));
      } else {
        strays.push(dir);
      }
      continue;
    }
    for (const f of await listDir(dir)) {
      const file = path.join(dir, f.name);
      const id = d.name + f.name;
      if (isTempName(f.name) && f.isFile()) {
        pushEntry(temps, await entryIfThere(file));
      } else if (f.isFile() && isObjectId(id)) {
        const e = await entryIfThere(file);
        if (e !== null) {
          objects.set(id, e);
        }
      } else {
        strays.push(file);
      }
    }
  }
  return { objects, temps, strays };
}

async function entry(file: string): Promise<FileEntry> {
  const st = await fsp.lstat(file);
  return { file, size: st.size, mtimeMs: st.mtimeMs };
}

/**
 * {@link entry} of a file a folder listing just named, or null when it is gone by now: another
 * process renamed its temp file into place, or removed it, in between (a store is read while a
 * job writes checkpoints into it).
 */
async function entryIfThere(file: string): Promise<FileEntry | null> {
  try {
    return await entry(file);
  } catch (e) {
    if (errCode(e) === 'ENOENT') {
      return null;
    }
    throw e;
  }
}

function pushEntry(list: FileEntry[], e: FileEntry | null): void {
  if (e !== null) {
    list.push(e);
  }
}

/**
 * Temp files outside objects/ (store root, nodes, runs, refs), recursively; `dirs` are folders
 * named like temp files (nothing writes those: gc leaves them, fsck names them).
 */
async function scanOtherTemps(store: Store): Promise<FileEntry[] & { dirs?: string[] }> {
  const out: FileEntry[] & { dirs?: string[] } = [];
  out.dirs = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await listDir(dir)) {
      const file = path.join(dir, e.name);
      if ((isTempName(e.name) || e.name === 'lock.break') && e.isFile()) {
        pushEntry(out, await entryIfThere(file));
      } else if (isTempName(e.name) && e.isDirectory()) {
        out.dirs!.push(file);
      } else if (e.isDirectory() && file !== store.layout.objects) {
        await walk(file);
      }
    }
  };
  await walk(store.dir);
  return out;
}

/** Every symbolic link inside the store (never followed). */
async function scanLinks(store: Store): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await listDir(dir)) {
      const file = path.join(dir, e.name);
      if (e.isSymbolicLink()) {
        out.push(file);
      } else if (e.isDirectory()) {
        await walk(file);
      }
    }
  };
  if ((await fsp.lstat(store.dir).catch(() => null))?.isDirectory()) {
    await walk(store.dir);
  }
  return out.sort();
}

/** What kind of thing a path inside the store is, for fsck's problem kinds. */
function kindOfPath(rel: string): FsckProblem['kind'] {
  if (rel.startsWith('refs/')) {
    return 'ref';
  }
  if (rel.startsWith('runs/')) {
    return 'run';
  }
  if (rel.startsWith('nodes/')) {
    return 'node';
  }
  return 'object';
}

/**
 * Parent problems of the graph: self-parents, parents at the same or a later step, and cycles
 * (each cycle reported once, naming its checkpoints). Iterative, O(nodes).
 */
export function graphProblems(
  nodes: Map<string, CheckpointNode>,
): { id: string; message: string }[] {
  const out: { id: string; message: string }[] = [];
  for (const [id, n] of nodes) {
    if (n.parent === id) {
      out.push({ id, message: `checkpoint ${id} (step ${n.step}) is its own parent` });
      continue;
    }
    const p = n.parent === null ? undefined : nodes.get(n.parent);
    if (p !== undefined && p.step >= n.step) {
      out.push({
        id,
        message: `checkpoint ${id} (step ${n.step}) has its parent ${p.id} at step ${p.step}, not before it`,
      });
    }
  }
  const state = new Map<string, 1 | 2>(); // 1: on the current walk, 2: done
  for (const start of nodes.keys()) {
    if (state.has(start)) {
      continue;
    }
    const walk: string[] = [];
    let cur: string | undefined = start;
    while (cur !== undefined && !state.has(cur)) {
      state.set(cur, 1);
      walk.push(cur);
      const parent: string | null | undefined = nodes.get(cur)?.parent;
      cur = parent === null || parent === undefined || !nodes.has(parent) ? undefined : parent;
    }
    if (cur !== undefined && state.get(cur) === 1 && nodes.get(cur)!.parent !== cur) {
      const cycle = walk.slice(walk.indexOf(cur));
      out.push({
        id: cur,
        message: `checkpoints ${cycle.map((c) => c.slice(0, 12)).join(' → ')} → ${cur.slice(0, 12)} form a cycle of parents`,
      });
    }
    for (const w of walk) {
      state.set(w, 2);
    }
  }
  return out;
}

function tempInProgress(t: FileEntry, now: number): boolean {
  const pid = tempOwnerPid(path.basename(t.file));
  return pid !== null && pidAlive(pid) && now - t.mtimeMs < TEMP_MAX_AGE_MS;
}

export async function fsck(store: Store): Promise<FsckReport> {
  return store.lock.runOptional(() => check(store));
}

async function check(store: Store): Promise<FsckReport> {
  const L = store.layout;
  const problems: FsckProblem[] = [];
  const add = (kind: FsckProblem['kind'], name: string, message: string): void => {
    problems.push({ kind, name, message });
  };
  const now = Date.now();

  const lock = await store.lock.inspect();
  if (lock.stale) {
    const who = lock.holder ? `pid ${lock.holder.pid} (no longer running)` : 'a crashed process';
    add('lock', L.rel(L.lock), `stale writer lock left by ${who}; the next writer removes it`);
  }

  const scan = await scanObjects(store);
  const good = new Set<string>();
  const corrupt = new Set<string>();
  const links = await scanLinks(store);
  const linked = new Set(links);
  for (const [id, e] of scan.objects) {
    if (e.size > MAX_READ_BYTES) {
      corrupt.add(id);
      add(
        'object',
        id,
        `object ${id} is oversized: ${e.size} bytes, more than the ${MAX_READ_BYTES} the store reads (damaged or not a Lockstep object)`,
      );
      continue;
    }
    const actual = (await hashFile(e.file))?.hash ?? null;
    if (actual === id) {
      good.add(id);
    } else if (actual !== null) {
      corrupt.add(id);
      add('object', id, `object ${id} is corrupt: its bytes hash to ${actual}`);
    }
  }
  for (const s of scan.strays) {
    if (!linked.has(s)) {
      add('object', L.rel(s), `unexpected file ${L.rel(s)} in objects/`);
    }
  }
  for (const link of links) {
    add(
      kindOfPath(L.rel(link)),
      L.rel(link),
      `${L.rel(link)} is a symbolic link: Lockstep does not follow links inside a store; replace it with the real folder or file`,
    );
  }
  const state = (id: string): string => (corrupt.has(id) ? 'corrupt' : 'missing');

  const nodes = new Map<string, CheckpointNode>();
  for (const id of await store.listNodeIds()) {
    try {
      nodes.set(id, await store.getNode(id));
    } catch (e) {
      add('node', id, (e as Error).message);
    }
  }
  const decodedBlobs = new Set<string>();
  for (const [id, node] of nodes) {
    if (!good.has(id)) {
      add(
        corrupt.has(id) ? 'node' : 'object',
        id,
        `checkpoint ${id} (step ${node.step}): its manifest object is ${state(id)}`,
      );
    } else {
      try {
        const mBytes = (await readIfExists(L.object(id)))!;
        const kind = objectKindProblem('manifest', mBytes);
        if (kind !== null) {
          throw new Error(kind);
        }
        const manifest = parseManifest(mBytes);
        if (manifest.step !== node.step) {
          add(
            'node',
            id,
            `checkpoint ${id}: node says step ${node.step}, manifest says ${manifest.step}`,
          );
        }
        const blob = manifest.tensors?.blob;
        if (!isObjectId(blob) || !good.has(blob)) {
          add(
            'object',
            String(blob),
            `tensor blob ${String(blob)} of checkpoint ${id} is ${state(String(blob))}`,
          );
        } else if (!decodedBlobs.has(blob + id)) {
          decodeState(manifest, (await readIfExists(L.object(blob)))!);
          decodedBlobs.add(blob + id);
        }
      } catch (e) {
        add('object', id, `checkpoint ${id} does not decode: ${(e as Error).message}`);
      }
    }
    if (node.parent !== null && !nodes.has(node.parent)) {
      add(
        'node',
        id,
        `checkpoint ${id} (step ${node.step}): parent ${node.parent} is not in the store`,
      );
    }
    if (node.trace !== undefined && !good.has(node.trace)) {
      add('object', node.trace, `trace ${node.trace} of checkpoint ${id} is ${state(node.trace)}`);
    } else if (node.trace !== undefined) {
      const kind = objectKindProblem('trace', (await readIfExists(L.object(node.trace)))!);
      if (kind !== null) {
        add(
          'object',
          node.trace,
          `trace ${node.trace} of checkpoint ${id} is not a trace: ${kind}`,
        );
      }
    }
  }
  for (const g of graphProblems(nodes)) {
    add('node', g.id, g.message);
  }
  const isCheckpoint = (id: string | null): boolean => id !== null && nodes.has(id) && good.has(id);

  const runIds = await store.listRunIds();
  const runs = new Set<string>();
  for (const rid of runIds) {
    try {
      const run = await store.getRun(rid);
      runs.add(rid);
      if (!isCheckpoint(run.root)) {
        add('run', rid, `run '${rid}': its root checkpoint ${run.root} is not in the store`);
      }
    } catch (e) {
      add('run', rid, (e as Error).message);
    }
  }

  const branchNames = await store.listBranchNames();
  for (const name of branchNames) {
    try {
      const b = await store.getBranch(name);
      if (!isCheckpoint(b.tip)) {
        add(
          'ref',
          name,
          `branch '${name}' points to ${b.tip}, which is not a checkpoint in the store`,
        );
      }
      if (b.base !== null && !isCheckpoint(b.base)) {
        add('ref', name, `branch '${name}': its base ${b.base} is not a checkpoint in the store`);
      }
      if (!runIds.includes(b.run)) {
        add('ref', name, `branch '${name}' names unknown run '${b.run}'`);
      }
    } catch (e) {
      add('ref', name, (e as Error).message);
    }
  }

  let keeps = 0;
  try {
    for (const [name, ids] of await store.listKeeps()) {
      keeps++;
      for (const id of ids.filter((i) => !good.has(i))) {
        add('ref', `keep/${name}`, `keep ref '${name}' names object ${id}, which is ${state(id)}`);
      }
    }
  } catch (e) {
    add('ref', 'refs/keep', (e as Error).message);
  }

  for (const t of [...scan.temps, ...(await scanOtherTemps(store))]) {
    if (!tempInProgress(t, now)) {
      add(
        'temp',
        L.rel(t.file),
        `leftover temp file ${L.rel(t.file)} (${t.size} bytes) of an interrupted write; gc removes it`,
      );
    }
  }

  for (const d of (await scanOtherTemps(store)).dirs ?? []) {
    add(
      'temp',
      L.rel(d),
      `folder ${L.rel(d)} is named like a temp file; nothing of Lockstep's is in it and gc leaves it alone: remove it by hand`,
    );
  }

  const ok = problems.every((p) => p.kind === 'temp' || p.kind === 'lock');
  return {
    ok,
    objects: scan.objects.size,
    refs: branchNames.length + runIds.length + keeps,
    problems,
  };
}

export async function gc(store: Store, opts: GcOptions = {}): Promise<GcReport> {
  const grace = opts.graceMs ?? DEFAULT_GC_GRACE_MS;
  return store.lock.run(async () => {
    const L = store.layout;
    const now = Date.now();
    const refuse = (object: string, why: string): StoreCorruptError =>
      new StoreCorruptError(object, `gc refused: ${why}; run fsck`);
    const strict = async <T>(f: () => Promise<T>): Promise<T> => {
      try {
        return await f();
      } catch (e) {
        if (e instanceof StoreCorruptError) {
          throw refuse(e.object, e.message);
        }
        throw e;
      }
    };

    const links = await scanLinks(store);
    if (links.length > 0) {
      throw refuse(L.rel(links[0]), `${L.rel(links[0])} is a symbolic link inside the store`);
    }
    const runs = await strict(() => store.listRuns());
    const branches = await strict(() => store.listBranches());
    const keeps = await strict(() => store.listKeeps());
    const nodes = new Map<string, { node: CheckpointNode; entry: FileEntry }>();
    for (const id of await store.listNodeIds()) {
      const node = await strict(() => store.getNode(id));
      nodes.set(id, { node, entry: await entry(L.node(id)) });
    }

    const keepObjects = new Set<string>();
    const stack: string[] = [];
    for (const r of runs) {
      stack.push(r.root);
    }
    for (const b of branches) {
      stack.push(b.tip, ...(b.base ? [b.base] : []));
    }
    for (const ids of keeps.values()) {
      for (const id of ids) {
        keepObjects.add(id);
        if (nodes.has(id)) {
          stack.push(id);
        }
      }
    }
    for (const [id, n] of nodes) {
      if (now - n.entry.mtimeMs < grace) {
        stack.push(id);
      }
    }
    const reached = new Set<string>();
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (reached.has(id)) {
        continue;
      }
      const n = nodes.get(id);
      if (!n) {
        throw refuse(id, `checkpoint ${id} is referenced but has no node record`);
      }
      reached.add(id);
      keepObjects.add(id);
      if (n.node.trace) {
        keepObjects.add(n.node.trace);
      }
      const bytes = await readIfExists(L.object(id));
      if (bytes === null || sha256Hex(bytes) !== id) {
        throw refuse(
          id,
          `manifest of reachable checkpoint ${id} is ${bytes === null ? 'missing' : 'corrupt'}`,
        );
      }
      const kind = objectKindProblem('manifest', bytes);
      if (kind !== null) {
        throw refuse(id, `manifest of reachable checkpoint ${id} is not a manifest: ${kind}`);
      }
      keepObjects.add(parseManifest(bytes).tensors.blob);
      if (n.node.parent !== null) {
        stack.push(n.node.parent);
      }
    }

    let bytesFreed = 0;
    let removedNodes = 0;
    for (const [id, n] of nodes) {
      if (!reached.has(id)) {
        await store.io.unlink(n.entry.file);
        bytesFreed += n.entry.size;
        removedNodes++;
      }
    }
    const scan = await scanObjects(store);
    let removedObjects = 0;
    let keptObjects = 0;
    for (const [id, e] of scan.objects) {
      if (keepObjects.has(id) || now - e.mtimeMs < grace) {
        keptObjects++;
        continue;
      }
      await store.io.unlink(e.file);
      bytesFreed += e.size;
      removedObjects++;
    }
    let removedTempFiles = 0;
    for (const t of [...scan.temps, ...(await scanOtherTemps(store))]) {
      if (path.basename(t.file) !== 'lock.break' && !tempInProgress(t, now)) {
        await store.io.unlink(t.file);
        bytesFreed += t.size;
        removedTempFiles++;
      }
    }
    return { removedObjects, bytesFreed, keptObjects, removedNodes, removedTempFiles };
  });
}

export async function storeInfo(store: Store): Promise<StoreCounts> {
  const { objects } = await scanObjects(store);
  let bytes = 0;
  for (const e of objects.values()) {
    bytes += e.size;
  }
  return {
    dir: store.dir,
    objects: objects.size,
    bytes,
    branches: (await store.listBranchNames()).length,
    runs: (await store.listRunIds()).length,
  };
}
