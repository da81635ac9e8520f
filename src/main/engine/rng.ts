/**
 * Named random streams derived from one root seed (DESIGN.md "Randomness").
 *
 * `stream(root, name)` returns a fresh generator seeded by the string `lockstep/v1/<root>/<name>`
 * with seedrandom's ARC4 generator, as our own twin of it (./arc4.ts: the same bits as seedrandom
 * 3.0.5, which the tests keep as the oracle). Streams are stateless functions of (root, name): a stream
 * never needs to be saved, because each use names its own stream (`init/<tensor>`,
 * `shuffle/<epoch>`, …). That is what makes resuming O(1). Nothing here touches Math.random or a
 * global generator, so a run's draws cannot depend on what ran before it in the process (I3).
 * Seed 0 is a seed like any other.
 */
import { arc4 } from './arc4';

export const RNG_SCHEME = 'seedrandom-arc4/lockstep-v1';

export interface RandomStream {
  /** uniform float64 in [0, 1) with 53 random bits */
  uniform(): number;
  /** `out[k] = uniform()` for k in [from, to), in order (the same draws, for hot loops) */
  fillUniform(out: Float64Array, from: number, to: number): void;
  /** uniform 32-bit unsigned integer */
  uint32(): number;
  /** uniform integer in [0, n) without modulo bias */
  int(n: number): number;
}

/** Largest valid root seed (seeds are unsigned 32-bit integers). */
export const MAX_SEED = 0xffffffff;

export function isValidSeed(seed: number): boolean {
  return Number.isInteger(seed) && seed >= 0 && seed <= MAX_SEED;
}

/** The stream called `name` under the root seed. */
export function stream(root: number, name: string): RandomStream {
  if (!isValidSeed(root)) {
    throw new RangeError(`seed must be an integer in [0, ${MAX_SEED}], got ${root}`);
  }
  const prng = arc4(`lockstep/v1/${root}/${name}`);
  const uint32 = (): number => prng.uint32();
  return {
    uniform: () => prng.double(),
    fillUniform: (out, from, to) => prng.fill(out, from, to),
    uint32,
    int(n: number): number {
      if (!Number.isInteger(n) || n <= 0 || n > 0x100000000) {
        throw new RangeError(`int(n) needs 0 < n <= 2^32, got ${n}`);
      }
      // rejection sampling: accept only values below the largest multiple of n
      const limit = 0x100000000 - (0x100000000 % n);
      for (;;) {
        const v = uint32();
        if (v < limit) {
          return v % n;
        }
      }
    },
  };
}

/**
 * Fills `out` with draws from a normal distribution truncated to ±2 standard deviations
 * (TensorFlow's truncated_normal: resample values beyond 2σ), using the Marsaglia polar method.
 * Only +, *, sqrt and log are used (V8's Math.log is fdlibm, the same on every platform).
 */
export function truncatedNormal(
  rng: RandomStream,
  out: Float32Array,
  stddev: number,
): Float32Array {
  let spare: number | null = null;
  const next = (): number => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    for (;;) {
      const u = rng.uniform() * 2 - 1;
      const v = rng.uniform() * 2 - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const f = Math.sqrt((-2 * Math.log(s)) / s);
        spare = v * f;
        return u * f;
      }
    }
  };
  for (let i = 0; i < out.length; i++) {
    let z = next();
    while (z <= -2 || z >= 2) {
      z = next();
    }
    out[i] = z * stddev;
  }
  return out;
}

/** Draws a seed from the OS (for `--seed auto`): any integer in [0, 2^32 − 1]. */
export async function drawSeed(): Promise<number> {
  const { randomInt } = await import('node:crypto');
  // randomInt's upper bound is exclusive, and it accepts at most 2^48
  return randomInt(0, 2 ** 32);
}
