/**
 * The seeded shuffle buffer (`--shuffle buffer:N`): tf.data's shuffle-and-repeat, as training
 * state.
 *
 * The input stream is the training split repeated in order: stream position q holds example
 * q mod count. The buffer starts with stream positions 0 … N−1. Draw k (k = 0, 1, …: the number of
 * examples emitted before it, which is the run's cursor) picks a slot j uniformly in [0, N) with
 * `int(N)` of the random stream `shuffle-buffer/<⌊k/256⌋>` (its (k mod 256)-th draw), emits the
 * example in slot j and refills slot j from stream position N + k. So the stream position is
 * N + cursor and the buffer's contents are the only other state: both are in every checkpoint
 * (the contents as the tensor {@link SHUFFLE_BUFFER_TENSOR}, example indices as float32, exact
 * below 2^24; the position through the cursor). Restoring costs O(N) plus at most 255 skipped
 * draws, whatever the step (I6). The draws do not depend on the batch size.
 */
import { stream, type RandomStream } from './rng';
import { InputError, type ShuffleConfig } from './types';

/** The state tensor holding the buffer's contents (example indices) in slot order. */
export const SHUFFLE_BUFFER_TENSOR = 'input/shuffle_buffer';
/** Draws per named stream. */
export const DRAWS_PER_STREAM = 256;
export const MAX_SHUFFLE_BUFFER = 1_000_000;
/** float32 holds every integer below this exactly */
const MAX_EXACT_INDEX = 2 ** 24;

/** Parses `epoch` (→ undefined: the default) or `buffer:N`. */
export function parseShuffle(text: string): ShuffleConfig | undefined {
  if (text === 'epoch') {
    return undefined;
  }
  const m = /^buffer:(\d{1,7})$/.exec(text);
  if (!m) {
    throw new InputError(`--shuffle must be 'epoch' or 'buffer:N', got '${text}'`);
  }
  return normalizeShuffle({ kind: 'buffer', size: Number(m[1]) });
}

/** Checks a shuffle config (undefined = per-epoch). */
export function normalizeShuffle(
  s: ShuffleConfig | undefined,
  trainCount?: number,
): ShuffleConfig | undefined {
  if (s === undefined) {
    return undefined;
  }
  if (
    s.kind !== 'buffer' ||
    !Number.isInteger(s.size) ||
    s.size < 1 ||
    s.size > MAX_SHUFFLE_BUFFER
  ) {
    throw new InputError(
      `a shuffle buffer holds 1 to ${MAX_SHUFFLE_BUFFER} examples, got ${JSON.stringify(s)}`,
    );
  }
  if (trainCount !== undefined && trainCount > MAX_EXACT_INDEX) {
    throw new InputError(`a shuffle buffer needs a training set below ${MAX_EXACT_INDEX} examples`);
  }
  return { kind: 'buffer', size: s.size };
}

/** The buffer's contents at cursor 0: stream positions 0 … size−1. */
export function initialBuffer(size: number, count: number): Float32Array {
  const b = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    b[i] = i % count;
  }
  return b;
}

export class ShuffleBuffer {
  private readonly slots: Uint32Array;
  private rng: RandomStream | null = null;
  /** the draw index the cached stream is at */
  private rngAt = -1;
  /** how many named streams this buffer has opened (for the O(1)-resume test) */
  streamsOpened = 0;

  /**
   * @param contents the buffer at `cursor` (example indices, from the state tensor)
   * @param cursor examples emitted so far
   */
  constructor(
    readonly seed: number,
    readonly count: number,
    contents: Float32Array,
    private cursor: number,
  ) {
    if (!Number.isSafeInteger(cursor) || cursor < 0) {
      throw new RangeError(`cursor must be a non-negative integer, got ${cursor}`);
    }
    this.slots = new Uint32Array(contents.length);
    for (let i = 0; i < contents.length; i++) {
      const v = contents[i];
      if (!Number.isInteger(v) || v < 0 || v >= count) {
        throw new InputError(`shuffle buffer slot ${i} holds ${v}, not an example index`);
      }
      this.slots[i] = v;
    }
  }

  get size(): number {
    return this.slots.length;
  }

  /** The position of the next emitted example (the run's cursor). */
  get position(): number {
    return this.cursor;
  }

  /** Emits the next n examples into `out` (advancing the buffer). */
  next<T extends Uint32Array>(n: number, out?: T): T {
    const dst = (out ?? new Uint32Array(n)) as T;
    const size = this.slots.length;
    for (let i = 0; i < n; i++) {
      const k = this.cursor;
      const j = this.draw(k).int(size);
      this.rngAt = k + 1;
      dst[i] = this.slots[j];
      this.slots[j] = (size + k) % this.count;
      this.cursor = k + 1;
    }
    return dst;
  }

  /** The stream positioned at draw k. */
  private draw(k: number): RandomStream {
    const block = Math.floor(k / DRAWS_PER_STREAM);
    if (this.rng === null || this.rngAt !== k || k % DRAWS_PER_STREAM === 0) {
      this.rng = stream(this.seed, `shuffle-buffer/${block}`);
      this.streamsOpened++;
      const size = this.slots.length;
      for (let s = block * DRAWS_PER_STREAM; s < k; s++) {
        this.rng.int(size);
      }
    }
    return this.rng;
  }

  /** The contents as the state tensor's data. */
  contents(): Float32Array {
    return Float32Array.from(this.slots);
  }
}
