/**
 * One bench measurement in a fresh process (spawned by ./bench.ts), so backends do not disturb
 * each other and the peak RSS is that of one training process. Usage:
 *   node --import tsx src/main/bench/worker.ts '<job JSON>'
 * Prints one JSON line (the result) on stdout.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { instantiateKernels, PANEL_BYTES, WA } from '../engine/kernels/wasm-module';
import { nativeKernels, nativeStatus } from '../engine/kernels/native';
import { stream } from '../engine/rng';
import { encodeState } from '../engine/state';
import { Trainer } from '../engine/trainer';
import type { BackendName, OptimizerKind, TrainingConfig } from '../engine/types';
import { startedAs } from '../entry-points';
import { Store } from '../store/store';
import { alternateThreads, type Alternating } from './alternate';

export interface TrainJob {
  kind: 'train';
  backend: BackendName;
  model: 'mlp' | 'softmax';
  optimizer: OptimizerKind;
  warmup: number;
  reps: number;
  steps: number;
  /** with N: each repetition is a pair, one thread then N (./alternate.ts) */
  alternate?: number;
}

export interface CheckpointJob {
  kind: 'checkpoint';
  reps: number;
}

/** Our dense GEMM's throughput on one shape (./gemm-rate.ts): C = A·B, m × n × k. */
export interface GemmJob {
  kind: 'gemm';
  shape: [m: number, n: number, k: number];
  reps: number;
}

/**
 * The default MLP with a momentum-like optimizer at lr 0.01 (./decay.ts): ms/step of `reps`
 * repetitions of `steps` steps from step `early`, then the same from step `late`, and the share of
 * the optimizer's slots then subnormal.
 */
export interface DecayJob {
  kind: 'decay';
  optimizer: 'adam' | 'momentum';
  early: number;
  late: number;
  reps: number;
  steps: number;
}

export type BenchJob = TrainJob | CheckpointJob | GemmJob | DecayJob;

/** Best and median GMAC/s (m·n·k multiply-adds per second, in billions) of the timed products. */
export interface GemmRate {
  best: number;
  median: number;
}

/** The wasm tile's rate, and the native twin's where it runs (null: it does not, see `detail`). */
export interface GemmResult extends GemmRate {
  native: (GemmRate & { isa: string }) | null;
  detail: string;
}

export interface TrainResult {
  backend: BackendName;
  msPerStep: number;
  repsMs: number[];
  peakRssMB: number;
  /** with `alternate`: each pair's ms/step on one thread and on N (repsMs: the N threads') */
  alternating?: Alternating;
}

export interface DecayResult {
  earlyMs: number;
  lateMs: number;
  /** nonzero floats below float32's smallest normal among the slots at the end, and all slots */
  subnormal: number;
  slots: number;
}

export interface CheckpointResult {
  saveMs: number;
  readMs: number;
  bytes: number;
  resumeStep10Ms: number;
  resumeFarMs: number;
  farStep: number;
  peakRssMB: number;
}

export const FAR_STEP = 1_000_000;

export function benchConfig(
  backend: BackendName,
  model: 'mlp' | 'softmax',
  optimizer: OptimizerKind,
  lr = optimizer === 'adam' ? 0.001 : 0.01,
): TrainingConfig {
  return {
    dataset: 'mnist',
    model: model === 'mlp' ? { kind: 'mlp', hidden: [128, 32] } : { kind: 'softmax', hidden: [] },
    optimizer: { kind: optimizer, lr },
    batchSize: 100,
    seed: 1,
    backend,
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const peakRssMB = (): number => process.resourceUsage().maxRSS / 1024;

/** ms/step of `reps` repetitions of `steps` training steps each. */
export function timeSteps(t: Trainer, reps: number, steps: number): number[] {
  const repsMs: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) {
      t.trainStep();
    }
    repsMs.push((performance.now() - t0) / steps);
  }
  return repsMs;
}

async function train(job: TrainJob): Promise<TrainResult> {
  const t = await Trainer.create(benchConfig(job.backend, job.model, job.optimizer));
  try {
    for (let i = 0; i < job.warmup; i++) {
      t.trainStep();
    }
    if (job.alternate !== undefined) {
      const alternating = await alternateThreads(t, job.alternate, job.reps, job.steps);
      const repsMs = alternating.many;
      return { backend: t.config.backend, msPerStep: median(repsMs), repsMs, peakRssMB: peakRssMB(), alternating }; // prettier-ignore
    }
    const repsMs = timeSteps(t, job.reps, job.steps);
    return { backend: t.config.backend, msPerStep: median(repsMs), repsMs, peakRssMB: peakRssMB() };
  } finally {
    t.dispose();
  }
}

async function decay(job: DecayJob): Promise<DecayResult> {
  const t = await Trainer.create(benchConfig('wasm', 'mlp', job.optimizer, 0.01));
  try {
    const timeFrom = (step: number): number => {
      while (t.step < step) {
        t.trainStep();
      }
      return median(timeSteps(t, job.reps, job.steps));
    };
    const earlyMs = timeFrom(job.early);
    const lateMs = timeFrom(job.late);
    let [subnormal, slots] = [0, 0];
    for (const [name, { data }] of Object.entries(t.snapshot().tensors)) {
      // the optimizer's slots: `<param>/m`, `<param>/v`, `<param>/momentum` (../engine/optimizers.ts)
      if (/\/(m|v|momentum)$/.test(name)) {
        slots += data.length;
        for (const x of data) {
          subnormal += x !== 0 && Math.abs(x) < 2 ** -126 ? 1 : 0;
        }
      }
    }
    return { earlyMs, lateMs, subnormal, slots };
  } finally {
    t.dispose();
  }
}

async function checkpoint(job: CheckpointJob): Promise<CheckpointResult> {
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-bench-'));
  const t = await Trainer.create(benchConfig('wasm', 'mlp', 'sgd'));
  try {
    const store = await Store.open(dir);
    const save: number[] = [];
    const read: number[] = [];
    let parent: string | null = null;
    let bytes = 0;
    for (let i = 0; i < 10; i++) {
      t.trainStep();
    }
    const at10 = t.snapshot();
    for (let r = 0; r < job.reps; r++) {
      t.trainStep();
      const t0 = performance.now();
      const enc = encodeState(t.snapshot());
      const { id } = await store.putCheckpoint(enc, { parent, step: enc.manifest.step });
      save.push(performance.now() - t0);
      bytes = enc.blobBytes.length + enc.manifestBytes.length;
      parent = id;
      const t1 = performance.now();
      await store.readState(id);
      read.push(performance.now() - t1);
    }
    // resume: Trainer.restore + the first step, at step 10 and at a far step (same tensors)
    const far = { ...at10, step: FAR_STEP, cursor: FAR_STEP * at10.config.batchSize };
    const resume = async (state: typeof at10): Promise<number> => {
      const t0 = performance.now();
      const r = await Trainer.restore(state);
      r.trainStep();
      const ms = performance.now() - t0;
      r.dispose();
      return ms;
    };
    const near: number[] = [];
    const distant: number[] = [];
    for (let r = 0; r < job.reps; r++) {
      near.push(await resume(at10));
      distant.push(await resume(far));
    }
    return {
      saveMs: median(save),
      readMs: median(read),
      bytes,
      resumeStep10Ms: median(near),
      resumeFarMs: median(distant),
      farStep: FAR_STEP,
      peakRssMB: peakRssMB(),
    };
  } finally {
    t.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Times the packed dense GEMM (gemmP, the tile of the convolutions and dense layers) on its own
 * memory, one thread, after a warm-up, and its native twin (../engine/kernels/native.ts) on
 * the same operands where it runs, after checking that both give the same bits; A and B hold
 * seeded values in [−0.5, 0.5).
 */
function gemmRate(job: GemmJob): GemmResult {
  const [m, n, k] = job.shape;
  const bytes = 4 * (m * k + k * n + 2 * m * n) + PANEL_BYTES + 1024;
  const memory = new WA.Memory({ initial: Math.ceil(bytes / 65536) + 1 });
  const kernels = instantiateKernels(memory);
  const [a, b] = [1024, 1024 + 4 * m * k];
  const [c, panel] = [b + 4 * k * n, b + 4 * k * n + 4 * m * n];
  const c2 = panel + PANEL_BYTES;
  const f = new Float32Array(memory.buffer);
  const rng = stream(0, 'bench/gemm');
  for (let i = 0; i < m * k + k * n; i++) {
    f[a / 4 + i] = rng.uniform() - 0.5;
  }
  const time = (run: () => void): GemmRate => {
    for (let i = 0; i < 3; i++) {
      run();
    }
    const rates: number[] = [];
    for (let r = 0; r < job.reps; r++) {
      const t0 = performance.now();
      run();
      rates.push((m * n * k) / (performance.now() - t0) / 1e6);
    }
    return { best: Math.max(...rates), median: median(rates) };
  };
  const wasm = time(() => kernels.gemmP(a, 4 * k, 4, b, 4 * n, c, 4 * n, m, n, k, 0, 0, 1, panel));
  const native = nativeKernels();
  const detail = nativeStatus().detail;
  if (native === null) {
    return { ...wasm, native: null, detail };
  }
  const twin = time(() => native.gemm(memory.buffer, a, 4 * k, 4, b, 4 * n, c2, 4 * n, m, n, k, 0, 0)); // prettier-ignore
  const [x, y] = [
    new Uint32Array(memory.buffer, c, m * n),
    new Uint32Array(memory.buffer, c2, m * n),
  ];
  if (x.some((v, i) => v !== y[i])) {
    throw new Error('the native GEMM differs from the wasm GEMM: the native kernels are broken');
  }
  return { ...wasm, native: { ...twin, isa: native.isa }, detail };
}

export async function runJob(
  job: BenchJob,
): Promise<TrainResult | CheckpointResult | GemmResult | DecayResult> {
  switch (job.kind) {
    case 'train':
      return train(job);
    case 'gemm':
      return gemmRate(job);
    case 'decay':
      return decay(job);
    default:
      return checkpoint(job);
  }
}

if (startedAs('bench-worker')) {
  const job = JSON.parse(process.argv[2] ?? '{}') as BenchJob;
  runJob(job).then(
    (r) => process.stdout.write(JSON.stringify(r) + '\n'),
    (e: unknown) => {
      process.stderr.write(`bench worker: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 2;
    },
  );
}
