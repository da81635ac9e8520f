/**
 * Ecosystem exports of one checkpoint (a checkpoint ref, a branch = its tip, or `branch@N`),
 * read from a store:
 * - `exportSafetensors(store, ref, file, { withSlots })`: the canonical safetensors of the
 *   checkpoint's weights (`hidden1/weights`, …; with `withSlots` also the optimizer slots such as
 *   `hidden1/weights/m`), names sorted, F32 little-endian, with `__metadata__` (all strings):
 *   format `lockstep/weights@1`, stateHash, step, config (canonical JSON), datasetDigest,
 *   backend (canonical JSON), slots `included`/`excluded`, and counters (canonical JSON) with
 *   slots. Readable by Python's safetensors / PyTorch. A gan's export holds its generator
 *   (`generator/…`) only; the shuffle buffer (`input/…`: training state, no model) never.
 * - `exportTfjs(store, ref, dir)`: model.json + weights.bin (../export/tfjs-layers.ts); a
 *   layer-graph model's input shape is its dataset's: [32, 32, 3] for cifar10, [28, 28, 1] for
 *   the other built-ins, a stored dataset's from its object's header (refused when the store
 *   does not hold it).
 * - `exportTensorboard(store, ref, dir)`: one `events.out.tfevents.<s>.<host>` file with the
 *   scalar `loss` at every traced step of the lineage and `precision/<split>` at every evaluated
 *   step. Wall times: the steps of a trace segment are spread evenly between the creation times
 *   of the checkpoint it starts from and the one it leads to (the store keeps no per-step time).
 * - `exportCsv(store, ref, file)`: ./csv.ts's columns, one row per traced step of the lineage,
 *   precisions filled at evaluated steps.
 * Every file is written to a temp name and renamed into place. Metrics come from the trace
 * segments (engine/trace.ts parseTrace) and node evals along the lineage from step 0.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { canonicalJson } from '../engine/canonical-json';
import { encodeSafetensors } from '../engine/safetensors';
import { datasetHeader } from '../engine/stored-dataset';
import { isBuiltinDataset } from '../../shared/training';
import { parseTrace, type TraceStep } from '../engine/trace';
import { InputError, type EvalResult, type NamedTensor } from '../engine/types';
import type { Store } from '../store/store';
import { metricsToCsv, type MetricsRow } from './csv';
import { encodeEventFile, eventFileName, type ScalarEvent } from './tensorboard';
import { writeTfjsLayersModel } from './tfjs-layers';

export const WEIGHTS_FORMAT = 'lockstep/weights@1';
const SPLITS = ['train', 'validation', 'test'] as const;

async function checkpointOf(store: Store, ref: string): Promise<string> {
  if (ref.startsWith('run:')) {
    throw new InputError(
      `this format exports one checkpoint: give a branch or checkpoint, not ${ref}`,
    );
  }
  return store.resolveRef(ref);
}

async function writeAtomic(file: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, bytes, { flag: 'wx' });
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

const SLOT_SUFFIXES = new Set(['m', 'v', 'momentum']);

/**
 * An optimizer slot is `<tensor>/<m|v|momentum>` where `<tensor>` is another tensor of the state;
 * everything else (weights, biases, batch norm's γ, β and running statistics) is the model.
 */
const isSlot = (name: string, all: Record<string, NamedTensor>): boolean => {
  const cut = name.lastIndexOf('/');
  return cut > 0 && SLOT_SUFFIXES.has(name.slice(cut + 1)) && name.slice(0, cut) in all;
};

export async function exportSafetensors(
  store: Store,
  ref: string,
  file: string,
  opts: { withSlots?: boolean } = {},
): Promise<{ path: string; checkpoint: string; tensors: string[] }> {
  const id = await checkpointOf(store, ref);
  const state = await store.readState(id);
  const tensors: Record<string, NamedTensor> = {};
  const gan = state.config.model.kind === 'gan';
  for (const [name, t] of Object.entries(state.tensors)) {
    // the input pipeline's state is no part of a model; a gan exports its generator
    if (name.startsWith('input/') || (gan && !name.startsWith('generator/'))) {
      continue;
    }
    if (opts.withSlots || !isSlot(name, state.tensors)) {
      tensors[name] = t;
    }
  }
  const metadata: Record<string, string> = {
    format: WEIGHTS_FORMAT,
    stateHash: id,
    step: String(state.step),
    config: canonicalJson(state.config),
    datasetDigest: state.datasetDigest,
    backend: canonicalJson(state.backend),
    slots: opts.withSlots ? 'included' : 'excluded',
    ...(opts.withSlots ? { counters: canonicalJson(state.counters) } : {}),
  };
  await writeAtomic(file, encodeSafetensors(tensors, metadata));
  return { path: file, checkpoint: id, tensors: Object.keys(tensors).sort() };
}

export async function exportTfjs(
  store: Store,
  ref: string,
  dir: string,
): Promise<{ path: string; checkpoint: string; files: string[] }> {
  const id = await checkpointOf(store, ref);
  const state = await store.readState(id);
  const out = await writeTfjsLayersModel(dir, state.config.model, state.tensors, await inputShapeOf(store, state.config.dataset, state.datasetDigest)); // prettier-ignore
  return { path: dir, checkpoint: id, files: [out.modelJsonPath, out.weightsPath] };
}

/** The per-example shape [h, w, c] of a run's dataset. */
async function inputShapeOf(
  store: Store,
  dataset: string,
  digest: string,
): Promise<[number, number, number]> {
  // prettier-ignore
  if (isBuiltinDataset(dataset)) {
    return dataset === 'cifar10' ? [32, 32, 3] : [28, 28, 1];
  }
  if (!(await store.hasObject(digest))) {
    throw new InputError(`the store does not hold dataset ${dataset} (${digest.slice(0, 12)}), whose shape the tfjs export needs; add it with lockstep data add`); // prettier-ignore
  }
  const { shape } = datasetHeader(await store.getObject(digest));
  return [shape[0], shape[1], shape[2]];
}

export interface StepMetrics extends TraceStep {
  /** seconds since the Unix epoch (estimated, see the module comment) */
  wallTime: number;
}

/** Traced steps and evaluations along the lineage of checkpoint `id`, in step order. */
export async function lineageMetrics(
  store: Store,
  id: string,
): Promise<{ steps: StepMetrics[]; evals: Map<number, EvalResult> }> {
  const lineage = await store.lineage(id);
  const steps: StepMetrics[] = [];
  const evals = new Map<number, EvalResult>();
  let prevTime = lineage.length > 0 ? Date.parse(lineage[0].createdAt) / 1000 : 0;
  let prevStep = 0;
  for (const node of lineage) {
    const time = Date.parse(node.createdAt) / 1000;
    if (node.trace !== undefined) {
      const seg = parseTrace(await store.getObject(node.trace));
      const span = Math.max(1, node.step - prevStep);
      for (const s of seg.steps) {
        const f = Math.min(1, Math.max(0, (s.step - prevStep) / span));
        steps.push({ ...s, wallTime: prevTime + f * (time - prevTime) });
      }
      for (const e of seg.evals ?? []) {
        evals.set(e.step, { ...evals.get(e.step), ...e.eval });
      }
    }
    if (node.eval !== undefined) {
      evals.set(node.step, { ...evals.get(node.step), ...node.eval });
    }
    prevTime = time;
    prevStep = node.step;
  }
  return { steps, evals };
}

/** With `replace`, the folder's other events files are removed after the new one is written. */
export async function exportTensorboard(
  store: Store,
  ref: string,
  dir: string,
  opts: { replace?: boolean } = {},
): Promise<{ path: string; checkpoint: string; file: string; scalars: number }> {
  const id = await checkpointOf(store, ref);
  const { steps, evals } = await lineageMetrics(store, id);
  const wall = new Map(steps.map((s) => [s.step, s.wallTime]));
  const scalars: ScalarEvent[] = [];
  const evalSteps = [...evals.keys()].sort((a, b) => a - b);
  let k = 0;
  const flushEvals = (upTo: number) => {
    for (; k < evalSteps.length && evalSteps[k] <= upTo; k++) {
      const step = evalSteps[k];
      const e = evals.get(step)!;
      for (const split of SPLITS) {
        const v = e[split];
        if (v !== undefined) {
          const wallTime = wall.get(step) ?? steps[0]?.wallTime ?? 0;
          scalars.push({ step, wallTime, tag: `precision/${split}`, value: v.precision });
        }
      }
    }
  };
  for (const s of steps) {
    flushEvals(s.step - 1);
    scalars.push({ step: s.step, wallTime: s.wallTime, tag: 'loss', value: s.loss });
    flushEvals(s.step);
  }
  flushEvals(Number.MAX_SAFE_INTEGER);
  const fileWallTime =
    scalars[0]?.wallTime ?? Date.parse((await store.getNode(id)).createdAt) / 1000;
  const name = eventFileName(fileWallTime, hostname().replace(/[/\\\0]/g, '_') || 'localhost');
  await mkdir(dir, { recursive: true });
  const file = join(dir, name);
  await writeAtomic(file, encodeEventFile(scalars, { fileWallTime }));
  if (opts.replace) {
    for (const old of await readdir(dir)) {
      if (old.startsWith('events.out.tfevents.') && join(dir, old) !== file) {
        await rm(join(dir, old), { force: true });
      }
    }
  }
  return { path: dir, checkpoint: id, file, scalars: scalars.length };
}

export async function exportCsv(
  store: Store,
  ref: string,
  file: string,
): Promise<{ path: string; checkpoint: string; rows: number }> {
  const id = await checkpointOf(store, ref);
  const { steps, evals } = await lineageMetrics(store, id);
  const rows: MetricsRow[] = steps.map((s) => {
    const e = evals.get(s.step);
    return {
      step: s.step,
      loss: s.loss,
      batchDigest: s.batchDigest,
      stateDigest: s.stateDigest,
      trainPrecision: e?.train?.precision,
      validationPrecision: e?.validation?.precision,
      testPrecision: e?.test?.precision,
    };
  });
  await writeAtomic(file, metricsToCsv(rows));
  return { path: file, checkpoint: id, rows: rows.length };
}
