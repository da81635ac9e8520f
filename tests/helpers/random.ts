/**
 * Seeded test data for the kernel tests, defined once (tests only; training's own random streams
 * are src/main/engine/rng.ts).
 *
 * - {@link lcg}: numbers in [0, 1) from a linear congruential generator.
 * - {@link finiteB}: floats a sparse GEMM takes as B — finite, some subnormal, some 0.
 */

/** A seeded LCG in [0, 1). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
}

/** `len` finite floats: 5 % tiny negatives (subnormal included), 5 % zeros, the rest in [−2, 2). */
export function finiteB(len: number, rnd: () => number): Float32Array {
  return Float32Array.from({ length: len }, () => {
    const u = rnd();
    return u < 0.05 ? -1e-38 * rnd() : u < 0.1 ? 0 : (rnd() - 0.5) * 4;
  });
}
