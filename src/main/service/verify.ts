/**
 * Verifying a ref by replay (CLI `verify <ref>`): the certificate that a run's history is what
 * its inputs produce.
 *
 * From the ref's root (whose step-0 state is rebuilt from its config and must hash to the root's
 * id) or from a named checkpoint on its history (trusted after its integrity check), the updates
 * are replayed under each segment's config. Every recorded trace step must give the same loss,
 * batch digest and state digest; every stored checkpoint must hash to its id (so its config,
 * cursor, counters, dataset digest and backend fingerprint match too) and its stored bytes must be
 * intact. The first mismatch stops the replay and is reported with its step, and for a checkpoint
 * with the first differing tensor (name, differing elements, max |Δ|, max ULP). A segment costs
 * only its own steps: `--from` starts at any checkpoint (which is then neither counted nor
 * annotated: it is the premise). On success every checkpoint the replay reproduced (and a root
 * rebuilt from its config) is annotated `verified` with the time of the replay (skipped when the
 * store is read-only).
 * Bitwise replay is promised within one backend fingerprint: a checkpoint recorded on another
 * says so in the detail.
 */
import { canonicalJson } from '../engine/canonical-json';
import { fingerprint } from '../engine/backend';
import { encodeState } from '../engine/state';
import { createDigester } from '../engine/trace';
import { Trainer } from '../engine/trainer';
import type { TrainingState } from '../engine/types';
import { RefError, StoreCorruptError } from '../store/api';
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
  const fromStep = lin.nodes[start].step;
  const total = lin.nodes[last].step - fromStep;
  const trace = (await loadTraces(store, lin, fromStep + 1)).steps;
  const checkpointSteps = new Set(lin.nodes.map((n) => n.step));
  const checked: string[] = [];
  let steps = 0;
  let mismatch: Mismatch | null = null;
  let t0 = performance.now();
  opts.onProgress?.(0, total);

  let startState: TrainingState | undefined;
  if (start === 0) {
    const t = await Trainer.create(lin.manifests[0].config);
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
    detail: `the tensors match but the stored checkpoint differs in ${fields.join(', ') || 'its encoding'}${fingerprintNote(stored)}`,
  };
}

function fingerprintNote(stored: TrainingState): string {
  const here = fingerprint(stored.config.backend);
  return canonicalJson(here) === canonicalJson(stored.backend)
    ? ''
    : `; it was recorded on ${Object.values(stored.backend).join('/')} and replayed on ${Object.values(here).join('/')}: bitwise equality was not promised`;
}
