/**
 * A GAN checkpoint's sample grid: the generator's images for the fixed sample noise `samples/<k>`
 * (k = 0 … count−1, under the run's root seed), so the same checkpoint always gives the same
 * picture, and two branches of one run are drawn from the same noise (side by side, only their
 * weights differ). Nothing is written to the store.
 *
 * - `sampleGrid(store, ref, count)`: the bytes [count, 784] (0–255; (tanh + 1) · 127.5, rounded)
 *   as the contract's {@link SampleGrid} (base64).
 * - `gridPng(grid, cols)`: the samples tiled row by row into a grey PNG (pngjs), a 2-pixel
 *   black border around and between the 28×28 tiles.
 */
import { PNG } from 'pngjs';
import { Trainer } from '../engine/trainer';
import { InputError } from '../engine/types';
import type { SampleGrid } from '../../shared/contract';
import type { Store } from '../store/store';

export const DEFAULT_SAMPLE_COUNT = 64;
export const MAX_SAMPLE_COUNT = 256;
const TILE = 28;
const GAP = 2;

export async function sampleGrid(
  store: Store,
  ref: string,
  count = DEFAULT_SAMPLE_COUNT,
): Promise<SampleGrid> {
  if (!Number.isInteger(count) || count < 1 || count > MAX_SAMPLE_COUNT) {
    throw new InputError(`sample count must be an integer from 1 to ${MAX_SAMPLE_COUNT}, got ${count}`); // prettier-ignore
  }
  const id = await store.resolveRef(ref);
  const state = await store.readState(id);
  if (state.config.model.kind !== 'gan') {
    throw new InputError(
      `checkpoint ${id.slice(0, 12)} is a ${state.config.model.kind} model: only a gan draws samples`,
    );
  }
  const trainer = await Trainer.restore(state);
  try {
    const bytes = trainer.samples(count);
    return {
      checkpoint: id,
      step: state.step,
      seed: state.config.seed,
      count,
      imageShape: [TILE, TILE, 1],
      pixels: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
    };
  } finally {
    trainer.dispose();
  }
}

/** The grid as PNG bytes: `cols` tiles per row (default: √count rounded up). */
export function gridPng(grid: SampleGrid, cols = Math.ceil(Math.sqrt(grid.count))): Buffer {
  const bytes = Buffer.from(grid.pixels, 'base64');
  const rows = Math.ceil(grid.count / cols);
  const width = GAP + cols * (TILE + GAP);
  const height = GAP + rows * (TILE + GAP);
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, bitDepth: 8 });
  png.data = Buffer.alloc(width * height);
  for (let k = 0; k < grid.count; k++) {
    const x0 = GAP + (k % cols) * (TILE + GAP);
    const y0 = GAP + Math.floor(k / cols) * (TILE + GAP);
    for (let y = 0; y < TILE; y++) {
      for (let x = 0; x < TILE; x++) {
        png.data[(y0 + y) * width + x0 + x] = bytes[k * TILE * TILE + y * TILE + x];
      }
    }
  }
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, bitDepth: 8 });
}
