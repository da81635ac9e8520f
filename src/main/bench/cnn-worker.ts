/**
 * One CNN bench measurement in a fresh process (spawned by ./cnn.ts):
 *   node --import tsx src/main/bench/cnn-worker.ts '{"model":"lenet5","batchSize":64,…}'
 * lenet5 trains on MNIST; resnet20 on CIFAR-10-shaped generated batches written to a temporary
 * folder (timing only: the arithmetic is that of real data, as in the peer). Prints one JSON
 * line: the median ms/step over the repetitions after the warm-up, and the peak RSS.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CIFAR_RECORD } from '../engine/image-datasets';
import { stream } from '../engine/rng';
import { Trainer } from '../engine/trainer';
import type { TrainingConfig } from '../engine/types';
import { startedAs } from '../entry-points';
import { alternateThreads, type Alternating } from './alternate';
import { median, timeSteps } from './worker';

export interface CnnJob {
  model: 'lenet5' | 'resnet20';
  batchSize: number;
  warmup: number;
  reps: number;
  steps: number;
  /** with N: each repetition is a pair, one thread then N (./alternate.ts) */
  alternate?: number;
}

export interface CnnResult {
  msPerStep: number;
  repsMs: number[];
  peakRssMB: number;
  /** with `alternate`: each pair's ms/step on one thread and on N (repsMs: the N threads') */
  alternating?: Alternating;
}

/** CIFAR-10 binary batches of random records (seeded), `perFile` records each. */
function syntheticCifar(perFile: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-bench-cifar-'));
  const rng = stream(0, 'bench/cifar');
  for (const f of [
    'data_batch_1',
    'data_batch_2',
    'data_batch_3',
    'data_batch_4',
    'data_batch_5',
    'test_batch',
  ]) {
    const bytes = new Uint8Array(perFile * CIFAR_RECORD);
    for (let r = 0; r < perFile; r++) {
      bytes[r * CIFAR_RECORD] = rng.int(10);
      for (let i = 1; i < CIFAR_RECORD; i++) {
        bytes[r * CIFAR_RECORD + i] = rng.int(256);
      }
    }
    writeFileSync(join(dir, `${f}.bin`), bytes);
  }
  return dir;
}

export async function runCnnJob(job: CnnJob): Promise<CnnResult> {
  let dir: string | null = null;
  if (job.model === 'resnet20') {
    dir = syntheticCifar(Math.ceil((job.batchSize * 2) / 0.9 / 5));
    process.env.LOCKSTEP_CIFAR10_DIR = dir;
  }
  const config: TrainingConfig = {
    dataset: job.model === 'lenet5' ? 'mnist' : 'cifar10',
    model: { kind: job.model, hidden: [] },
    optimizer:
      job.model === 'lenet5'
        ? { kind: 'sgd', lr: 0.01 }
        : { kind: 'momentum', lr: 0.01, momentum: 0.9 },
    batchSize: job.batchSize,
    seed: 0,
    backend: 'wasm',
  };
  const t = await Trainer.create(config);
  try {
    for (let i = 0; i < job.warmup; i++) {
      t.trainStep();
    }
    if (job.alternate !== undefined) {
      const alternating = await alternateThreads(t, job.alternate, job.reps, job.steps);
      const repsMs = alternating.many;
      return { msPerStep: median(repsMs), repsMs, peakRssMB: process.resourceUsage().maxRSS / 1024, alternating }; // prettier-ignore
    }
    const repsMs = timeSteps(t, job.reps, job.steps);
    return { msPerStep: median(repsMs), repsMs, peakRssMB: process.resourceUsage().maxRSS / 1024 };
  } finally {
    t.dispose();
    if (dir) {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

if (startedAs('cnn-worker')) {
  runCnnJob(JSON.parse(process.argv[2] ?? '{}') as CnnJob).then(
    (r) => process.stdout.write(JSON.stringify(r) + '\n'),
    (e: unknown) => {
      process.stderr.write(`cnn bench worker: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 2;
    },
  );
}
