/**
 * Seeded augmentation of a training batch (TrainingConfig.augment): for step s, one stream
 * `augment/<s>` draws, example by example in batch order, a crop offset (dy, dx) in
 * [0, 2·crop] each (when crop > 0) and then a flip bit (when flip). The example is zero-padded by
 * `crop` pixels on every side, cropped back to h × w at (dy, dx), and mirrored left–right when
 * the bit is set. The draws depend only on (seed, step), so a resumed run augments exactly as an
 * uninterrupted one, at no cost (I6). Pixels become float32 x/255 as everywhere else.
 */
import { PIXEL_TO_FLOAT } from './data';
import { stream } from './rng';
import { InputError, type AugmentConfig } from './types';

export const MAX_AUGMENT_CROP = 16;

/** Checks an augmentation config; returns it normalized (or undefined for none). */
export function normalizeAugment(a: AugmentConfig | undefined): AugmentConfig | undefined {
  if (a === undefined) {
    return undefined;
  }
  if (!Number.isInteger(a.crop) || a.crop < 0 || a.crop > MAX_AUGMENT_CROP) {
    throw new InputError(`augment crop padding must be an integer from 0 to ${MAX_AUGMENT_CROP}, got ${a.crop}`); // prettier-ignore
  }
  if (typeof a.flip !== 'boolean') {
    throw new InputError('augment flip must be true or false');
  }
  return { crop: a.crop, flip: a.flip };
}

/**
 * Parses the CLI's --augment value: a comma list of `crop:P` (or `crop`, P = 4) and `flip`,
 * or `none`.
 */
export function parseAugment(text: string): AugmentConfig | undefined {
  if (text === 'none') {
    return undefined;
  }
  const out: AugmentConfig = { crop: 0, flip: false };
  for (const part of text.split(',').map((s) => s.trim())) {
    const m = /^crop(?::(\d+))?$/.exec(part);
    if (m) {
      out.crop = Number(m[1] ?? 4);
    } else if (part === 'flip') {
      out.flip = true;
    } else {
      throw new InputError(`--augment: unknown item '${part}' (expected crop[:P], flip or none)`);
    }
  }
  return normalizeAugment(out);
}

/** Writes the augmented float32 batch of examples `indices` into `out` (n·h·w·c values). */
export function augmentBatch(
  pixels: Uint8Array,
  indices: ArrayLike<number>,
  shape: [number, number, number],
  aug: AugmentConfig,
  seed: number,
  step: number,
  out: Float32Array,
): Float32Array {
  const [h, w, c] = shape;
  const size = h * w * c;
  const rng = stream(seed, `augment/${step}`);
  const span = 2 * aug.crop + 1;
  for (let b = 0; b < indices.length; b++) {
    const dy = aug.crop > 0 ? rng.int(span) - aug.crop : 0;
    const dx = aug.crop > 0 ? rng.int(span) - aug.crop : 0;
    const flip = aug.flip ? rng.uniform() < 0.5 : false;
    const src = indices[b] * size;
    const dst = b * size;
    for (let y = 0; y < h; y++) {
      const sy = y + dy;
      for (let x = 0; x < w; x++) {
        const sx = (flip ? w - 1 - x : x) + dx;
        const o = dst + (y * w + x) * c;
        if (sy < 0 || sy >= h || sx < 0 || sx >= w) {
          out.fill(0, o, o + c);
        } else {
          const i = src + (sy * w + sx) * c;
          for (let ch = 0; ch < c; ch++) {
            out[o + ch] = PIXEL_TO_FLOAT[pixels[i + ch]];
          }
        }
      }
    }
  }
  return out;
}
