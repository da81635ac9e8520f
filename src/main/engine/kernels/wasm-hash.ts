/**
 * XXH64 (seed 0) in our kernel module, so that the trace's per-step state digest
 * (../trace.ts) reads the parameters where they lie in the wasm backend's heap instead of
 * copying every float into a hasher's own memory first. The algorithm is XXH64 as specified
 * (github.com/Cyan4973/xxHash, doc/xxhash_spec.md), streaming: any split of the input into
 * updates gives the digest of the whole, the same as hash-wasm's createXXHash64 (tested).
 *
 * - xxh64Init(state): starts a digest in the XXH64_STATE_BYTES (96) bytes at `state` (8-byte
 *   aligned; ./heap-hash.ts).
 * - xxh64Update(state, ptr, len): adds the `len` bytes at `ptr`.
 * - xxh64Digest(state): the digest of everything added, as a little-endian u64 at state + 80.
 *
 * State: the four lanes at 0, 8, 16, 24; the total length at 32; the count of buffered bytes at
 * 40 (an i32); up to 31 buffered bytes at 48; the digest at 80.
 */
import { XXH64_DIGEST_AT } from './heap-hash';
import { FnBuilder } from './wasm-asm';

const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;

const LANES = 0;
const TOTAL = 32;
const BUFFERED = 40;
const BUFFER = 48;

/** acc (local) = rotl(acc + input·P2, 31)·P1 with the input (i64) on the stack. */
function round(f: FnBuilder, acc: number): void {
  f.i64(P2).i64Mul().get(acc).i64Add().i64(31n).i64Rotl().i64(P1).i64Mul().set(acc);
}

/** Copies `len` (local, ≤ 31) bytes from `src` to `dst` (locals), one at a time. */
function copyBytes(f: FnBuilder, dst: number, src: number, len: number, i: number): void {
  f.forRange(i, len, () => {
    f.get(dst).get(i).i32Add();
    f.get(src).get(i).i32Add().i32LoadU8();
    f.i32Store8();
  });
}

function init(): FnBuilder {
  const f = new FnBuilder('xxh64Init', ['i32']);
  const seeds = [P1 + P2, P2, 0n, -P1];
  seeds.forEach((v, l) => {
    f.get(0).i64(v).i64Store(LANES + 8 * l); // prettier-ignore
  });
  f.get(0).i64(0n).i64Store(TOTAL);
  f.get(0).i32(0).i32Store(BUFFERED);
  return f;
}

function update(): FnBuilder {
  const P = { state: 0, ptr: 1, len: 2 };
  const f = new FnBuilder('xxh64Update', ['i32', 'i32', 'i32']);
  const v = [f.local('i64'), f.local('i64'), f.local('i64'), f.local('i64')];
  const [buffered, fill, dst, i, stripe] = Array.from({ length: 5 }, () => f.local('i32'));
  f.get(P.state).get(P.state).i64Load(TOTAL).get(P.len).i64ExtendI32U().i64Add().i64Store(TOTAL);
  f.get(P.state).i32Load(BUFFERED).set(buffered);
  f.get(P.state).i32(BUFFER).i32Add().get(buffered).i32Add().set(dst);
  // less than a stripe in all: buffer it
  f.get(buffered).get(P.len).i32Add().i32(32).i32LtS().if();
  copyBytes(f, dst, P.ptr, P.len, i);
  f.get(P.state).get(buffered).get(P.len).i32Add().i32Store(BUFFERED);
  f.return();
  f.end();
  v.forEach((lane, l) => {
    f.get(P.state).i64Load(LANES + 8 * l).set(lane); // prettier-ignore
  });
  /** the four rounds of the stripe at local `at` */
  const stripeRounds = (at: number): void => {
    v.forEach((lane, l) => {
      f.get(at).i64Load(8 * l);
      round(f, lane);
    });
  };
  // complete the buffered stripe
  f.get(buffered).if();
  f.i32(32).get(buffered).i32Sub().set(fill);
  copyBytes(f, dst, P.ptr, fill, i);
  f.get(P.state).i32(BUFFER).i32Add().set(stripe);
  stripeRounds(stripe);
  f.get(P.ptr).get(fill).i32Add().set(P.ptr);
  f.get(P.len).get(fill).i32Sub().set(P.len);
  f.end();
  // whole stripes in place
  f.block().loop();
  f.get(P.len).i32(32).i32LtS().brIf(1);
  stripeRounds(P.ptr);
  f.inc(P.ptr, 32);
  f.get(P.len).i32(32).i32Sub().set(P.len);
  f.br(0);
  f.end().end();
  v.forEach((lane, l) => {
    f.get(P.state).get(lane).i64Store(LANES + 8 * l); // prettier-ignore
  });
  // the rest (< 32 bytes) waits in the buffer
  f.get(P.state).i32(BUFFER).i32Add().set(dst);
  copyBytes(f, dst, P.ptr, P.len, i);
  f.get(P.state).get(P.len).i32Store(BUFFERED);
  return f;
}

function digest(): FnBuilder {
  const f = new FnBuilder('xxh64Digest', ['i32']);
  const S = 0;
  const [h, k] = [f.local('i64'), f.local('i64')];
  const [p, end] = [f.local('i32'), f.local('i32')];
  const lane = (l: number): void => {
    f.get(S).i64Load(LANES + 8 * l);
  };
  f.get(S).i64Load(TOTAL).i64(32n).i64GeU().if();
  [1n, 7n, 12n, 18n].forEach((r, l) => {
    lane(l);
    f.i64(r).i64Rotl();
    if (l > 0) {
      f.i64Add();
    }
  });
  f.set(h);
  for (let l = 0; l < 4; l++) {
    // h = (h ^ round(0, lane))·P1 + P4
    f.i64(0n).set(k);
    lane(l);
    round(f, k);
    f.get(h).get(k).i64Xor().i64(P1).i64Mul().i64(P4).i64Add().set(h);
  }
  f.else();
  lane(2);
  f.i64(P5).i64Add().set(h);
  f.end();
  f.get(h).get(S).i64Load(TOTAL).i64Add().set(h);
  f.get(S).i32(BUFFER).i32Add().tee(p).get(S).i32Load(BUFFERED).i32Add().set(end);
  // 8 bytes at a time
  f.block().loop();
  f.get(p).i32(8).i32Add().get(end).i32GtS().brIf(1);
  f.i64(0n).set(k);
  f.get(p).i64Load();
  round(f, k);
  f.get(h).get(k).i64Xor().i64(27n).i64Rotl().i64(P1).i64Mul().i64(P4).i64Add().set(h);
  f.inc(p, 8).br(0);
  f.end().end();
  // then 4
  f.get(p).i32(4).i32Add().get(end).i32GtS().i32Eqz().if();
  f.get(h).get(p).i64Load32U().i64(P1).i64Mul().i64Xor();
  f.i64(23n).i64Rotl().i64(P2).i64Mul().i64(P3).i64Add().set(h);
  f.inc(p, 4);
  f.end();
  // then 1
  f.block().loop();
  f.get(p).get(end).i32GeS().brIf(1);
  f.get(h).get(p).i64Load8U().i64(P5).i64Mul().i64Xor();
  f.i64(11n).i64Rotl().i64(P1).i64Mul().set(h);
  f.inc(p, 1).br(0);
  f.end().end();
  // avalanche
  const xorShift = (s: bigint): void => {
    f.get(h).get(h).i64(s).i64ShrU().i64Xor().set(h);
  };
  xorShift(33n);
  f.get(h).i64(P2).i64Mul().set(h);
  xorShift(29n);
  f.get(h).i64(P3).i64Mul().set(h);
  xorShift(32n);
  f.get(S).get(h).i64Store(XXH64_DIGEST_AT);
  return f;
}

/** The three XXH64 functions for the kernel module. */
export function hashFunctions(): FnBuilder[] {
  return [init(), update(), digest()];
}
