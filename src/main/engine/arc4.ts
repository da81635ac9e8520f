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

/**
 * The ARC4 generator seeded with the string `seed`, exactly as seedrandom(seed) would be; its
 * methods are seedrandom's. A class, so every stream shares one optimized copy of each method.
 */
export class Arc4 {
  private readonly s = new Uint8Array(WIDTH);
  private i = 0;
  private j = 0;
  private readonly one = new Float64Array(1);

  constructor(seed: string) {
    const key = mixKey(seed);
    const s = this.s;
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
    for (let k = 0; k < WIDTH; k++) {
      this.byte(); // seedrandom drops the first 256 bytes
    }
  }

  /** One raw output byte, 0–255 (seedrandom's `arc4.g(1)`). */
  byte(): number {
    const s = this.s;
    const i = (this.i + 1) & MASK;
    const t = s[i];
    const j = (this.j + t) & MASK;
    const u = s[j];
    s[i] = u;
    s[j] = t;
    this.i = i;
    this.j = j;
    return s[(u + t) & MASK];
  }

  /** 32 random bits, unsigned: four bytes, big-endian. */
  uint32(): number {
    const b0 = this.byte();
    const b1 = this.byte();
    const b2 = this.byte();
    const b3 = this.byte();
    return b0 * 0x1000000 + ((b1 << 16) | (b2 << 8) | b3);
  }

  /** The same 32 bits as {@link uint32}, signed (seedrandom's `int32()`). */
  int32(): number {
    return this.uint32() | 0;
  }

  /** Uniform float64 in [0, 1) (seedrandom's `double()` / `prng()`): {@link fill} of one value. */
  double(): number {
    this.fill(this.one, 0, 1);
    return this.one[0];
  }

  /**
   * `out[k] = double()` for k in [from, to), in order: the same draws without a call each. The
   * double construction is written once, here; its loop keeps the generator's state in locals
   * (about 2× faster than a call per draw on the fake dataset's 2 M draws).
   */
  fill(out: Float64Array, from: number, to: number): void {
    const s = this.s;
    let i = this.i;
    let j = this.j;
    for (let o = from; o < to; o++) {
      // n = the first six bytes, big-endian (exact: below 2^48)
      let n = 0;
      for (let k = 0; k < 6; k++) {
        i = (i + 1) & MASK;
        const t = s[i];
        j = (j + t) & MASK;
        const u = s[j];
        s[i] = u;
        s[j] = t;
        n = n * WIDTH + s[(u + t) & MASK];
      }
      let d = START_DENOM;
      let x = 0;
      while (n < SIGNIFICANCE) {
        n = (n + x) * WIDTH;
        d *= WIDTH;
        i = (i + 1) & MASK;
        const t = s[i];
        j = (j + t) & MASK;
        const u = s[j];
        s[i] = u;
        s[j] = t;
        x = s[(u + t) & MASK];
      }
      while (n >= OVERFLOW) {
        n /= 2;
        d /= 2;
        x >>>= 1;
      }
      out[o] = (n + x) / d;
    }
    this.i = i;
    this.j = j;
  }
}

/** `new Arc4(seed)`. */
export function arc4(seed: string): Arc4 {
  return new Arc4(seed);
}
