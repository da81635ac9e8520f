/**
 * Verifying a ref by replay (CLI `verify <ref>`): the certificate that a run's history is what
 * its inputs produce.
 *
 * From the ref's root (whose step-0 state is rebuilt from its config and must hash to the root's
 * id) or from a named checkpoint on its history (trusted after its integrity check), the updates
 * are replayed under each segment's config. Every recorded trace step must give the same loss,
 * batch digest and state digest; every stored checkpoint must hash to its id (so its config,
 * cursor, counters, dataset digest and backend fingerprint match too) and its stored bytes must be
 * intact. What the store displays of every reproduced checkpoint outside its hashed state — its
 * loss and its evaluation (node record annotations) — is checked too: the loss against the
 * replayed trace, the evaluation by evaluating the checkpoint again (checkDisplayedNode); a lie
 * is a mismatch naming it. The first mismatch stops the replay and is reported with its step, and for a checkpoint
 * with the first differing tensor (name, differing elements, max |Δ|, max ULP). A segment costs
 * only its own steps: `--from` starts at any checkpoint (which is then neither counted nor
 * annotated: it is the premise). On success every checkpoint the replay reproduced (and a root
 * rebuilt from its config) is annotated `verified` with the time of the replay (skipped when the
 * store is read-only).
 * Bitwise replay is promised within one backend fingerprint: a checkpoint recorded on another
 * says so in the detail.
 * The answer is always a report, never a crash, when the question can be asked: a damaged store
 * (a corrupt or missing object or node on the ref's history) and a backend that is not available
 * here ("cannot replay: backend tensorflow not available here") or a stored dataset that is not
 * ("cannot replay: dataset 'x' … is not available here") give `verified: false` with the
 * reason; only a bad ref or `--from` throws (the question cannot be asked). A mismatch on a
 * checkpoint whose dataset digest differs from the data here names the digests as the cause.
 */
import { canonicalJson } from '../engine/canonical-json';
import { backendAvailable, describeFingerprint, fingerprint, sameBits } from '../engine/backend';
import { encodeState } from '../engine/state';
import { createDigester } from '../engine/trace';
import { findStoredDataset } from '../engine/stored-dataset';
import { Trainer } from '../engine/trainer';
import { isBuiltinDataset } from '../engine/types';
import type { TrainingState } from '../engine/types';
import { RefError, StoreCorruptError, type CheckpointNode } from '../store/api';
import type { Store } from '../store/store';
import type { VerifyReport } from '../../shared/contract';
import { diffTensors, loadLineage, loadTraces, replay, ReplayError, type Lineage } from './replay';

export type { VerifyReport } from '../../shared/contract';

export interface VerifyOptions {
  /** a checkpoint on the ref's history to start from (default: the root) */
  from?: string;
  signal?: AbortSignal;
  /** replayed steps so far, of total */
  onProgress?: (done: number, total: number) => void;
}

type Mismatch = NonNullable<VerifyReport['firstMismatch']>;

export async function verifyRef(
  store: Store,
  ref: string,
  opts: VerifyOptions = {},
): Promise<VerifyReport> {
  const id = await store.resolveRef(ref);
  try {
    return await verifyId(store, ref, id, opts);
  } catch (e) {
    if (e instanceof StoreCorruptError || (e instanceof Error && e.name === 'StoreCorruptError')) {
      // the store itself is damaged on this history: a negative answer, not a failure to answer
      let step = 0;
      try {
        step = (await store.getNode(id)).step;
      } catch {
        // the node itself is unreadable: step 0 stands for "unknown"
      }
      return {
        verified: false,
        checkpoints: 0,
        steps: 0,
        firstMismatch: {
          step,
          checkpoint: id,
          detail: `the store is damaged: ${(e as Error).message}`,
        },
        checkpoint: id,
        fromStep: 0,
        msPerStep: 0,
      };
    }
    throw e;
  }
}

async function verifyId(
  store: Store,
  ref: string,
  id: string,
  opts: VerifyOptions,
): Promise<VerifyReport> {
  const lin = await loadLineage(store, id);
  let start = 0;
  if (opts.from !== undefined) {
    const fromId = await store.resolveRef(opts.from);
    start = lin.nodes.findIndex((n) => n.id === fromId);
    if (start < 0) {
      throw new RefError(`${opts.from} is not on the history of ${ref}`);
    }
  }
  const last = lin.nodes.length - 1;
  if (opts.from !== undefined && start === last) {
    throw new RefError(`--from ${opts.from} is the checkpoint being verified: nothing to replay`);
  }
  const fromStep = lin.nodes[start].step;
  const total = lin.nodes[last].step - fromStep;
  const trace = (await loadTraces(store, lin, fromStep + 1)).steps;
  const checkpointSteps = new Set(lin.nodes.map((n) => n.step));
  const checked: string[] = [];
  let steps = 0;
  let mismatch: Mismatch | null = null;
  let t0 = performance.now();
  opts.onProgress?.(0, total);

  // a replay this machine cannot run is a "no" that says why, before any step is replayed
  const cannotReplay = (detail: string): VerifyReport => ({
    verified: false,
    checkpoints: 0,
    steps: 0,
    firstMismatch: { step: fromStep, checkpoint: lin.nodes[start].id, detail },
    checkpoint: id,
    fromStep,
    msPerStep: 0,
  });
  const missing = lin.manifests
    .slice(start)
    .map((m) => m.config.backend)
    .find((b) => !backendAvailable(b));
  if (missing !== undefined) {
    return cannotReplay(
      `cannot replay: backend ${missing} not available here${missing === 'tensorflow' ? ' (@tensorflow/tfjs-node or its native library is not installed)' : ''}`,
    );
  }
  const noData = lin.manifests.slice(start).find((m) => datasetMissing(m.config.dataset));
  if (noData !== undefined) {
    return cannotReplay(
      `cannot replay: dataset '${noData.config.dataset}' (digest ${noData.datasetDigest.slice(0, 12)}) is not available here (lockstep data add, or a bundle exported with --with-data)`,
    );
  }

  let startState: TrainingState | undefined;
  if (start === 0) {
    const t = await Trainer.create(lin.manifests[0].config, undefined, lin.manifests[0].backend);
    try {
      startState = t.snapshot();
    } finally {
      t.dispose();
    }
    mismatch = await checkCheckpoint(store, lin, 0, startState);
  } else {
    try {
      startState = await store.readState(lin.nodes[start].id);
    } catch (e) {
      mismatch = damaged(lin, start, e);
    }
  }
  if (mismatch === null && start === 0) {
    // (a --from checkpoint is only integrity-checked: it is the premise, not a result)
    checked.push(lin.nodes[start].id);
  }

  if (mismatch === null && start < last) {
    const d = await createDigester();
    t0 = performance.now();
    try {
      const trainer = await replay(store, lin, {
        start,
        startState,
        toStep: lin.nodes[last].step,
        signal: opts.signal,
        onStep: (step, loss, indices, tr) => {
          steps++;
          if (steps % 100 === 0) {
            opts.onProgress?.(steps, total);
          }
          const rec = trace.get(step);
          if (!rec) {
            return;
          }
          if (!Object.is(rec.loss, loss)) {
            mismatch = { step, detail: `loss ${loss} replayed, ${rec.loss} recorded in the trace` };
          } else if (d.batch(indices) !== rec.batchDigest) {
            mismatch = {
              step,
              detail: `the batch differs from the recorded one (digest ${d.batch(indices)} replayed, ${rec.batchDigest} recorded)`,
            };
          } else if (!checkpointSteps.has(step)) {
            // (at a stored checkpoint the full check below names the tensor)
            const got = d.state(tr.readTensors());
            if (got !== rec.stateDigest) {
              mismatch = {
                step,
                detail: `state digest ${got} replayed, ${rec.stateDigest} recorded in the trace`,
              };
            }
          }
          return mismatch ? 'stop' : undefined;
        },
        onCheckpoint: async (i, tr) => {
          mismatch = await checkCheckpoint(store, lin, i, tr.snapshot());
          if (mismatch) {
            return 'stop';
          }
          checked.push(lin.nodes[i].id);
        },
      });
      trainer.dispose();
    } catch (e) {
      if (!(e instanceof ReplayError)) {
        throw e;
      }
      mismatch = { step: e.step, detail: e.message };
    }
  }
  opts.onProgress?.(steps, total);
  if (mismatch === null) {
    // what `show`/`log` display of each reproduced checkpoint (its loss and evaluation live in
    // its node record, outside the hashed state) must be what the replay gives
    for (const c of checked) {
      opts.signal?.throwIfAborted();
      const i = lin.nodes.findIndex((n) => n.id === c);
      mismatch = await checkDisplayedNode(store, lin.nodes[i], trace.get(lin.nodes[i].step));
      if (mismatch !== null) {
        break;
      }
    }
  }

  const verified = mismatch === null;
  if (verified) {
    const now = new Date().toISOString();
    try {
      for (const c of checked) {
        await store.annotateNode(c, { verified: now });
      }
    } catch (e) {
      if (!(e instanceof Error && e.name === 'StoreWriteError')) {
        throw e;
      }
    }
  }
  return {
    verified,
    checkpoints: checked.length,
    steps,
    firstMismatch: mismatch,
    checkpoint: id,
    fromStep,
    msPerStep: steps > 0 ? (performance.now() - t0) / steps : 0,
  };
}

/**
 * Null when a reproduced checkpoint's displayed loss is the trace's (replayed) loss at its step
 * and its displayed evaluation is what evaluating it gives, field for field; else the lie.
 */
export async function checkDisplayedNode(
  store: Store,
  node: CheckpointNode,
  traced: { loss: number } | undefined,
): Promise<Mismatch | null> {
  const at = { step: node.step, checkpoint: node.id };
  if (node.loss !== undefined && traced !== undefined && !Object.is(traced.loss, node.loss)) {
    return {
      ...at,
      detail: `checkpoint at step ${node.step} displays loss ${node.loss}; the replayed trace has ${traced.loss}`,
    };
  }
  const shown = node.eval;
  const splits = (['train', 'validation', 'test'] as const).filter((k) => shown?.[k] !== undefined);
  if (shown === undefined || splits.length === 0) {
    return null;
  }
  const trainer = await Trainer.restore(await store.readState(node.id));
  let got;
  try {
    got = trainer.evaluate([...splits]);
  } finally {
    trainer.dispose();
  }
  for (const k of splits) {
    const a = shown[k]!;
    const b = got[k]!;
    if (a.precision !== b.precision || a.correct !== b.correct || a.examples !== b.examples) {
      return {
        ...at,
        detail: `checkpoint at step ${node.step} displays ${k} precision ${a.precision} (${a.correct}/${a.examples}); evaluating it gives ${b.precision} (${b.correct}/${b.examples})`,
      };
    }
  }
  return null;
}

/** Whether a stored dataset (not a built-in) is absent from every store in use. */
function datasetMissing(name: string): boolean {
  return !isBuiltinDataset(name) && findStoredDataset(name) === null;
}

function damaged(lin: Lineage, i: number, e: unknown): Mismatch {
  if (e instanceof StoreCorruptError || (e instanceof Error && e.name === 'StoreCorruptError')) {
    return {
      step: lin.nodes[i].step,
      checkpoint: lin.nodes[i].id,
      detail: `the stored checkpoint is damaged: ${(e as Error).message}`,
    };
  }
  throw e;
}

/** Null when the replayed state is the stored checkpoint `i` and its bytes are intact. */
async function checkCheckpoint(
  store: Store,
  lin: Lineage,
  i: number,
  replayed: TrainingState,
): Promise<Mismatch | null> {
  const node = lin.nodes[i];
  let stored: TrainingState;
  try {
    stored = await store.readState(node.id);
  } catch (e) {
    return damaged(lin, i, e);
  }
  if (encodeState(replayed).id === node.id) {
    return null;
  }
  const base = { step: node.step, checkpoint: node.id };
  const rows = diffTensors(replayed.tensors, stored.tensors).filter((r) => r.differing > 0);
  if (rows.length > 0) {
    const r = rows[0];
    return {
      ...base,
      tensor: r.name,
      differing: r.differing,
      ...(Number.isFinite(r.maxAbsDiff) ? { maxAbsDiff: r.maxAbsDiff } : {}),
      ...(Number.isFinite(r.maxUlp) ? { maxUlp: r.maxUlp } : {}),
      detail:
        `the replayed state differs from the stored checkpoint: ${rows.length} tensor(s) differ, first ${r.name} ` +
        `(${r.differing} of ${r.elements} elements, max |Δ| ${r.maxAbsDiff}, max ${r.maxUlp} ULP)` +
        digestNote(replayed, stored) +
        fingerprintNote(stored),
    };
  }
  const fields: string[] = [];
  for (const k of ['config', 'step', 'cursor', 'counters', 'datasetDigest', 'backend'] as const) {
    if (canonicalJson(replayed[k]) !== canonicalJson(stored[k])) {
      fields.push(k);
    }
  }
  return {
    ...base,
    detail: `the tensors match but the stored checkpoint differs in ${fields.join(', ') || 'its encoding'}${digestNote(replayed, stored)}${fingerprintNote(stored)}`,
  };
}

/** Names a dataset digest mismatch as the cause: the data under the dataset's name changed. */
function digestNote(replayed: TrainingState, stored: TrainingState): string {
  return replayed.datasetDigest === stored.datasetDigest
    ? ''
    : `; the dataset differs: '${stored.config.dataset}' here has digest ${replayed.datasetDigest.slice(0, 12)}, the checkpoint was recorded on ${stored.datasetDigest.slice(0, 12)}`;
}

function fingerprintNote(stored: TrainingState): string {
  const here = fingerprint(stored.config.backend);
  return sameBits(here, stored.backend)
    ? ''
    : `; it was recorded on ${describeFingerprint(stored.backend)} and replayed on ${describeFingerprint(here)}: bitwise equality was not promised`;
}
