/**
 * Our own ARC4 generator, producing exactly the streams of seedrandom 3.0.5's default generator
 * (`seedrandom(seedString)`), which is what every stored run was trained with (RNG_SCHEME
 * 'seedrandom-arc4/lockstep-v1' in ./rng.ts). Owning it keeps the bits of every run in this
 * repository, independent of a package, and lets the hot path (the fake dataset's ~2 M draws)
 * run on a typed array without seedrandom's per-byte property traffic.
 *
 * The construction, step by step as seedrandom does it (tests/engine/arc4.test.ts checks each
 * method against seedrandom on many seeds, long sequences and interleavings):
 * - key: seedrandom's `mixkey(seed)`: for each UTF-16 code unit c at index j of the seed string,
 *   `smear ^= key[j & 255] * 19` (an absent key byte counts as 0), then
 *   `key[j & 255] = (smear + c) & 255`; the key has min(length, 256) bytes (an empty seed gives
 *   the one-byte key [0]).
 * - ARC4 key schedule over S = 0..255 with that key, then 256 output bytes dropped.
 * - `int32()`: 4 bytes, big-endian, as a signed 32-bit integer; `uint32()` is the same bits
 *   unsigned.
 * - `double()`: 6 bytes as a 48-bit numerator n over 2^48, then seedrandom's float steps
 *   verbatim: while n < 2^52, `n = (n + x) * 256; d *= 256; x = next byte`; while n ≥ 2^53,
 *   `n /= 2; d /= 2; x >>>= 1`; result `(n + x) / d` — the same IEEE operations in the same
 *   order, hence the same bits (53 random bits in [0, 1)).
 * Only integer and exact float arithmetic: no Math.random, no platform dependence.
 */

/** The generator's methods (seedrandom's names). */
export interface Arc4 {
  /** uniform float64 in [0, 1) (seedrandom's `double()` / `prng()`) */
  double(): number;
  /** 32 random bits as a signed integer (seedrandom's `int32()`) */
  int32(): number;
  /** the same 32 bits as `int32()`, unsigned */
  uint32(): number;
  /** one raw output byte, 0–255 (seedrandom's `arc4.g(1)`) */
  byte(): number;
}

const WIDTH = 256;
const MASK = 255;
const START_DENOM = 2 ** 48; // 256^6: the six bytes every double starts from
const SIGNIFICANCE = 2 ** 52;
const OVERFLOW = 2 ** 53;

/** seedrandom's `mixkey`: the key bytes of a seed string. */
export function mixKey(seed: string): number[] {
  const key: number[] = [];
  let smear = 0;
  for (let j = 0; j < seed.length; j++) {
    smear ^= (key[MASK & j] ?? 0) * 19;
    key[MASK & j] = MASK & (smear + seed.charCodeAt(j));
  }
  return key.length > 0 ? key : [0];
}

/** The ARC4 generator seeded with the string `seed`, exactly as seedrandom(seed) would be. */
export function arc4(seed: string): Arc4 {
  const key = mixKey(seed);
  const s = new Uint8Array(WIDTH);
  for (let k = 0; k < WIDTH; k++) {
    s[k] = k;
  }
  let j = 0;
  for (let k = 0; k < WIDTH; k++) {
    const t = s[k];
    j = MASK & (j + key[k % key.length] + t);
    s[k] = s[j];
    s[j] = t;
  }
  let i = 0;
  j = 0;
  const byte = (): number => {
    i = (i + 1) & MASK;
    const t = s[i];
    j = (j + t) & MASK;
    const u = s[j];
    s[i] = u;
    s[j] = t;
    return s[(u + t) & MASK];
  };
  for (let k = 0; k < WIDTH; k++) {
    byte(); // seedrandom drops the first 256 bytes
  }
  const uint32 = (): number => {
    const b0 = byte();
    const b1 = byte();
    const b2 = byte();
    const b3 = byte();
    return b0 * 0x1000000 + ((b1 << 16) | (b2 << 8) | b3);
  };
  return {
    byte,
    uint32,
    int32: () => uint32() | 0,
    double(): number {
      // n = the first six bytes, big-endian (exact: below 2^48)
      let n = byte();
      for (let k = 1; k < 6; k++) {
        n = n * WIDTH + byte();
      }
      let d = START_DENOM;
      let x = 0;
      while (n < SIGNIFICANCE) {
        n = (n + x) * WIDTH;
        d *= WIDTH;
        x = byte();
      }
      while (n >= OVERFLOW) {
        n /= 2;
        d /= 2;
        x >>>= 1;
      }
      return (n + x) / d;
    },
  };
}
