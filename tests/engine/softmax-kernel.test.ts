/**
 * The wasm softmax cross-entropy (./src/main/engine/kernels/wasm-softmax.ts): its exp and log
 * against Math.exp and Math.log bit for bit (random inputs over their whole ranges, a sweep of
 * the float32 values the kernel's second exp sees, every branch's edge), and the kernel against
 * reference.ts's softmaxCrossEntropy bit for bit (NaN meets NaN). (Whole runs, which now use
 * the one on wasm and the other on cpu, keep their pinned stateHashes on both: golden.test.ts.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assemble } from '../../src/main/engine/kernels/wasm-asm';
import { WA } from '../../src/main/engine/kernels/wasm-module';
import { mathArrayFn } from '../../src/main/engine/kernels/wasm-softmax';
import * as ref from '../../src/main/engine/kernels/reference';
import { firstDifference, wasmSandbox } from '../helpers/wasm-sandbox';

/** A seeded xorshift in [0, 1): test data only. */
function uniform(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const CHUNK = 1 << 16;

/** Our exp and log over float64s in a memory of their own. */
function mathModule(): { run(which: 'exp' | 'log', xs: Float64Array): Float64Array } {
  const memory = new WA.Memory({ initial: 2 + (16 * CHUNK) / 65536 });
  const m = new WA.Instance(new WA.Module(assemble([mathArrayFn('exp'), mathArrayFn('log')])), {
    env: { memory },
  }).exports as Record<'exp' | 'log', (src: number, dst: number, n: number) => void>;
  return {
    run(which, xs) {
      const out = new Float64Array(xs.length);
      for (let i = 0; i < xs.length; i += CHUNK) {
        const n = Math.min(CHUNK, xs.length - i);
        new Float64Array(memory.buffer, 0, n).set(xs.subarray(i, i + n));
        m[which](0, 8 * CHUNK, n);
        out.set(new Float64Array(memory.buffer, 8 * CHUNK, n), i);
      }
      return out;
    },
  };
}

/** The first input whose result differs from `fn`'s in its bits (a NaN meets any NaN), or null. */
function firstMismatch(
  xs: Float64Array,
  got: Float64Array,
  fn: (x: number) => number,
): string | null {
  const g = new BigUint64Array(got.buffer);
  const want = new Float64Array(1);
  const w = new BigUint64Array(want.buffer);
  for (let i = 0; i < xs.length; i++) {
    want[0] = fn(xs[i]);
    if (Number.isNaN(want[0]) ? !Number.isNaN(got[i]) : g[i] !== w[0]) {
      return `${fn.name}(${xs[i]}) = ${want[0]}, ours ${got[i]}`;
    }
  }
  return null;
}

/** Inputs at and around every constant a branch of fdlibm's exp or log compares with. */
function edges(): number[] {
  const out: number[] = [];
  /** the double of these high and low words */
  const fromWords = (hi: number, lo: number): number =>
    new Float64Array(Int32Array.of(lo, hi).buffer)[0];
  /** x and its neighbours within 3 steps of its low word, both signs */
  const around = (x: number): void => {
    const [lo, hi] = new Int32Array(Float64Array.of(x).buffer);
    for (let d = -3; d <= 3; d++) {
      const y = fromWords(hi, lo + d);
      out.push(y, -y);
    }
  };
  const fromHigh = (hi: number): number => fromWords(hi, 0);
  // exp: |x| ≥ 709.78, the overflow and underflow thresholds, 0.5·ln2, 1.5·ln2, 2^−28, k = 1024
  for (const hi of [0x40862e42, 0x3fd62e42, 0x3ff0a2b2, 0x3e300000, 0x00100000, 0x7ff00000]) {
    around(fromHigh(hi));
  }
  around(7.09782712893383973096e2);
  around(-7.4513321910194110842e2);
  around(1024 * Math.LN2);
  around(-1021 * Math.LN2);
  around(1);
  around(Math.LN2);
  // log: near 1 (|f| < 2^−20), the polynomial's switch points, subnormals, the extremes
  for (const x of [
    1,
    2,
    0.5,
    Math.SQRT2,
    Math.SQRT1_2,
    1 + 2 ** -20,
    1 - 2 ** -21,
    5e-324,
    2.2e-308,
  ]) {
    around(x);
  }
  out.push(0, -0, Infinity, -Infinity, NaN, Number.MAX_VALUE, Number.MIN_VALUE, 1e-310, -1e-310);
  return out;
}

test('our exp and log equal Math.exp and Math.log bit for bit', () => {
  const math = mathModule();
  const rnd = uniform(7);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  const n = 1 << 20;
  const expIn = new Float64Array(n);
  const logIn = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = rnd();
    switch (i % 6) {
      case 0: // the whole finite range where exp is neither 0 nor Inf, and beyond
        expIn[i] = (r - 0.5) * 1600;
        logIn[i] = 2 ** ((r - 0.5) * 2100);
        break;
      case 1: // z − max: what the first exp of a row sees
        expIn[i] = -r * 60;
        logIn[i] = 1 + r * 30; // Σ exp(z − max) ∈ [1, classes]
        break;
      case 2: // any float32
        u32[0] = (r * 2 ** 32) >>> 0;
        expIn[i] = f32[0];
        u32[0] = (rnd() * 2 ** 32) >>> 0;
        logIn[i] = f32[0];
        break;
      case 3: // tiny arguments, and sums just above 1
        expIn[i] = (r - 0.5) * 2 ** -25;
        logIn[i] = 1 + r * 2 ** -18;
        break;
      case 4: // one reduction step either way, and subnormals
        expIn[i] = (r - 0.5) * 4;
        logIn[i] = r * 2 ** -1030;
        break;
      default: // any float64 bits
        expIn[i] = new Float64Array(new Uint32Array([(r * 2 ** 32) >>> 0, (rnd() * 2 ** 32) >>> 0]).buffer)[0]; // prettier-ignore
        logIn[i] = Math.abs(expIn[i]);
    }
  }
  const special = Float64Array.from(edges());
  for (const [which, xs] of [
    ['exp', expIn],
    ['log', logIn],
    ['exp', special],
    ['log', special],
  ] as const) {
    const fn = which === 'exp' ? Math.exp : Math.log;
    assert.equal(firstMismatch(xs, math.run(which, xs), fn), null, which);
  }
});

test('our exp equals Math.exp on a sweep of the float32 values in [−104, 0] (the second exp of a row)', () => {
  const math = mathModule();
  // every 97th float32 bit pattern from −0 down to −104: every binade, odd steps through the
  // mantissas
  const lo = 0x80000000;
  const hi = new Uint32Array(new Float32Array([-104]).buffer)[0];
  const count = Math.floor((hi - lo) / 97) + 1;
  const u = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    u[i] = lo + 97 * i;
  }
  const xs = Float64Array.from(new Float32Array(u.buffer));
  assert.ok(count > 10_000_000);
  assert.equal(firstMismatch(xs, math.run('exp', xs), Math.exp), null);
});

test('wasm softmaxXent equals reference.ts bit for bit (scales, NaN, ±Inf, −0, labels out of range)', () => {
  const rnd = uniform(3);
  for (const [n, classes] of [
    [1, 1],
    [1, 10],
    [3, 2],
    [100, 10],
    [64, 10],
    [37, 17],
  ]) {
    for (let trial = 0; trial < 40; trial++) {
      const scale = [1e-4, 1, 10, 100, 1e4][trial % 5];
      const logits = Float32Array.from({ length: n * classes }, () => (rnd() - 0.5) * scale);
      if (trial % 4 === 1) {
        logits[Math.floor(rnd() * logits.length)] = NaN;
      }
      if (trial % 4 === 2) {
        logits[Math.floor(rnd() * logits.length)] = Infinity;
        logits[Math.floor(rnd() * logits.length)] = -Infinity;
      }
      if (trial % 4 === 3) {
        logits[Math.floor(rnd() * logits.length)] = -0;
        logits.fill(logits[0], 0, classes); // a row of ties
      }
      const labels = Int32Array.from({ length: n }, () => Math.floor(rnd() * classes));
      if (trial % 3 === 1) {
        labels[0] = classes; // no class: the row adds nothing to the loss
        labels[n - 1] = -1;
      }
      const want = new Float32Array(n * classes);
      const loss = ref.softmaxCrossEntropy(logits, labels, n, classes, want);
      const sb = wasmSandbox(4);
      const [pl, pb] = [sb.put(logits), sb.put(labels)];
      const [pd, pr] = [sb.alloc(4 * n * classes), sb.alloc(4 * n)];
      sb.k.softmaxXent(pl, pb, pd, pr, n, classes);
      const what = `${n}×${classes}, trial ${trial}`;
      assert.equal(firstDifference(sb.f32(pd, n * classes), want), -1, `dlogits ${what}`);
      assert.equal(firstDifference(Float32Array.of(ref.softmaxLoss(sb.f32(pr, n))), Float32Array.of(loss)), -1, `loss ${what}`); // prettier-ignore
    }
  }
});
