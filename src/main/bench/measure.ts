/**
 * Measurements for the bench (./trace-verify.ts) and the note:
 * - trace overhead: per step, the time of the state and batch digests as a percentage of the
 *   time of the update itself, for the default MLP (MNIST, 128,32, batch 100, wasm) with sgd
 *   (parameters only) and adam (parameters and two slots each); medians of repetitions after a
 *   warm-up, digest and step timed on the same steps;
 * - verify speed: a training job (checkpoints every 100 steps, evaluation only at the end) into a
 *   temporary store, then verifyRef on it; the ratio of replayed steps per second to trained
 *   steps per second (≥ 1: verifying is at least as fast as training was).
 * Runnable by itself: `node --import tsx src/main/bench/measure.ts [--quick]` prints the JSON.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createDigester } from '../engine/trace';
import { Trainer } from '../engine/trainer';
import type { OptimizerKind, TrainingConfig } from '../engine/types';
import { Store } from '../store/store';
import { startRun } from '../service/train';
import { verifyRef } from '../service/verify';

export interface TraceOverhead {
  optimizer: OptimizerKind;
  stepMs: number;
  digestMs: number;
  percent: number;
  floats: number;
}

export interface VerifySpeed {
  steps: number;
  trainMsPerStep: number;
  verifyMsPerStep: number;
  /** trained ms/step ÷ verified ms/step */
  ratio: number;
}

export interface TraceVerifyMeasurement {
  trace: TraceOverhead[];
  verify: VerifySpeed;
}

export function defaultMlp(optimizer: OptimizerKind): TrainingConfig {
  return {
    dataset: 'mnist',
    model: { kind: 'mlp', hidden: [128, 32] },
    optimizer: { kind: optimizer, lr: optimizer === 'adam' ? 0.001 : 0.01 },
    batchSize: 100,
    seed: 1,
    backend: 'wasm',
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

export async function measureTraceOverhead(
  optimizer: OptimizerKind,
  quick = false,
): Promise<TraceOverhead> {
  const t = await Trainer.create(defaultMlp(optimizer));
  const d = await createDigester();
  try {
    const [warmup, reps, steps] = quick ? [200, 3, 100] : [500, 7, 200];
    for (let i = 0; i < warmup; i++) {
      const r = t.trainStep();
      d.batch(r.indices);
      d.state(t.readTensors());
    }
    const stepReps: number[] = [];
    const digestReps: number[] = [];
    for (let k = 0; k < reps; k++) {
      let step = 0;
      let digest = 0;
      for (let i = 0; i < steps; i++) {
        const a = performance.now();
        const r = t.trainStep();
        const b = performance.now();
        d.batch(r.indices);
        d.state(t.readTensors());
        digest += performance.now() - b;
        step += b - a;
      }
      stepReps.push(step / steps);
      digestReps.push(digest / steps);
    }
    const stepMs = median(stepReps);
    const digestMs = median(digestReps);
    const floats = t.readTensors().reduce((n, [, x]) => n + x.length, 0);
    return { optimizer, stepMs, digestMs, percent: (100 * digestMs) / stepMs, floats };
  } finally {
    t.dispose();
  }
}

export async function measureVerifySpeed(quick = false): Promise<VerifySpeed> {
  const dir = await mkdtemp(join(tmpdir(), 'lockstep-measure-'));
  try {
    const store = await Store.open(dir);
    const steps = quick ? 300 : 1000;
    const job = await startRun(store, {
      config: defaultMlp('sgd'),
      steps,
      checkpointEvery: 100,
      evalEvery: 10 * steps,
    });
    const v = await verifyRef(store, job.checkpoint);
    if (!v.verified) {
      throw new Error(`measure: verify failed: ${v.firstMismatch?.detail}`);
    }
    const verifyMsPerStep = v.msPerStep ?? 0;
    return {
      steps,
      trainMsPerStep: job.msPerStep,
      verifyMsPerStep,
      ratio: job.msPerStep / verifyMsPerStep,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function measureTraceAndVerify(quick = false): Promise<TraceVerifyMeasurement> {
  const trace = [
    await measureTraceOverhead('sgd', quick),
    await measureTraceOverhead('adam', quick),
  ];
  return { trace, verify: await measureVerifySpeed(quick) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await measureTraceAndVerify(process.argv.includes('--quick'));
  process.stdout.write(JSON.stringify(r) + '\n');
}
