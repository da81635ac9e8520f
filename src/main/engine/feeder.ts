/**
 * The seekable batch feeder (DESIGN.md "Data").
 *
 * Epoch e is a Fisher–Yates permutation of [0, N) drawn from the stream `shuffle/<e>`. The
 * cursor counts examples consumed; the example at position p is perm_{⌊p/N⌋}[p mod N]. A batch
 * is the next batchSize positions, so it crosses into the next epoch at the end of one (like
 * TensorFlow's next_batch). Any position is computed directly from the cursor: restoring at step
 * 1,000,000 draws exactly the permutations it needs, never the stream before it (I6). The feeder
 * keeps the two most recent permutations; `permutationsDrawn` counts draws for tests.
 */
import { stream } from './rng';

export class BatchFeeder {
  private readonly perms = new Map<number, Uint32Array>();
  /** how many epoch permutations this feeder has computed (for the O(1)-resume test) */
  permutationsDrawn = 0;

  constructor(
    readonly seed: number,
    readonly size: number,
  ) {
    if (!Number.isInteger(size) || size <= 0) {
      throw new RangeError(`dataset size must be a positive integer, got ${size}`);
    }
  }

  /** The permutation of epoch e (cached: the current and the previous epoch). */
  permutation(epoch: number): Uint32Array {
    let p = this.perms.get(epoch);
    if (!p) {
      p = shuffle(this.seed, epoch, this.size);
      this.permutationsDrawn++;
      this.perms.set(epoch, p);
      for (const k of this.perms.keys()) {
        if (k < epoch - 1 || k > epoch + 1) {
          this.perms.delete(k);
        }
      }
    }
    return p;
  }

  /** Example indices of the batch starting at `cursor`. */
  batchAt<T extends Uint32Array>(cursor: number, batchSize: number, out?: T): T {
    const dst = (out ?? new Uint32Array(batchSize)) as T;
    if (!Number.isSafeInteger(cursor) || cursor < 0) {
      throw new RangeError(`cursor must be a non-negative integer, got ${cursor}`);
    }
    for (let i = 0; i < batchSize; i++) {
      const pos = cursor + i;
      const epoch = Math.floor(pos / this.size);
      dst[i] = this.permutation(epoch)[pos - epoch * this.size];
    }
    return dst;
  }
}

/** Fisher–Yates (Durstenfeld) permutation of [0, n) from the stream `shuffle/<epoch>`. */
export function shuffle(seed: number, epoch: number, n: number): Uint32Array {
  const rng = stream(seed, `shuffle/${epoch}`);
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    p[i] = i;
  }
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}
