/**
 * The checkpoint store (DESIGN.md "Store", invariant I7). Layout: see ./layout.ts.
 *
 * Promises:
 * - Objects are named by the SHA-256 of their bytes, written once (temp file in the same folder,
 *   fsync, rename, fsync folder) and re-hashed on every read: a mismatch is a StoreCorruptError
 *   naming the object. Writing an object that exists re-checks it (and repairs a damaged copy)
 *   instead of rewriting it.
 * - A checkpoint is written blob → manifest → node record, so a node never points at a missing
 *   object whatever moment a crash hits. Mutable records (nodes, runs, branches, keep refs) are
 *   replaced atomically under the writer lock (./lock.ts): readers see the old or the new record.
 * - Opening an existing store writes nothing, so a read-only store can be read, logged and
 *   checked. A write that fails (read-only, disk full) throws a StoreWriteError naming the path
 *   and leaves no temp file and no partial object or record behind; at most it leaves complete
 *   objects nothing references yet, which fsck accepts and gc removes.
 * - Errors: StoreCorruptError (damaged data: refuse, name it), RefError (unknown or ambiguous
 *   ref, invalid name: the user's input), StoreWriteError (cannot write), StoreConflictError
 *   (compare-and-swap lost: retry).
 * - gc keeps what runs, branches, keep refs (refs/keep/*, see setKeep) reach, and anything
 *   younger than its grace period, so a concurrent writer's not-yet-referenced objects survive.
 */
import path from 'node:path';
import { decodeState, parseManifest, sha256Hex, type EncodedState } from '../engine/state';
import type { EvalResult, TrainingState } from '../engine/types';
import {
  RefError,
  StoreCorruptError,
  StoreWriteError,
  type BranchRecord,
  type BranchStatus,
  type CheckpointNode,
  type FsckReport,
  type GcReport,
  type GraphSnapshot,
  type RunRecord,
} from './api';
import * as branches from './branches';
import { exists, hashFile, Io, isTempName, listDir, readIfExists, type FaultHook } from './fsutil';
import { checkObjectId, checkRunId, isObjectId, Layout, STORE_FORMAT } from './layout';
import { useStoreDatasets } from './datasets';
import { WriterLock } from './lock';
import { fsck, gc, storeInfo, type GcOptions } from './maintenance';
import type { ObjectStaging } from './staging';
import type { StoreCounts } from '../../shared/contract';
import { compareCodeUnits as cmp } from '../../shared/order';
import { nodeSchema, runSchema } from '../../shared/record-schemas';
import { MAX_RECORD_BYTES, checkRecord, decodeNode, decodeRun, encodeRecord } from './records';
import { resolveRef } from './refs';

export interface StoreOptions {
  /** create the store when missing (default true) */
  create?: boolean;
  /** called before every disk-changing operation; throw to inject a fault (tests) */
  faults?: FaultHook;
  /** how long a writer waits for the lock (default 10 000 ms) */
  lockTimeoutMs?: number;
}

export class Store {
  /** @internal paths of the store */
  readonly layout: Layout;
  /** @internal */
  readonly io: Io;
  /** @internal */
  readonly lock: WriterLock;

  private constructor(
    readonly dir: string,
    opts: StoreOptions,
  ) {
    this.layout = new Layout(dir);
    this.io = new Io(opts.faults);
    this.lock = new WriterLock(this.layout.lock, this.io, opts.lockTimeoutMs ?? 10000);
  }

  /** Opens the store at `dir`, creating its layout when missing (unless create is false). */
  static async open(dir: string, opts: StoreOptions = {}): Promise<Store> {
    const store = new Store(path.resolve(dir), opts);
    // its datasets become loadable by name (./datasets.ts)
    useStoreDatasets(store);
    const { marker } = store.layout;
    let text: Uint8Array | null;
    try {
      text = await readIfExists(marker);
    } catch (e) {
      throw new StoreWriteError(`cannot read store ${store.dir}: ${(e as Error).message}`);
    }
    if (text !== null) {
      let format: unknown;
      try {
        format = (JSON.parse(new TextDecoder().decode(text)) as { format?: unknown }).format;
      } catch {
        format = undefined;
      }
      if (format !== STORE_FORMAT) {
        throw new StoreCorruptError(
          marker,
          `${marker} does not describe a store of format ${STORE_FORMAT} (found ${String(format)})`,
        );
      }
      return store;
    }
    if (opts.create === false) {
      throw new RefError(`no Lockstep store at ${store.dir}`);
    }
    const L = store.layout;
    for (const d of [L.objects, L.nodes, L.runs, L.heads, L.keep]) {
      await store.io.mkdirp(d);
    }
    await store.io.writeAtomic(marker, encodeRecord('store marker', { format: STORE_FORMAT }));
    return store;
  }

  // ---- objects ----

  /** Stores bytes as an object; returns its SHA-256 id. An existing intact object is kept. */
  async putObject(bytes: Uint8Array): Promise<string> {
    const id = sha256Hex(bytes);
    const file = this.layout.object(id);
    const old = await readIfExists(file);
    if (old !== null && sha256Hex(old) === id) {
      await this.io.touch(file);
      return id;
    }
    await this.io.writeAtomic(file, bytes);
    return id;
  }

  /** Reads an object and re-checks its hash. Missing → RefError; damaged → StoreCorruptError. */
  async getObject(id: string): Promise<Uint8Array> {
    checkObjectId(id);
    const bytes = await readIfExists(this.layout.object(id));
    if (bytes === null) {
      throw new RefError(`object ${id} is not in the store ${this.dir}`);
    }
    return this.checked(id, bytes);
  }

  /**
   * Re-checks an object's hash without holding its bytes (streamed); returns its size.
   * Missing → RefError; damaged → StoreCorruptError.
   */
  async objectSize(id: string): Promise<number> {
    checkObjectId(id);
    const h = await hashFile(this.layout.object(id));
    if (h === null) {
      throw new RefError(`object ${id} is not in the store ${this.dir}`);
    }
    if (h.hash !== id) {
      throw new StoreCorruptError(
        id,
        `object ${id} is corrupt: its bytes hash to ${h.hash} (${this.layout.object(id)})`,
      );
    }
    return h.size;
  }

  async hasObject(id: string): Promise<boolean> {
    return isObjectId(id) && exists(this.layout.object(id));
  }

  private checked(id: string, bytes: Uint8Array): Uint8Array {
    const actual = sha256Hex(bytes);
    if (actual !== id) {
      throw new StoreCorruptError(
        id,
        `object ${id} is corrupt: its bytes hash to ${actual} (${this.layout.object(id)})`,
      );
    }
    return bytes;
  }

  /** An object the graph refers to: missing is corruption, named with `what`. */
  private async graphObject(id: string, what: string): Promise<Uint8Array> {
    const bytes = await readIfExists(this.layout.object(id));
    if (bytes === null) {
      throw new StoreCorruptError(id, `${what}: object ${id} is missing from the store`);
    }
    return this.checked(id, bytes);
  }

  // ---- checkpoints ----

  /**
   * Writes a checkpoint (blob, manifest, then node record). `created` is false when the
   * checkpoint already existed; then nothing is written.
   */
  async putCheckpoint(
    enc: EncodedState,
    node: Omit<CheckpointNode, 'id' | 'createdAt'>,
  ): Promise<{ id: string; created: boolean }> {
    const id = enc.id;
    if (node.step !== enc.manifest.step || enc.manifest.tensors.blob !== enc.blobId) {
      throw new Error(`putCheckpoint: node step ${node.step} or blob does not match the state`);
    }
    // everything is checked before the first write: a record the store could not read back
    // (a step past MAX_STEP, a non-finite loss) is refused with nothing written
    const draft: CheckpointNode = { ...node, id, createdAt: new Date().toISOString() };
    checkRecord(nodeSchema, `checkpoint ${id}`, draft);
    if (await this.hasCheckpoint(id)) {
      return { id, created: false };
    }
    if (node.parent !== null && !(await this.hasCheckpoint(node.parent))) {
      throw new RefError(`parent checkpoint ${node.parent} is not in the store`);
    }
    if (node.trace !== undefined && !(await this.hasObject(node.trace))) {
      throw new RefError(`trace object ${node.trace} is not in the store`);
    }
    const write = async (): Promise<void> => {
      if ((await this.putObject(enc.blobBytes)) !== enc.blobId) {
        throw new Error('putCheckpoint: blob bytes do not hash to blobId');
      }
      if ((await this.putObject(enc.manifestBytes)) !== id) {
        throw new Error('putCheckpoint: manifest bytes do not hash to the checkpoint id');
      }
    };
    const bytes = encodeRecord(`checkpoint ${id}`, draft);
    await write();
    const created = await this.lock.run(async () => {
      if (await exists(this.layout.node(id))) {
        return false;
      }
      // a gc that ran since our write (it holds this lock) may have removed a deduplicated
      // object that was unreachable then: make sure both are there before the node points at them
      if (
        !(await exists(this.layout.object(enc.blobId))) ||
        !(await exists(this.layout.object(id)))
      ) {
        await write();
      }
      await this.io.writeAtomic(this.layout.node(id), bytes);
      return true;
    });
    return { id, created };
  }

  /**
   * Writes the node record of a checkpoint whose objects were staged (./staging.ts, import): under
   * the writer lock, the staged trace, blob and manifest are renamed into place, then the node
   * record is written, so the record never points at a missing object. Objects not staged must
   * already be in the store. `created` is false when the checkpoint already existed (nothing is
   * written; staged objects stay staged for the importer to discard).
   */
  async putStagedCheckpoint(
    staging: ObjectStaging,
    c: { id: string; blobId: string; step: number },
    node: Omit<CheckpointNode, 'id' | 'createdAt'>,
  ): Promise<{ id: string; created: boolean }> {
    const { id, blobId } = c;
    if (node.step !== c.step) {
      throw new Error(`putStagedCheckpoint: node step ${node.step} does not match the state`);
    }
    const draft: CheckpointNode = { ...node, id, createdAt: new Date().toISOString() };
    checkRecord(nodeSchema, `checkpoint ${id}`, draft);
    if (await this.hasCheckpoint(id)) {
      return { id, created: false };
    }
    if (node.parent !== null && !(await this.hasCheckpoint(node.parent))) {
      throw new RefError(`parent checkpoint ${node.parent} is not in the store`);
    }
    const bytes = encodeRecord(`checkpoint ${id}`, draft);
    const created = await this.lock.run(async () => {
      if (await exists(this.layout.node(id))) {
        return false;
      }
      const needed = [...(node.trace !== undefined ? [node.trace] : []), blobId, id];
      for (const o of needed) {
        await staging.commit(o);
        if (!(await exists(this.layout.object(o)))) {
          throw new StoreWriteError(
            `object ${o} of checkpoint ${id} vanished from the store while it was imported (a concurrent gc?): import again`,
          );
        }
      }
      await this.io.writeAtomic(this.layout.node(id), bytes);
      return true;
    });
    return { id, created };
  }

  /** Whether the checkpoint's node record and manifest object both exist. */
  async hasCheckpoint(id: string): Promise<boolean> {
    return isObjectId(id) && (await exists(this.layout.node(id))) && exists(this.layout.object(id));
  }

  /** The node record of a checkpoint; RefError when there is none. */
  async getNode(id: string): Promise<CheckpointNode> {
    checkObjectId(id, 'checkpoint id');
    const file = this.layout.node(id);
    const bytes = await readIfExists(file, MAX_RECORD_BYTES);
    if (bytes === null) {
      throw new RefError(`unknown checkpoint ${id}`);
    }
    return decodeNode(bytes, this.layout.rel(file), id);
  }

  /** Reads and verifies a checkpoint: manifest hash, blob hash, decode. */
  async readState(id: string): Promise<TrainingState> {
    await this.getNode(id);
    const mBytes = await this.graphObject(id, `manifest of checkpoint ${id}`);
    let manifest;
    try {
      manifest = parseManifest(mBytes);
    } catch (e) {
      throw new StoreCorruptError(id, `checkpoint ${id}: ${(e as Error).message}`);
    }
    const blobId = manifest.tensors?.blob;
    if (!isObjectId(blobId)) {
      throw new StoreCorruptError(id, `checkpoint ${id}: manifest names no tensor blob`);
    }
    const blob = await this.graphObject(blobId, `tensor blob of checkpoint ${id}`);
    try {
      return decodeState(manifest, blob);
    } catch (e) {
      throw new StoreCorruptError(blobId, `checkpoint ${id}: ${(e as Error).message}`);
    }
  }

  /**
   * Inserts a finer chain under a stored checkpoint (review finding 11): a job with a finer
   * checkpoint interval reached the stored checkpoint `id` through `parent`, a checkpoint it
   * stored between `id` and `id`'s current parent. `parent` must descend from that current parent
   * at a step strictly between the two, so the states are unchanged and every lineage through
   * `id` only gains the checkpoints in between (each is the same deterministic state the coarser
   * chain passed through). `trace` is the trace of the steps from `parent` to `id`. Returns false
   * (and writes nothing) when `parent` is not such a refinement.
   */
  async refineParent(id: string, parent: string, trace?: string): Promise<boolean> {
    return this.lock.run(async () => {
      const node = await this.getNode(id);
      if (node.parent === null || node.parent === parent) {
        return false;
      }
      const old = await this.getNode(node.parent);
      const lin = await this.lineage(parent);
      const p = lin[lin.length - 1];
      if (!(p.step > old.step && p.step < node.step) || !lin.some((n) => n.id === old.id)) {
        return false;
      }
      const next: CheckpointNode = { ...node, parent };
      if (trace !== undefined) {
        next.trace = trace;
      } else {
        delete next.trace;
      }
      checkRecord(nodeSchema, `checkpoint ${id}`, next);
      await this.io.writeAtomic(this.layout.node(id), encodeRecord(`checkpoint ${id}`, next));
      return true;
    });
  }

  /** Sets `eval` and/or `verified` on a node record (atomic replace under the lock). */
  async annotateNode(
    id: string,
    patch: { eval?: EvalResult; verified?: string },
  ): Promise<CheckpointNode> {
    return this.lock.run(async () => {
      const node = await this.getNode(id);
      const next: CheckpointNode = { ...node };
      if (patch.eval !== undefined) {
        next.eval = patch.eval;
      }
      if (patch.verified !== undefined) {
        next.verified = patch.verified;
      }
      checkRecord(nodeSchema, `checkpoint ${id}`, next);
      await this.io.writeAtomic(this.layout.node(id), encodeRecord(`checkpoint ${id}`, next));
      return next;
    });
  }

  /** Nodes from the root to `id`, following parents. */
  async lineage(id: string): Promise<CheckpointNode[]> {
    const out: CheckpointNode[] = [];
    const seen = new Set<string>();
    let cur: string | null = id;
    while (cur !== null) {
      if (seen.has(cur)) {
        throw new StoreCorruptError(cur, `checkpoint ${cur} is its own ancestor`);
      }
      seen.add(cur);
      let node: CheckpointNode;
      try {
        node = await this.getNode(cur);
      } catch (e) {
        if (e instanceof RefError && cur !== id) {
          throw new StoreCorruptError(
            cur,
            `parent checkpoint ${cur} of ${out[out.length - 1].id} is missing`,
          );
        }
        throw e;
      }
      out.push(node);
      cur = node.parent;
    }
    return out.reverse();
  }

  // ---- runs ----

  async createRun(rec: RunRecord): Promise<void> {
    checkRunId(rec.id);
    checkRecord(runSchema, `run '${rec.id}'`, rec);
    await this.lock.run(async () => {
      if (await exists(this.layout.run(rec.id))) {
        throw new RefError(`run '${rec.id}' already exists`);
      }
      await this.mustBeCheckpoint(rec.root, `root of run '${rec.id}'`);
      await this.io.writeAtomic(this.layout.run(rec.id), encodeRecord(`run ${rec.id}`, rec));
    });
  }

  async getRun(id: string): Promise<RunRecord> {
    checkRunId(id);
    const file = this.layout.run(id);
    const bytes = await readIfExists(file, MAX_RECORD_BYTES);
    if (bytes === null) {
      throw new RefError(`unknown run '${id}'`);
    }
    return decodeRun(bytes, this.layout.rel(file), id);
  }

  /** Ids of all run records (unsorted, unchecked). */
  async listRunIds(): Promise<string[]> {
    return (await listDir(this.layout.runs))
      .filter((e) => e.isFile() && !isTempName(e.name) && e.name.endsWith('.json'))
      .map((e) => e.name.slice(0, -5));
  }

  async listRuns(): Promise<RunRecord[]> {
    const runs: RunRecord[] = [];
    for (const id of await this.listRunIds()) {
      runs.push(await this.getRun(id));
    }
    return runs.sort((a, b) => cmp(a.createdAt, b.createdAt) || cmp(a.id, b.id));
  }

  /**
   * Removes a run record; RefError when it does not exist or a branch still names it (remove its
   * branches first). Its checkpoints stay until gc finds nothing else reaches them.
   */
  async deleteRun(id: string): Promise<void> {
    checkRunId(id);
    await this.lock.run(async () => {
      await this.getRun(id);
      const users = (await this.listBranches()).filter((b) => b.run === id).map((b) => b.name);
      if (users.length > 0) {
        throw new RefError(`run '${id}' still has branches: ${users.join(', ')}`);
      }
      await this.io.unlink(this.layout.run(id));
    });
  }

  // ---- branches (./branches.ts) ----

  /** Creates a branch; RefError when the name is invalid or taken, or a ref does not exist. */
  createBranch(rec: BranchRecord): Promise<void> {
    return branches.createBranch(this, rec);
  }

  /** A branch record; RefError when there is none. */
  getBranch(name: string): Promise<BranchRecord> {
    return branches.getBranch(this, name);
  }

  hasBranch(name: string): Promise<boolean> {
    return branches.hasBranch(this, name);
  }

  /** Names of all branch records, sorted (unchecked). */
  listBranchNames(): Promise<string[]> {
    return branches.listBranchNames(this);
  }

  /** All branch records, sorted by name. */
  listBranches(): Promise<BranchRecord[]> {
    return branches.listBranches(this);
  }

  /**
   * Updates a branch under the lock. With `expectedTip`, fails with StoreConflictError unless the
   * tip is still that (compare-and-swap). A new tip must be an existing checkpoint.
   */
  updateBranch(
    name: string,
    patch: { tip?: string; status?: BranchStatus; note?: string },
    expectedTip?: string,
  ): Promise<BranchRecord> {
    return branches.updateBranch(this, name, patch, expectedTip);
  }

  /** Removes a branch record (its checkpoints stay until gc finds nothing else reaches them). */
  deleteBranch(name: string): Promise<void> {
    return branches.deleteBranch(this, name);
  }

  /** `base` if free, else `base-2`, `base-3`, … (advisory: createBranch re-checks under lock). */
  uniqueBranchName(base: string): Promise<string> {
    return branches.uniqueBranchName(this, base);
  }

  /**
   * Records extra gc roots under `refs/keep/<name>` (a branch-like name, e.g. `study/abc`):
   * object ids, or checkpoint ids (which keep their whole lineage). Replaces an existing list.
   */
  setKeep(name: string, ids: readonly string[]): Promise<void> {
    return branches.setKeep(this, name, ids);
  }

  removeKeep(name: string): Promise<void> {
    return branches.removeKeep(this, name);
  }

  /** All keep refs: name → ids. */
  listKeeps(): Promise<Map<string, string[]>> {
    return branches.listKeeps(this);
  }

  /** @internal RefError unless `id` is a checkpoint in this store. */
  async mustBeCheckpoint(id: string, what: string): Promise<void> {
    if (!isObjectId(id) || !(await this.hasCheckpoint(id))) {
      throw new RefError(`${what}: ${String(id)} is not a checkpoint in this store`);
    }
  }

  // ---- graph, refs, maintenance ----

  /** Every node id (from the node records), unsorted. */
  async listNodeIds(): Promise<string[]> {
    const ids: string[] = [];
    for (const d of await listDir(this.layout.nodes)) {
      if (!d.isDirectory() || !/^[0-9a-f]{2}$/.test(d.name)) {
        continue;
      }
      for (const f of await listDir(path.join(this.layout.nodes, d.name))) {
        const id = d.name + f.name.slice(0, -5);
        if (f.isFile() && f.name.endsWith('.json') && isObjectId(id)) {
          ids.push(id);
        }
      }
    }
    return ids;
  }

  async listGraph(): Promise<GraphSnapshot> {
    const nodes: CheckpointNode[] = [];
    for (const id of await this.listNodeIds()) {
      nodes.push(await this.getNode(id));
    }
    nodes.sort((a, b) => a.step - b.step || cmp(a.createdAt, b.createdAt) || cmp(a.id, b.id));
    return { runs: await this.listRuns(), branches: await this.listBranches(), nodes };
  }

  /** Resolves an id, a unique prefix (≥ 8 hex), a branch name or `branch@N` to a checkpoint id. */
  resolveRef(ref: string): Promise<string> {
    return resolveRef(this, ref);
  }

  /** Verifies everything; leftovers (temp files, stale lock) are listed but do not clear `ok`. */
  fsck(): Promise<FsckReport> {
    return fsck(this);
  }

  /** Removes what nothing reaches (see ./maintenance.ts). */
  gc(opts?: GcOptions): Promise<GcReport> {
    return gc(this, opts);
  }

  storeInfo(): Promise<StoreCounts> {
    return storeInfo(this);
  }
}
