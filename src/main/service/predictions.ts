/**
 * What a checkpoint's model predicts on the test split, for the UI's pictures: the confusion
 * matrix (rows = true label, columns = prediction) over every test example and a sample of test
 * images with label and prediction, misclassified ones first.
 *
 * Promises:
 * - The predictions are computed by the engine (the same forward pass and argmax as evaluation),
 *   on the checkpoint's own weights; nothing is written to the store.
 * - `correct / examples` equals the checkpoint's recorded test precision when it has one.
 * - Samples: every misclassified example in split order, then correct ones in split order, cut
 *   at `limit` (default {@link DEFAULT_SAMPLES}); pixels are the dataset's bytes (0–255, HWC as
 *   `imageShape` says), base64.
 */
import { NUM_CLASSES } from '../engine/data';
import { Trainer } from '../engine/trainer';
import type { PredictionSample, PredictionsReport } from '../../shared/contract';
import type { Store } from '../store/store';

export const DEFAULT_SAMPLES = 48;

export async function predictions(
  store: Store,
  ref: string,
  limit = DEFAULT_SAMPLES,
): Promise<PredictionsReport> {
  const id = await store.resolveRef(ref);
  const state = await store.readState(id);
  const trainer = await Trainer.restore(state);
  try {
    const predicted = trainer.predict('test');
    const split = trainer.split('test');
    const size = split.shape[0] * split.shape[1] * split.shape[2];
    const matrix = Array.from({ length: NUM_CLASSES }, () =>
      new Array<number>(NUM_CLASSES).fill(0),
    );
    let correct = 0;
    const wrong: number[] = [];
    const right: number[] = [];
    for (let i = 0; i < split.count; i++) {
      const label = split.labels[i];
      const p = predicted[i];
      matrix[label][p]++;
      if (label === p) {
        correct++;
        if (right.length < limit) {
          right.push(i);
        }
      } else if (wrong.length < limit) {
        wrong.push(i);
      }
    }
    const samples: PredictionSample[] = [...wrong, ...right].slice(0, limit).map((i) => ({
      index: i,
      label: split.labels[i],
      prediction: predicted[i],
      pixels: Buffer.from(split.pixels.buffer, split.pixels.byteOffset + i * size, size).toString(
        'base64',
      ),
    }));
    return {
      checkpoint: id,
      step: state.step,
      dataset: state.config.dataset,
      split: 'test',
      matrix,
      imageShape: split.shape,
      examples: split.count,
      correct,
      samples,
    };
  } finally {
    trainer.dispose();
  }
}
