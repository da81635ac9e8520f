/**
 * A gan checkpoint's sample quality for the seed study: the mean, over its 64 samples (the fixed
 * noise `samples/<k>`), of the largest softmax probability a fixed classifier gives each sample
 * (an Inception-score-like confidence: near 1 when every sample looks like some class, near 0.1
 * for noise on 10 classes).
 *
 * The classifier is itself a Lockstep run with a fixed config: {@link classifierConfig} (mlp
 * 128,32, adam 0.001, batch 100, seed 0, {@link CLASSIFIER_STEPS} steps) on the gan's dataset and
 * backend. It is trained on demand, deterministically, the first time a store needs it and then
 * cached there content-addressed: its final state is stored as a parentless checkpoint kept by
 * the keep ref `gan-classifier/<first 16 hex of the SHA-256 of its canonical config>`, so gc
 * keeps it and every later study reads the same bits instead of training again.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../engine/canonical-json';
import { encodeState } from '../engine/state';
import { Trainer } from '../engine/trainer';
import type { BackendName, DatasetRef, TrainingConfig, TrainingState } from '../engine/types';
import type { Store } from '../store/store';

export const CLASSIFIER_STEPS = 1000;
export const QUALITY_SAMPLES = 64;
export const CLASSIFIER_KEEP_PREFIX = 'gan-classifier/';

/** The fixed classifier's config for a dataset and backend. */
export function classifierConfig(dataset: DatasetRef, backend: BackendName): TrainingConfig {
  return {
    dataset,
    model: { kind: 'mlp', hidden: [128, 32] },
    optimizer: { kind: 'adam', lr: 0.001 },
    batchSize: 100,
    seed: 0,
    backend,
  };
}

function keepName(config: TrainingConfig): string {
  const h = createHash('sha256').update(canonicalJson({ config, steps: CLASSIFIER_STEPS })).digest('hex'); // prettier-ignore
  return `${CLASSIFIER_KEEP_PREFIX}${h.slice(0, 16)}`;
}

/** The classifier's trained state: from the store's cache, else trained now and cached. */
export async function classifierState(
  store: Store,
  dataset: DatasetRef,
  backend: BackendName,
): Promise<TrainingState> {
  const config = classifierConfig(dataset, backend);
  const name = keepName(config);
  const kept = (await store.listKeeps()).get(name);
  if (kept !== undefined && kept.length === 1 && (await store.hasCheckpoint(kept[0]))) {
    return store.readState(kept[0]);
  }
  const t = await Trainer.create(config);
  try {
    for (let i = 0; i < CLASSIFIER_STEPS; i++) {
      t.trainStep();
    }
    const state = t.snapshot();
    const enc = encodeState(state);
    await store.putCheckpoint(enc, { parent: null, step: state.step });
    await store.setKeep(name, [enc.id]);
    return state;
  } finally {
    t.dispose();
  }
}

/** Mean max-softmax confidence of the classifier over the gan checkpoint's samples. */
export async function sampleQuality(store: Store, checkpoint: string): Promise<number> {
  const state = await store.readState(checkpoint);
  const gan = await Trainer.restore(state);
  let samples: Uint8Array;
  try {
    samples = gan.samples(QUALITY_SAMPLES);
  } finally {
    gan.dispose();
  }
  const cls = await Trainer.restore(
    await classifierState(store, state.config.dataset, state.config.backend),
  );
  try {
    const logits = cls.classify(samples, QUALITY_SAMPLES);
    const classes = logits.length / QUALITY_SAMPLES;
    let sum = 0;
    for (let i = 0; i < QUALITY_SAMPLES; i++) {
      const row = logits.subarray(i * classes, (i + 1) * classes);
      const max = Math.max(...row);
      let z = 0;
      for (const v of row) {
        z += Math.exp(v - max);
      }
      sum += 1 / z; // softmax of the largest logit
    }
    return sum / QUALITY_SAMPLES;
  } finally {
    cls.dispose();
  }
}
