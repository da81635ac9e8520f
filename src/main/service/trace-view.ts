/**
 * The recorded per-step trace of a ref (CLI `trace <ref>`): for every step of its history from
 * the root (or within [from, to]) the loss, batch digest and state digest, and the evaluations.
 * With `withIndices`, each step's example indices, recomputed from the feeder at the cursor
 * before that step (the cursor of the last stored checkpoint plus the batch sizes since; never a
 * replay). Steps without a recorded trace are counted in `missing`.
 */
import { InputError } from '../engine/types';
import type { Store } from '../store/store';
import type { TraceInfo, TraceStepInfo } from '../../shared/contract';
import { BatchOracle, loadLineage, loadTraces, tip } from './replay';

export type { TraceInfo } from '../../shared/contract';

export interface TraceOptions {
  from?: number;
  to?: number;
  withIndices?: boolean;
}

export async function readTrace(
  store: Store,
  ref: string,
  opts: TraceOptions = {},
): Promise<TraceInfo> {
  for (const k of ['from', 'to'] as const) {
    const v = opts[k];
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) {
      throw new InputError(`--${k} must be a non-negative integer, got ${v}`);
    }
  }
  const id = await store.resolveRef(ref);
  const lin = await loadLineage(store, id);
  const last = tip(lin).node.step;
  const from = Math.max(1, opts.from ?? 1);
  const to = Math.min(last, opts.to ?? last);
  if (opts.from !== undefined && opts.to !== undefined && opts.from > opts.to) {
    throw new InputError(`--from ${opts.from} is after --to ${opts.to}`);
  }
  const { steps: recorded, evals } = await loadTraces(store, lin, from, to);
  const oracle = opts.withIndices ? new BatchOracle(lin, store) : null;
  const steps: TraceStepInfo[] = [];
  const digests = new Set<string>();
  for (let s = from; s <= to; s++) {
    const r = recorded.get(s);
    if (!r) {
      continue;
    }
    digests.add(r.digest);
    steps.push({
      step: s,
      loss: r.loss,
      batchDigest: r.batchDigest,
      stateDigest: r.stateDigest,
      ...(r.gLoss !== undefined ? { dLoss: r.dLoss ?? r.loss, gLoss: r.gLoss } : {}),
      ...(oracle ? { indices: Array.from(await oracle.indices(s)) } : {}),
    });
  }
  return {
    ref,
    steps,
    evals,
    checkpoint: id,
    step: last,
    digests: [...digests].sort(),
    missing: Math.max(0, to - from + 1) - steps.length,
  };
}
