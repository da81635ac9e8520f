/**
 * Replaying stored history, shared by compare, verify and the trace view.
 *
 * A lineage is the chain of stored checkpoints from a run's root to a checkpoint, with each one's
 * manifest (config, cursor, backend). The updates between two consecutive checkpoints ran under
 * the config of the later one (a branch with a new learning rate starts at its base and its first
 * checkpoint carries the new config), so a replay restores the earlier state with the later
 * config's optimizer and batch size, exactly as `continue` did. Replays stay within one process
 * and run one after the other (the tfjs backend is process-wide). The trainer (and with it tfjs)
 * is loaded by the first replay, so reading lineages and traces (`trace`, `compare` of stored
 * states) never loads tfjs.
 */
import { canonicalJson } from '../engine/canonical-json';
import { loadDataset } from '../engine/data';
import { BatchFeeder } from '../engine/feeder';
import { SHUFFLE_BUFFER_TENSOR, ShuffleBuffer } from '../engine/shuffle-buffer';
import { parseManifest, type StateManifest } from '../engine/state';
import { parseTrace, type DigestAlgorithm, type TraceStep } from '../engine/trace';
import type { Trainer } from '../engine/trainer';
import type { EvalResult, NamedTensor, TrainingConfig, TrainingState } from '../engine/types';
import { StoreCorruptError, type CheckpointNode } from '../store/api';
import type { Store } from '../store/store';

export interface Lineage {
  /** root … tip */
  nodes: CheckpointNode[];
  /** manifests, parallel to nodes */
  manifests: StateManifest[];
}

/** The lineage of checkpoint `id` with every manifest (integrity-checked reads). */
export async function loadLineage(store: Store, id: string): Promise<Lineage> {
  const nodes = await store.lineage(id);
  const manifests: StateManifest[] = [];
  for (const n of nodes) {
    try {
      manifests.push(parseManifest(await store.getObject(n.id)));
    } catch (e) {
      if (e instanceof Error && e.name === 'StoreCorruptError') {
        throw e;
      }
      throw new StoreCorruptError(n.id, `checkpoint ${n.id}: ${(e as Error).message}`);
    }
  }
  return { nodes, manifests };
}

export function tip(lin: Lineage): { node: CheckpointNode; manifest: StateManifest } {
  const i = lin.nodes.length - 1;
  return { node: lin.nodes[i], manifest: lin.manifests[i] };
}

/** Index of the last stored checkpoint at or before `step`. */
export function nodeAtOrBefore(lin: Lineage, step: number): number {
  let i = 0;
  while (i + 1 < lin.nodes.length && lin.nodes[i + 1].step <= step) {
    i++;
  }
  return i;
}

/** Index of the stored checkpoint at exactly `step`, or -1. */
export function nodeAt(lin: Lineage, step: number): number {
  return lin.nodes.findIndex((n) => n.step === step);
}

/** The config under which the update to step `s` (≥ 1) ran. */
export function configForStep(lin: Lineage, s: number): TrainingConfig {
  const i = lin.nodes.findIndex((n) => n.step >= s);
  return lin.manifests[i < 0 ? lin.manifests.length - 1 : i].config;
}

export interface RecordedStep extends TraceStep {
  digest: DigestAlgorithm;
}

/** Recorded trace steps and evals of a lineage within [from, to] (segments that overlap it). */
export async function loadTraces(
  store: Store,
  lin: Lineage,
  from = 1,
  to = Number.MAX_SAFE_INTEGER,
): Promise<{ steps: Map<number, RecordedStep>; evals: { step: number; eval: EvalResult }[] }> {
  const steps = new Map<number, RecordedStep>();
  const evals: { step: number; eval: EvalResult }[] = [];
  for (let i = 1; i < lin.nodes.length; i++) {
    const n = lin.nodes[i];
    const before = lin.nodes[i - 1].step;
    if (n.trace === undefined || n.step < from || before >= to) {
      continue;
    }
    let seg;
    try {
      seg = parseTrace(await store.getObject(n.trace));
    } catch (e) {
      if (e instanceof Error && e.name === 'StoreCorruptError') {
        throw e;
      }
      throw new StoreCorruptError(n.trace, `trace of checkpoint ${n.id}: ${(e as Error).message}`);
    }
    for (const s of seg.steps) {
      if (s.step >= from && s.step <= to && s.step > before && s.step <= n.step) {
        steps.set(s.step, { ...s, digest: seg.digest });
      }
    }
    for (const e of seg.evals) {
      if (e.step >= from && e.step <= to) {
        evals.push(e);
      }
    }
  }
  evals.sort((a, b) => a.step - b.step);
  return { steps, evals };
}

/** The cursor (examples consumed) before the update to step `s`, and that update's batch size. */
export function cursorBefore(lin: Lineage, s: number): { cursor: number; batchSize: number } {
  const i = nodeAtOrBefore(lin, s - 1);
  const batchSize = configForStep(lin, s).batchSize;
  return { cursor: lin.manifests[i].cursor + (s - 1 - lin.nodes[i].step) * batchSize, batchSize };
}

/**
 * Example indices of the batches of a lineage, never replaying training: from the feeder at the
 * cursor, or for a shuffle-buffer run from the buffer of the last stored checkpoint before the
 * step, advanced through the batches since (at most one checkpoint interval of draws; kept for
 * the next step, so walking the steps in order draws each batch once).
 */
export class BatchOracle {
  private feeder: BatchFeeder | null = null;
  private buffer: { at: number; b: ShuffleBuffer } | null = null;
  constructor(
    private readonly lin: Lineage,
    private readonly store: Store,
  ) {}

  /** Indices of the batch of the update to step `s` (≥ 1). */
  async indices(s: number): Promise<Uint32Array> {
    const { cursor, batchSize } = cursorBefore(this.lin, s);
    const c = this.lin.manifests[0].config;
    if (c.shuffle) {
      return (await this.bufferBefore(s)).next(batchSize);
    }
    if (!this.feeder) {
      this.feeder = new BatchFeeder(c.seed, loadDataset(c.dataset).train.count);
    }
    return this.feeder.batchAt(cursor, batchSize);
  }

  /** The shuffle buffer before the update to step s; the caller takes that step's batch. */
  private async bufferBefore(s: number): Promise<ShuffleBuffer> {
    if (this.buffer !== null && this.buffer.at === s) {
      this.buffer.at = s + 1;
      return this.buffer.b;
    }
    const i = nodeAtOrBefore(this.lin, s - 1);
    const state = await this.store.readState(this.lin.nodes[i].id);
    const t = state.tensors[SHUFFLE_BUFFER_TENSOR];
    if (!t) {
      throw new Error(`checkpoint ${this.lin.nodes[i].id.slice(0, 12)} holds no shuffle buffer`);
    }
    const count = loadDataset(state.config.dataset).train.count;
    const b = new ShuffleBuffer(state.config.seed, count, t.data, state.cursor);
    for (let k = state.step + 1; k < s; k++) {
      b.next(configForStep(this.lin, k).batchSize);
    }
    this.buffer = { at: s + 1, b };
    return b;
  }
}

/** Why a lineage cannot be replayed (a config change no `continue` can make, …). */
export class ReplayError extends Error {
  constructor(
    readonly step: number,
    message: string,
  ) {
    super(message);
    this.name = 'ReplayError';
  }
}

export interface ReplayOptions {
  /** index of the node to start from */
  start: number;
  /** its state, when the caller has it already (else read from the store) */
  startState?: TrainingState;
  /** replay up to this step (≤ the lineage's tip) */
  toStep: number;
  signal?: AbortSignal;
  /** after every update; return 'stop' to end the replay there */
  onStep?(step: number, loss: number, indices: Uint32Array, trainer: Trainer): void | 'stop';
  /** when the replay reaches a stored checkpoint (after onStep of that step) */
  onCheckpoint?(index: number, trainer: Trainer): Promise<void | 'stop'> | void | 'stop';
}

function sameOptimizer(a: TrainingConfig, b: TrainingConfig): boolean {
  return canonicalJson(a.optimizer) === canonicalJson(b.optimizer) && a.batchSize === b.batchSize;
}

/**
 * Replays a lineage from node `start` to `toStep` and returns the live trainer there (the caller
 * disposes it). Throws ReplayError when a checkpoint's config changes more than the optimizer or
 * batch size.
 */
export async function replay(store: Store, lin: Lineage, opts: ReplayOptions): Promise<Trainer> {
  const { Trainer } = await import('../engine/trainer');
  const state = opts.startState ?? (await store.readState(lin.nodes[opts.start].id));
  let trainer: Trainer | null = null;
  try {
    let i = opts.start;
    if (i + 1 >= lin.nodes.length || opts.toStep <= lin.nodes[i].step) {
      return (trainer = await Trainer.restore(state));
    }
    trainer = await Trainer.restore(state, overridesFor(state.config, lin.manifests[i + 1].config));
    while (trainer.step < opts.toStep) {
      opts.signal?.throwIfAborted();
      const next = lin.nodes[i + 1];
      const cfg = lin.manifests[i + 1].config;
      if (!sameOptimizer(trainer.config, cfg)) {
        checkContinuation(trainer.config, cfg, next.step);
        const restored: Trainer = await Trainer.restore(
          trainer.snapshot(),
          overridesFor(trainer.config, cfg),
        );
        trainer.dispose();
        trainer = restored;
      }
      const end = Math.min(next.step, opts.toStep);
      while (trainer.step < end) {
        const r = trainer.trainStep();
        if (opts.onStep?.(r.step, r.loss, r.indices, trainer) === 'stop') {
          return trainer;
        }
        if (r.step % 64 === 0) {
          opts.signal?.throwIfAborted();
        }
      }
      if (trainer.step === next.step) {
        i++;
        if ((await opts.onCheckpoint?.(i, trainer)) === 'stop') {
          return trainer;
        }
        if (i + 1 >= lin.nodes.length) {
          break;
        }
      }
    }
    return trainer;
  } catch (e) {
    trainer?.dispose();
    throw e;
  }
}

function overridesFor(from: TrainingConfig, to: TrainingConfig) {
  checkContinuation(from, to, 0);
  return sameOptimizer(from, to) ? {} : { optimizer: to.optimizer, batchSize: to.batchSize };
}

function checkContinuation(from: TrainingConfig, to: TrainingConfig, step: number): void {
  const fixed = (c: TrainingConfig) =>
    canonicalJson({ d: c.dataset, m: c.model, s: c.seed, b: c.backend });
  if (fixed(from) !== fixed(to)) {
    throw new ReplayError(
      step,
      `the checkpoint at step ${step} changes the dataset, model, seed or backend: it is not a continuation`,
    );
  }
}

/** The state of a lineage at `step`: read when stored there, else replayed from the nearest. */
export async function stateAt(
  store: Store,
  lin: Lineage,
  step: number,
  signal?: AbortSignal,
): Promise<{ state: TrainingState; replayedFrom: number | null }> {
  const i = nodeAtOrBefore(lin, step);
  if (lin.nodes[i].step === step) {
    return { state: await store.readState(lin.nodes[i].id), replayedFrom: null };
  }
  const t = await replay(store, lin, { start: i, toStep: step, signal });
  try {
    return { state: t.snapshot(), replayedFrom: lin.nodes[i].step };
  } finally {
    t.dispose();
  }
}

// ---------- tensor comparison ----------

export interface TensorDiff {
  name: string;
  elements: number;
  differing: number;
  /** max |a − b| (Infinity when a value is non-finite on one side only) */
  maxAbsDiff: number;
  maxUlp: number;
  /** shapes differ or the tensor exists on one side only */
  note?: string;
}

/** Position of a float32 (by its bits) on the ordered line of floats, for ULP distances. */
function ordered(bits: number): number {
  return bits & 0x80000000 ? -(bits & 0x7fffffff) : bits & 0x7fffffff;
}

/** Bitwise comparison of two sets of named tensors, one row per tensor name (sorted). */
export function diffTensors(
  a: Record<string, NamedTensor>,
  b: Record<string, NamedTensor>,
): TensorDiff[] {
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const out: TensorDiff[] = [];
  for (const name of names) {
    const ta = a[name];
    const tb = b[name];
    if (!ta || !tb || ta.shape.join(',') !== tb.shape.join(',')) {
      const n = (ta ?? tb).data.length;
      out.push({
        name,
        elements: n,
        differing: n,
        maxAbsDiff: Infinity,
        maxUlp: Infinity,
        note: !ta || !tb ? `only in ${ta ? 'A' : 'B'}` : `shape [${ta.shape}] vs [${tb.shape}]`,
      });
      continue;
    }
    const ua = new Uint32Array(ta.data.buffer, ta.data.byteOffset, ta.data.length);
    const ub = new Uint32Array(tb.data.buffer, tb.data.byteOffset, tb.data.length);
    let differing = 0;
    let maxAbsDiff = 0;
    let maxUlp = 0;
    for (let k = 0; k < ua.length; k++) {
      if (ua[k] !== ub[k]) {
        differing++;
        const x = ta.data[k];
        const y = tb.data[k];
        const d = Number.isNaN(x) || Number.isNaN(y) ? Infinity : Math.abs(x - y);
        if (d > maxAbsDiff || Number.isNaN(d)) {
          maxAbsDiff = Number.isNaN(d) ? Infinity : d;
        }
        const u = Math.abs(ordered(ua[k]) - ordered(ub[k]));
        if (u > maxUlp) {
          maxUlp = u;
        }
      }
    }
    out.push({ name, elements: ua.length, differing, maxAbsDiff, maxUlp });
  }
  return out;
}

/** Whether every element agrees within |a − b| ≤ atol + rtol·max(|a|, |b|); the worst ratio. */
export function withinTolerance(
  a: Record<string, NamedTensor>,
  b: Record<string, NamedTensor>,
  rtol: number,
  atol: number,
): { ok: boolean; worst: number } {
  let worst = 0;
  for (const name of Object.keys(a)) {
    const ta = a[name];
    const tb = b[name];
    if (!tb || ta.data.length !== tb.data.length) {
      return { ok: false, worst: Infinity };
    }
    for (let k = 0; k < ta.data.length; k++) {
      const x = ta.data[k];
      const y = tb.data[k];
      const r = Math.abs(x - y) / (atol + rtol * Math.max(Math.abs(x), Math.abs(y)));
      if (!(r <= worst)) {
        worst = Number.isNaN(r) ? Infinity : r;
      }
    }
  }
  if (Object.keys(b).some((n) => !(n in a))) {
    return { ok: false, worst: Infinity };
  }
  return { ok: worst <= 1, worst };
}
