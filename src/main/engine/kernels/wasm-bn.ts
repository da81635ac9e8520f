/**
 * Batch norm's row loops in WebAssembly SIMD (functions of ./wasm-module.ts) and the BnLoops that
 * runs them ({@link WasmBnLoops}), the bit-exact twins of conv-ref's JS_BN_LOOPS: the float64
 * sums per channel are f64x2 lanes (two channels each, rows in order), the float32 steps f32x4
 * lanes (four channels), and the last c mod 4 channels run the same operations in scalar code.
 * Pointers in bytes; c channels per row, rows contiguous.
 *
 * - bnSum(x, rows, c, out64) · bnSqDev(x, rows, c, mean, out64)
 * - bnNormalize(x, rows, c, mean, invstd, gamma, beta, y), bnNormalizeRelu (the same, then ReLU)
 * - bnGradSums(x, dy, rows, c, mean, invstd, sdy64, sdyx64)
 * - bnGradDx(x, dy, rows, c, mean, invstd, k1, k2, k3, dx)
 */
import { JS_BN_LOOPS, type BnLoops } from './conv-ref';
import { FnBuilder, type ValType } from './wasm-asm';
import type { WasmKernels } from './wasm-module';

const HI_TO_LO = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];
const LOW_HALVES = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];

/** Walks rows × channel groups: `group(g)` for each four channels, `one(g)` for the rest. */
function rowsAndChannels(
  f: FnBuilder,
  rows: number,
  c: number,
  r: number,
  g: number,
  group: () => void,
  one: () => void,
  eachRow: () => void,
): void {
  f.forRange(r, rows, () => {
    f.i32(0).set(g);
    f.block().loop();
    f.get(c).get(g).i32Sub().i32(4).i32LtS().brIf(1);
    group();
    f.inc(g, 4).br(0);
    f.end().end();
    f.block().loop();
    f.get(g).get(c).i32GeS().brIf(1);
    one();
    f.inc(g, 1).br(0);
    f.end().end();
    eachRow();
  });
}

/** local p = base + g·scale */
function at(f: FnBuilder, base: number, g: number, scale: number): FnBuilder {
  return f.get(base).get(g).i32(scale).i32Mul().i32Add();
}

/** zeroes c float64s at `out` */
function zero64(f: FnBuilder, out: number, c: number, g: number): void {
  f.forRange(g, c, () => {
    at(f, out, g, 8).f64(0).f64Store();
  });
}

/** bnSum (dev = false) or bnSqDev (dev = true) */
export function bnSumFn(dev: boolean): FnBuilder {
  const P = dev ? { x: 0, rows: 1, c: 2, mean: 3, out: 4 } : { x: 0, rows: 1, c: 2, mean: -1, out: 3 }; // prettier-ignore
  const f = new FnBuilder(dev ? 'bnSqDev' : 'bnSum', new Array<ValType>(dev ? 5 : 4).fill('i32'));
  const [r, g, xp, o] = [f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32')];
  const v = f.local('v128');
  const s = f.local('f64');
  zero64(f, P.out, P.c, g);
  f.get(P.x).set(xp);
  // the term for lanes at byte `off` of the group: x (or x − mean) as f64x2
  const term = (off: number): void => {
    at(f, xp, g, 4).v128Load64Zero(off).f64x2PromoteLowF32x4();
    if (dev) {
      at(f, P.mean, g, 4).v128Load64Zero(off).f64x2PromoteLowF32x4().f64x2Sub().tee(v);
      f.get(v).f64x2Mul();
    }
  };
  rowsAndChannels(
    f,
    P.rows,
    P.c,
    r,
    g,
    () => {
      at(f, P.out, g, 8).set(o);
      for (const half of [0, 1]) {
        f.get(o)
          .get(o)
          .v128Load(16 * half);
        term(8 * half);
        f.f64x2Add().v128Store(16 * half);
      }
    },
    () => {
      at(f, P.out, g, 8).set(o);
      f.get(o).get(o).f64Load();
      at(f, xp, g, 4).f32Load().f64PromoteF32();
      if (dev) {
        at(f, P.mean, g, 4).f32Load().f64PromoteF32().f64Sub().set(s);
        f.get(s).get(s).f64Mul();
      }
      f.f64Add().f64Store();
    },
    () => {
      f.get(P.c).i32(4).i32Mul().get(xp).i32Add().set(xp);
    },
  );
  return f;
}

/**
 * xhat = float32(float32(x − mean)·invstd) for the group (f32x4) or channel (f32) at g, with x
 * at xp.
 */
function xhat(
  f: FnBuilder,
  vec: boolean,
  xp: number,
  mean: number,
  invstd: number,
  g: number,
): void {
  if (vec) {
    at(f, xp, g, 4).v128Load();
    at(f, mean, g, 4).v128Load().f32x4Sub();
    at(f, invstd, g, 4).v128Load().f32x4Mul();
  } else {
    at(f, xp, g, 4).f32Load();
    at(f, mean, g, 4).f32Load().f32Sub();
    at(f, invstd, g, 4).f32Load().f32Mul();
  }
}

/** f64x2 of lanes 0–1 (half 0) or 2–3 (half 1) of the f32x4 in local v */
function promoteHalf(f: FnBuilder, v: number, half: number): void {
  f.get(v);
  if (half === 1) {
    f.get(v).i8x16Shuffle(HI_TO_LO);
  }
  f.f64x2PromoteLowF32x4();
}

/** xh = xhat of the group at g (x at xp), d = dy of the group (dy at dp) */
function xhatAndDy(
  f: FnBuilder,
  xp: number,
  dp: number,
  mean: number,
  invstd: number,
  g: number,
  xh: number,
  d: number,
): void {
  xhat(f, true, xp, mean, invstd, g);
  f.set(xh);
  at(f, dp, g, 4).v128Load().set(d);
}

/**
 * bnNormalize(x, rows, c, mean, invstd, gamma, beta, y); bnNormalizeRelu: the same, then ReLU
 * as ./wasm-module's relu (v > 0 or NaN keeps v, else +0) before the store.
 */
export function bnNormalizeFn(relu = false): FnBuilder {
  const P = { x: 0, rows: 1, c: 2, mean: 3, invstd: 4, gamma: 5, beta: 6, y: 7 };
  const f = new FnBuilder(relu ? 'bnNormalizeRelu' : 'bnNormalize', new Array<ValType>(8).fill('i32')); // prettier-ignore
  const [r, g, xp, yp] = [f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32')];
  const [v, s] = [f.local('v128'), f.local('f32')];
  f.get(P.x).set(xp);
  f.get(P.y).set(yp);
  const body = (vec: boolean): void => {
    at(f, yp, g, 4);
    at(f, P.gamma, g, 4);
    if (vec) {
      f.v128Load();
      xhat(f, true, xp, P.mean, P.invstd, g);
      f.f32x4Mul();
      at(f, P.beta, g, 4).v128Load().f32x4Add();
      if (relu) {
        f.tee(v).get(v).v128Zero().f32x4Gt();
        f.get(v).get(v).f32x4Ne().v128Or().v128And();
      }
      f.v128Store();
    } else {
      f.f32Load();
      xhat(f, false, xp, P.mean, P.invstd, g);
      f.f32Mul();
      at(f, P.beta, g, 4).f32Load().f32Add();
      if (relu) {
        f.set(s).get(s).f32(0);
        f.get(s).f32(0).f32Gt();
        f.get(s).get(s).f32Ne().i32Or();
        f.select();
      }
      f.f32Store();
    }
  };
  rowsAndChannels(
    f,
    P.rows,
    P.c,
    r,
    g,
    () => body(true),
    () => body(false),
    () => {
      f.get(P.c).i32(4).i32Mul().tee(g).get(xp).i32Add().set(xp);
      f.get(g).get(yp).i32Add().set(yp);
    },
  );
  return f;
}

/** bnGradSums(x, dy, rows, c, mean, invstd, sdy, sdyx) */
export function bnGradSumsFn(): FnBuilder {
  const P = { x: 0, dy: 1, rows: 2, c: 3, mean: 4, invstd: 5, sdy: 6, sdyx: 7 };
  const f = new FnBuilder('bnGradSums', new Array<ValType>(8).fill('i32'));
  const [r, g, xp, dp, o] = [f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32')]; // prettier-ignore
  const [xh, d, dl, xl] = [f.local('v128'), f.local('v128'), f.local('v128'), f.local('v128')];
  const [sd] = [f.local('f64')];
  zero64(f, P.sdy, P.c, g);
  zero64(f, P.sdyx, P.c, g);
  f.get(P.x).set(xp);
  f.get(P.dy).set(dp);
  rowsAndChannels(
    f,
    P.rows,
    P.c,
    r,
    g,
    () => {
      xhatAndDy(f, xp, dp, P.mean, P.invstd, g, xh, d);
      for (const half of [0, 1]) {
        promoteHalf(f, d, half);
        f.set(dl);
        promoteHalf(f, xh, half);
        f.set(xl);
        at(f, P.sdy, g, 8).set(o);
        f.get(o)
          .get(o)
          .v128Load(16 * half)
          .get(dl)
          .f64x2Add()
          .v128Store(16 * half);
        at(f, P.sdyx, g, 8).set(o);
        f.get(o)
          .get(o)
          .v128Load(16 * half)
          .get(dl)
          .get(xl)
          .f64x2Mul()
          .f64x2Add();
        f.v128Store(16 * half);
      }
    },
    () => {
      at(f, dp, g, 4).f32Load().f64PromoteF32().set(sd);
      at(f, P.sdy, g, 8).set(o);
      f.get(o).get(o).f64Load().get(sd).f64Add().f64Store();
      at(f, P.sdyx, g, 8).set(o);
      f.get(o).get(o).f64Load().get(sd);
      xhat(f, false, xp, P.mean, P.invstd, g);
      f.f64PromoteF32().f64Mul().f64Add().f64Store();
    },
    () => {
      f.get(P.c).i32(4).i32Mul().tee(o).get(xp).i32Add().set(xp);
      f.get(o).get(dp).i32Add().set(dp);
    },
  );
  return f;
}

/** bnGradDx(x, dy, rows, c, mean, invstd, k1, k2, k3, dx) */
export function bnGradDxFn(): FnBuilder {
  const P = { x: 0, dy: 1, rows: 2, c: 3, mean: 4, invstd: 5, k1: 6, k2: 7, k3: 8, dx: 9 };
  const f = new FnBuilder('bnGradDx', new Array<ValType>(10).fill('i32'));
  const [r, g, xp, dp, op] = [f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32')]; // prettier-ignore
  const [xh, d, lo] = [f.local('v128'), f.local('v128'), f.local('v128')];
  f.get(P.x).set(xp);
  f.get(P.dy).set(dp);
  f.get(P.dx).set(op);
  // k1·((dy − k2) − xhat·k3) for the lanes of k at byte `k` offset of the group
  const formula = (vec: boolean, dyv: () => void, xhv: () => void, off: number): void => {
    const load = (k: number): void => {
      at(f, k, g, 8);
      if (vec) {
        f.v128Load(off);
      } else {
        f.f64Load();
      }
    };
    load(P.k1);
    dyv();
    load(P.k2);
    if (vec) {
      f.f64x2Sub();
    } else {
      f.f64Sub();
    }
    xhv();
    load(P.k3);
    if (vec) {
      f.f64x2Mul().f64x2Sub().f64x2Mul();
    } else {
      f.f64Mul().f64Sub().f64Mul();
    }
  };
  rowsAndChannels(
    f,
    P.rows,
    P.c,
    r,
    g,
    () => {
      xhatAndDy(f, xp, dp, P.mean, P.invstd, g, xh, d);
      const promote = (v: number, half: number) => (): void => promoteHalf(f, v, half);
      formula(true, promote(d, 0), promote(xh, 0), 0);
      f.f32x4DemoteF64x2Zero().set(lo);
      at(f, op, g, 4).get(lo);
      formula(true, promote(d, 1), promote(xh, 1), 16);
      f.f32x4DemoteF64x2Zero().i8x16Shuffle(LOW_HALVES).v128Store();
    },
    () => {
      at(f, op, g, 4);
      formula(
        false,
        () => at(f, dp, g, 4).f32Load().f64PromoteF32(),
        () => {
          xhat(f, false, xp, P.mean, P.invstd, g);
          f.f64PromoteF32();
        },
        0,
      );
      f.f32DemoteF64().f32Store();
    },
    () => {
      f.get(P.c).i32(4).i32Mul().tee(g).get(xp).i32Add().set(xp);
      f.get(g).get(dp).i32Add().set(dp);
      f.get(g).get(op).i32Add().set(op);
    },
  );
  return f;
}

/** Scratch for the float64 sums: 5 slots of MAX_BN_CHANNELS. */
export const MAX_BN_CHANNELS = 4096;
export const BN_SCRATCH_BYTES = 5 * 8 * MAX_BN_CHANNELS;

/**
 * conv-ref's BnLoops on our wasm kernels. Every array must be a view of the wasm memory (the
 * tensors are; a call with any other array runs JS_BN_LOOPS, with the same bits).
 */
export class WasmBnLoops implements BnLoops {
  constructor(
    private readonly k: WasmKernels,
    private readonly scratch: number,
    private readonly buffer: () => ArrayBuffer,
  ) {}

  private onHeap(...arrays: (Float32Array | Float64Array)[]): boolean {
    const b = this.buffer();
    return arrays.every((a) => a.buffer === b);
  }

  f64(c: number, slot: number): Float64Array {
    return c <= MAX_BN_CHANNELS
      ? new Float64Array(this.buffer(), this.scratch + slot * 8 * MAX_BN_CHANNELS, c)
      : new Float64Array(c);
  }

  sum(x: Float32Array, xOff: number, rows: number, c: number, out: Float64Array): void {
    if (!this.onHeap(x, out)) {
      return JS_BN_LOOPS.sum(x, xOff, rows, c, out);
    }
    this.k.bnSum(x.byteOffset + 4 * xOff, rows, c, out.byteOffset);
  }

  sqDev(
    x: Float32Array,
    xOff: number,
    rows: number,
    c: number,
    mean: Float32Array,
    out: Float64Array,
  ): void {
    if (!this.onHeap(x, mean, out)) {
      return JS_BN_LOOPS.sqDev(x, xOff, rows, c, mean, out);
    }
    this.k.bnSqDev(x.byteOffset + 4 * xOff, rows, c, mean.byteOffset, out.byteOffset);
  }

  normalize(
    x: Float32Array,
    xOff: number,
    rows: number,
    c: number,
    mean: Float32Array,
    mOff: number,
    invstd: Float32Array,
    gamma: Float32Array,
    gOff: number,
    beta: Float32Array,
    bOff: number,
    y: Float32Array,
    yOff: number,
    relu = false,
  ): void {
    if (!this.onHeap(x, mean, invstd, gamma, beta, y)) {
      return JS_BN_LOOPS.normalize(x, xOff, rows, c, mean, mOff, invstd, gamma, gOff, beta, bOff, y, yOff, relu); // prettier-ignore
    }
    const p = (a: Float32Array, off: number): number => a.byteOffset + 4 * off;
    (relu ? this.k.bnNormalizeRelu : this.k.bnNormalize)(p(x, xOff), rows, c, p(mean, mOff), p(invstd, 0), p(gamma, gOff), p(beta, bOff), p(y, yOff)); // prettier-ignore
  }

  gradSums(
    x: Float32Array,
    xOff: number,
    dy: Float32Array,
    dyOff: number,
    rows: number,
    c: number,
    mean: Float32Array,
    invstd: Float32Array,
    sdy: Float64Array,
    sdyx: Float64Array,
  ): void {
    if (!this.onHeap(x, dy, mean, invstd, sdy, sdyx)) {
      return JS_BN_LOOPS.gradSums(x, xOff, dy, dyOff, rows, c, mean, invstd, sdy, sdyx);
    }
    this.k.bnGradSums(x.byteOffset + 4 * xOff, dy.byteOffset + 4 * dyOff, rows, c, mean.byteOffset, invstd.byteOffset, sdy.byteOffset, sdyx.byteOffset); // prettier-ignore
  }

  gradDx(
    x: Float32Array,
    xOff: number,
    dy: Float32Array,
    dyOff: number,
    rows: number,
    c: number,
    mean: Float32Array,
    invstd: Float32Array,
    k1: Float64Array,
    k2: Float64Array,
    k3: Float64Array,
    dx: Float32Array,
    dxOff: number,
  ): void {
    if (!this.onHeap(x, dy, mean, invstd, k1, k2, k3, dx)) {
      return JS_BN_LOOPS.gradDx(x, xOff, dy, dyOff, rows, c, mean, invstd, k1, k2, k3, dx, dxOff); // prettier-ignore
    }
    this.k.bnGradDx(x.byteOffset + 4 * xOff, dy.byteOffset + 4 * dyOff, rows, c, mean.byteOffset, invstd.byteOffset, k1.byteOffset, k2.byteOffset, k3.byteOffset, dx.byteOffset + 4 * dxOff); // prettier-ignore
  }
}
