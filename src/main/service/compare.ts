/**
 * Comparing two runs (DESIGN.md "Trace and comparison", CLI `compare <a> <b>`).
 *
 * For the refs' lineages up to the smaller of their two steps, the report says:
 * - the first step whose state (every parameter and optimizer slot) differs. Step 0 is compared
 *   tensor by tensor; later steps by the recorded per-step state digests and by stored
 *   checkpoints (equal ids are equal states). Where neither tells (no trace, digests of different
 *   algorithms), both runs are replayed from their last known-equal step and digested step by
 *   step, so the exact step is found even when only checkpoints exist around the divergence.
 *   "Once apart, apart": runs are assumed not to become bitwise equal again;
 * - at that step, the first differing tensor in name order, its count of differing elements, the
 *   max absolute difference and max ULP distance, plus a row per differing tensor. The states come
 *   from stored checkpoints, else from replays from each run's nearest earlier checkpoint (a
 *   replay that does not reproduce the run's own recorded digest is said in the summary: that run
 *   does not replay, verify it);
 * - same data (dataset digest), same batches up to which step (recorded batch digests, else
 *   batches recomputed from the feeder), the backend fingerprints and the config differences.
 * `identical` is true when both refs name the same state. On different backend fingerprints,
 * bitwise equality was not promised: the states at the last common step are compared with a
 * tolerance instead, and `identical` means "the same within tolerance" (with the same data and
 * batches); `bitwiseIdentical` keeps the strict answer.
 */
import { describeFingerprint, sameBits } from '../engine/fingerprint';
import { createDigester, type Digester } from '../engine/trace';
import type { TrainingConfig, TrainingState } from '../engine/types';
import type { Store } from '../store/store';
import type { CompareReport } from '../../shared/contract';
import {
  BatchOracle,
  diffTensors,
  loadLineage,
  loadTraces,
  nodeAt,
  nodeAtOrBefore,
  replay,
  stateAt,
  tip,
  withinTolerance,
  type Lineage,
  type RecordedStep,
  type TensorDiff,
} from './replay';

export type { CompareReport } from '../../shared/contract';

/** Tolerance used across backend fingerprints: |a − b| ≤ ATOL + RTOL·max(|a|, |b|). */
export const RTOL = 1e-3;
export const ATOL = 1e-5;

export interface CompareOptions {
  signal?: AbortSignal;
}

interface Side {
  ref: string;
  lin: Lineage;
  trace: Map<number, RecordedStep>;
}

export async function compareRefs(
  store: Store,
  a: string,
  b: string,
  opts: CompareOptions = {},
): Promise<CompareReport> {
  const { signal } = opts;
  const A = await side(store, a);
  const B = await side(store, b);
  const ta = tip(A.lin);
  const tb = tip(B.lin);
  const N = Math.min(ta.node.step, tb.node.step);
  for (const s of [A, B]) {
    s.trace = (await loadTraces(store, s.lin, 1, N)).steps;
  }
  const digester = await createDigester();
  const sameData =
    ta.manifest.datasetDigest === tb.manifest.datasetDigest &&
    ta.manifest.config.dataset === tb.manifest.config.dataset;
  const sameFingerprint = sameBits(ta.manifest.backend, tb.manifest.backend);
  const summary: string[] = [];

  // ---- the first step whose states differ ----
  let first: number | null = null;
  let lastEqual = 0;
  let rootDiff: TensorDiff[] | null = null;
  if (A.lin.nodes[0].id !== B.lin.nodes[0].id) {
    const [ra, rb] = [
      await store.readState(A.lin.nodes[0].id),
      await store.readState(B.lin.nodes[0].id),
    ];
    rootDiff = diffTensors(ra.tensors, rb.tensors).filter((d) => d.differing > 0);
    if (rootDiff.length > 0) {
      first = 0;
    }
  }
  if (first === null) {
    for (let s = 1; s <= N; s++) {
      const k = knownEqual(A, B, s);
      if (k === true) {
        lastEqual = s;
      } else if (k === false) {
        first = s;
        break;
      }
    }
    const searchTo = first ?? N;
    if (searchTo > lastEqual + (first === null ? 0 : 1)) {
      // no record tells between lastEqual and searchTo: replay both and digest every step
      const recorded = first;
      first = (await searchReplay(store, A, B, lastEqual, searchTo, digester, signal)) ?? recorded;
    }
  }

  // ---- tensor detail at the first divergent step ----
  let rows: TensorDiff[] = [];
  let tensorStep: number | null = null;
  const notes: string[] = [];
  if (first === 0) {
    rows = rootDiff ?? [];
    tensorStep = 0;
  } else if (first !== null) {
    const sa = await checkedStateAt(store, A, 'A', first, digester, notes, signal);
    const sb = await checkedStateAt(store, B, 'B', first, digester, notes, signal);
    rows = diffTensors(sa.tensors, sb.tensors).filter((d) => d.differing > 0);
    tensorStep = first;
    if (rows.length === 0) {
      // the records part at `first` but replays do not: show the next stored pair instead
      const later = A.lin.nodes.find((n) => n.step >= first! && nodeAt(B.lin, n.step) >= 0);
      if (later) {
        const [xa, xb] = [
          await store.readState(later.id),
          await store.readState(B.lin.nodes[nodeAt(B.lin, later.step)].id),
        ];
        rows = diffTensors(xa.tensors, xb.tensors).filter((d) => d.differing > 0);
        tensorStep = later.step;
      }
    }
  }
  const head = rows[0] ?? null;

  // ---- batches ----
  const sameBatchesUntil = await batchesAgreeUntil(store, A, B, N, digester);

  // ---- fingerprints and tolerance ----
  let tolerance: CompareReport['tolerance'];
  // across fingerprints: whether every tensor (weights and slots) is equal bit for bit at step N
  let tensorsBitEqual = false;
  if (!sameFingerprint) {
    const xa = (await stateAt(store, A.lin, N, signal)).state;
    const xb = (await stateAt(store, B.lin, N, signal)).state;
    const t = withinTolerance(xa.tensors, xb.tensors, RTOL, ATOL);
    tolerance = { rtol: RTOL, atol: ATOL, step: N, within: t.ok, worst: finite(t.worst) };
    tensorsBitEqual = diffTensors(xa.tensors, xb.tensors).every((d) => d.differing === 0);
  }

  const sameState = ta.node.id === tb.node.id;
  // bit-identical: the same checkpoint, or (across fingerprints, which are part of the ids) the
  // same tensors bit for bit after the same data, batches and steps
  const bitwiseIdentical =
    sameState ||
    (tensorsBitEqual &&
      first === null &&
      sameData &&
      sameBatchesUntil === N &&
      ta.node.step === tb.node.step);
  const identical = sameFingerprint
    ? sameState
    : (tolerance?.within ?? false) &&
      sameData &&
      sameBatchesUntil === N &&
      ta.node.step === tb.node.step;

  // ---- the human report ----
  const short = (id: string) => id.slice(0, 12);
  summary.push(
    `A ${A.ref} = ${short(ta.node.id)} at step ${ta.node.step}; B ${B.ref} = ${short(tb.node.id)} at step ${tb.node.step}`,
  );
  if (first === null) {
    summary.push(
      ta.node.step === tb.node.step
        ? `models the same at every step 0…${N}`
        : `models the same at every step 0…${N} (${ta.node.step > tb.node.step ? 'A' : 'B'} goes on to step ${Math.max(ta.node.step, tb.node.step)})`,
    );
  } else {
    summary.push(
      `models the same up to step ${first - 1 < 0 ? '-' : first - 1}; they part at step ${first}` +
        (head
          ? `${tensorStep !== first ? ` (tensors compared at step ${tensorStep})` : ''}: first differing tensor ${head.name}, ${head.differing} of ${head.elements} elements differ, max |Δ| ${fmt(head.maxAbsDiff)}, max ${fmt(head.maxUlp)} ULP${head.note ? ` (${head.note})` : ''}`
          : ''),
    );
  }
  summary.push(
    sameData
      ? `data the same (${ta.manifest.config.dataset} ${short(ta.manifest.datasetDigest)})`
      : `data different: A ${ta.manifest.config.dataset} ${short(ta.manifest.datasetDigest)}, B ${tb.manifest.config.dataset} ${short(tb.manifest.datasetDigest)}`,
  );
  summary.push(
    sameBatchesUntil === N
      ? `batches the same (every batch of steps 1…${N})`
      : sameBatchesUntil === 0
        ? 'batches different from step 1'
        : `batches the same up to step ${sameBatchesUntil}, different from step ${sameBatchesUntil + 1}`,
  );
  const cfgDiff = configDiff(ta.manifest.config, tb.manifest.config);
  if (cfgDiff.length > 0) {
    summary.push(`configs differ: ${cfgDiff.join('; ')}`);
  }
  if (sameFingerprint) {
    summary.push(`backend the same (${fp(ta.manifest.backend)}): bitwise equality was promised`);
  } else {
    summary.push(
      `backends differ (A ${fp(ta.manifest.backend)}, B ${fp(tb.manifest.backend)}): bitwise equality was not promised; ` +
        `at step ${N} the weights ${tolerance?.within ? 'agree' : 'do not agree'} within rtol ${RTOL}, atol ${ATOL}`,
    );
  }
  summary.push(...notes);
  summary.push(
    identical
      ? sameState
        ? 'identical: both refs are the same checkpoint'
        : bitwiseIdentical
          ? 'bit-identical tensors: every weight and optimizer slot is equal bit for bit; only the backend fingerprints (and so the checkpoint ids) differ'
          : 'identical within tolerance (not bitwise)'
      : 'not identical',
  );

  return {
    identical,
    firstDivergentStep: first,
    tensor: head?.name ?? null,
    differing: head?.differing ?? null,
    maxAbsDiff: head ? finite(head.maxAbsDiff) : null,
    maxUlp: head ? finite(head.maxUlp) : null,
    sameData,
    sameBatchesUntil,
    sameFingerprint,
    ...(rows.length > 0
      ? {
          tensors: rows.map((r) => ({
            name: r.name,
            differing: r.differing,
            maxAbsDiff: finite(r.maxAbsDiff) ?? Number.MAX_VALUE,
            maxUlp: finite(r.maxUlp) ?? Number.MAX_VALUE,
          })),
        }
      : {}),
    summary,
    bitwiseIdentical,
    tensorStep,
    steps: { a: ta.node.step, b: tb.node.step },
    checkpoints: { a: ta.node.id, b: tb.node.id },
    ...(tolerance ? { tolerance } : {}),
  };
}

async function side(store: Store, ref: string): Promise<Side> {
  const id = await store.resolveRef(ref);
  return { ref, lin: await loadLineage(store, id), trace: new Map() };
}

/** true / false when a record tells whether the states at step s are equal, else undefined. */
function knownEqual(A: Side, B: Side, s: number): boolean | undefined {
  const ia = nodeAt(A.lin, s);
  const ib = nodeAt(B.lin, s);
  if (ia >= 0 && ib >= 0 && A.lin.nodes[ia].id === B.lin.nodes[ib].id) {
    return true;
  }
  const da = A.trace.get(s);
  const db = B.trace.get(s);
  if (da && db && da.digest === db.digest) {
    return da.stateDigest === db.stateDigest;
  }
  return undefined;
}

/** Replays both runs over (from, to] and returns the first step whose digests differ, or null. */
async function searchReplay(
  store: Store,
  A: Side,
  B: Side,
  from: number,
  to: number,
  digester: Digester,
  signal?: AbortSignal,
): Promise<number | null> {
  const digests = async (s: Side): Promise<string[]> => {
    const out: string[] = [];
    const t = await replay(store, s.lin, {
      start: nodeAtOrBefore(s.lin, from),
      toStep: to,
      signal,
      onStep: (step, _loss, _idx, tr) => {
        if (step > from) {
          out[step - from - 1] = digester.state(tr.readTensors());
        }
      },
    });
    t.dispose();
    return out;
  };
  const da = await digests(A);
  const db = await digests(B);
  for (let k = 0; k < to - from; k++) {
    if (da[k] !== db[k]) {
      return from + k + 1;
    }
  }
  return null;
}

/** The state of one side at `step`, noting when a replay does not reproduce its own record. */
async function checkedStateAt(
  store: Store,
  s: Side,
  label: string,
  step: number,
  digester: Digester,
  notes: string[],
  signal?: AbortSignal,
): Promise<TrainingState> {
  const { state, replayedFrom } = await stateAt(store, s.lin, step, signal);
  const rec = s.trace.get(step);
  if (replayedFrom !== null && rec && rec.digest === digester.algorithm) {
    const got = digester.state(
      Object.keys(state.tensors)
        .sort()
        .map((n) => [n, state.tensors[n].data] as const),
    );
    if (got !== rec.stateDigest) {
      notes.push(
        `run ${label} does not replay: from its checkpoint at step ${replayedFrom}, step ${step} gives state digest ${got}, its trace recorded ${rec.stateDigest} (verify it)`,
      );
    }
  }
  return state;
}

/** Last step up to which every batch of A and B was the same (0: the first batch differs). */
async function batchesAgreeUntil(
  store: Store,
  A: Side,
  B: Side,
  N: number,
  digester: Digester,
): Promise<number> {
  const oa = new BatchOracle(A.lin, store);
  const ob = new BatchOracle(B.lin, store);
  for (let s = 1; s <= N; s++) {
    const ra = A.trace.get(s);
    const rb = B.trace.get(s);
    let same: boolean;
    if (ra && rb && ra.digest === rb.digest) {
      same = ra.batchDigest === rb.batchDigest;
    } else {
      same = digester.batch(await oa.indices(s)) === digester.batch(await ob.indices(s));
    }
    if (!same) {
      return s - 1;
    }
  }
  return N;
}

function configDiff(a: TrainingConfig, b: TrainingConfig): string[] {
  const flat = (c: TrainingConfig): Record<string, string> => ({
    dataset: c.dataset,
    model: `${c.model.kind}${c.model.hidden.length ? ' ' + c.model.hidden.join(',') : ''}`,
    ...Object.fromEntries(
      Object.entries(c.optimizer).map(([k, v]) => [k === 'kind' ? 'optimizer' : k, String(v)]),
    ),
    'batch size': String(c.batchSize),
    seed: String(c.seed),
    backend: c.backend,
  });
  const fa = flat(a);
  const fb = flat(b);
  return [...new Set([...Object.keys(fa), ...Object.keys(fb)])]
    .filter((k) => fa[k] !== fb[k])
    .map((k) => `${k} ${fa[k] ?? '-'} vs ${fb[k] ?? '-'}`);
}

function fp(b: TrainingState['backend']): string {
  return describeFingerprint(b);
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) {
    return 'non-finite';
  }
  return Number.isInteger(x) ? String(x) : x.toPrecision(3);
}

function finite(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}
