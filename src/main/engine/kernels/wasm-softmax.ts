/**
 * The softmax cross-entropy kernel in WebAssembly, with its own exp and log: ports of fdlibm's
 * __ieee754_exp and __ieee754_log — the code V8's Math.exp and Math.log run (src/base/ieee754.cc)
 * — operation for operation in float64, so they return Math.exp's and Math.log's bits
 * (tests/engine/softmax-kernel.test.ts compares them on millions of inputs and every special
 * case, and the kernel with ./reference.ts's softmaxCrossEntropy bit for bit).
 *
 * softmaxXent(logits, labels, dl, rowLoss, n, classes), pointers in bytes: for each of the n rows
 * of logits [n, classes] (float32) with int32 labels, exactly reference.ts's row loop — max in
 * float32, Σ exp(z − max) and its log in float64, logp = float32(z − max − lse),
 * dl = float32((exp(logp) − onehot) / n) — and rowLoss[r] = logp of the row's label (+0 when
 * the label is no class); the caller sums the rows' losses in row order (reference.ts's
 * softmaxLoss: total −= rowLoss[r] in float64, as softmaxCrossEntropy does as it goes).
 * NaN's bits are not promised (JavaScript does not fix them): a NaN logit gives NaN where the
 * reference gives NaN, with whatever payload the machine's operations leave.
 */
import { FnBuilder } from './wasm-asm';

/** fdlibm's constants (the hex of their bits in fdlibm's comments) */
const C = {
  halF: 0.5,
  oThreshold: 7.09782712893383973096e2, // 0x40862E42 FEFA39EF
  uThreshold: -7.4513321910194110842e2, // 0xC0874910 D52D3051
  ln2HI: 6.9314718036912381649e-1, // 0x3FE62E42 FEE00000
  ln2LO: 1.90821492927058770002e-10, // 0x3DEA39EF 35793C76
  invln2: 1.442695040888963387, // 0x3FF71547 652B82FE
  P1: 1.66666666666666019037e-1,
  P2: -2.77777777770155933842e-3,
  P3: 6.61375632143793436117e-5,
  P4: -1.6533902205465251539e-6,
  P5: 4.13813679705723846039e-8,
  E: 2.718281828459045, // 0x4005BF0A 8B145769: V8 returns it for exp(1)
  twom1000: 9.3326361850321887899e-302, // 2^−1000
  two1023: 8.988465674311579539e307, // 2^1023
  two54: 1.8014398509481984e16, // 2^54
  Lg1: 6.66666666666673513e-1,
  Lg2: 3.999999999940941908e-1,
  Lg3: 2.857142874366239149e-1,
  Lg4: 2.222219843214978396e-1,
  Lg5: 1.818357216161805012e-1,
  Lg6: 1.531383769920937332e-1,
  Lg7: 1.479819860511658591e-1,
};

/**
 * Structured early returns: `run(body)` emits body inside a block, and `ret(value)` stores the
 * f64 the `value` callback pushes into `result` and leaves that block, from any depth of the ifs
 * that `iff` opened.
 */
class Returns {
  private depth = 0;
  constructor(
    private readonly f: FnBuilder,
    private readonly result: number,
  ) {}

  run(body: () => void): void {
    this.f.block();
    body();
    this.f.end();
  }

  /** pushes the value, stores it, and leaves the enclosing `run` */
  ret(value: () => void): void {
    value();
    this.f.set(this.result).br(this.depth);
  }

  /** if (cond) then() [else otherwise()] */
  iff(cond: () => void, then: () => void, otherwise?: () => void): void {
    cond();
    this.f.if();
    this.depth++;
    then();
    if (otherwise) {
      this.f.else();
      otherwise();
    }
    this.depth--;
    this.f.end();
  }
}

const MATH_I32 = ['hx', 'lx', 'xsb', 'k', 'i', 'j'] as const;
const MATH_F64 = ['x', 'hi', 'lo', 't', 'c', 'y', 'twopk', 'f', 's', 'z', 'w', 'r', 'dk', 'hfsq'] as const; // prettier-ignore
/** Locals the two functions use, by their names in fdlibm (declared once per kernel). */
type MathLocals = Record<(typeof MATH_I32)[number] | (typeof MATH_F64)[number], number>;

function mathLocals(f: FnBuilder): MathLocals {
  const entries = [
    ...MATH_I32.map((name) => [name, f.local('i32')]),
    ...MATH_F64.map((name) => [name, f.local('f64')]),
  ];
  return Object.fromEntries(entries) as MathLocals;
}

/** pushes the high 32 bits of the f64 in local x */
function highWord(f: FnBuilder, x: number): void {
  f.get(x).i64ReinterpretF64().i64(32n).i64ShrU().i32WrapI64();
}

/** pushes the low 32 bits of the f64 in local x */
function lowWord(f: FnBuilder, x: number): void {
  f.get(x).i64ReinterpretF64().i32WrapI64();
}

/** pushes the f64 whose high word the `hi` callback pushes and whose low word is `lo()`'s */
function fromWords(f: FnBuilder, hi: () => void, lo: () => void): void {
  hi();
  f.i64ExtendI32U().i64(32n).i64Shl();
  lo();
  f.i64ExtendI32U().i64Or().f64ReinterpretI64();
}

/**
 * Emits L.r = exp(the f64 that `arg` pushes): fdlibm's __ieee754_exp as V8 has it (with its
 * exp(1) = E and its scaling by 2^k as a multiplication).
 */
function emitExp(f: FnBuilder, L: MathLocals, arg: () => void): void {
  arg();
  f.set(L.x);
  const R = new Returns(f, L.r);
  const num = (v: number) => () => void f.f64(v);
  R.run(() => {
    highWord(f, L.x);
    f.tee(L.hx).i32(31).i32ShrU().set(L.xsb);
    f.get(L.hx).i32(0x7fffffff).i32And().set(L.hx);
    // |x| ≥ 709.78…: NaN, ±Inf, overflow, underflow
    R.iff(
      () => f.get(L.hx).i32(0x40862e42).i32GeS(),
      () => {
        R.iff(
          () => f.get(L.hx).i32(0x7ff00000).i32GeS(),
          () => {
            R.iff(
              () => {
                f.get(L.hx).i32(0xfffff).i32And();
                lowWord(f, L.x);
                f.i32Or().i32(0).i32Ne();
              },
              () => R.ret(() => f.get(L.x).get(L.x).f64Add()),
            );
            R.ret(() => f.get(L.x).f64(0).get(L.xsb).i32Eqz().select());
          },
        );
        R.iff(
          () => f.get(L.x).f64(C.oThreshold).f64Gt(),
          () => R.ret(num(Infinity)),
        );
        R.iff(
          () => f.get(L.x).f64(C.uThreshold).f64Lt(),
          () => R.ret(num(0)),
        );
      },
    );
    f.i32(0).set(L.k);
    // argument reduction: x = hi − lo, x = k·ln2 + r, |r| ≤ 0.5·ln2
    R.iff(
      () => f.get(L.hx).i32(0x3fd62e42).i32GtS(),
      () => {
        R.iff(
          () => f.get(L.hx).i32(0x3ff0a2b2).i32LtS(),
          () => {
            R.iff(
              () => f.get(L.x).f64(1).f64Eq(),
              () => R.ret(num(C.E)),
            );
            // hi = x − ln2HI[xsb], lo = ln2LO[xsb], k = 1 − 2·xsb
            f.get(L.x).f64(-C.ln2HI).f64(C.ln2HI).get(L.xsb).select().f64Sub().set(L.hi);
            f.f64(-C.ln2LO).f64(C.ln2LO).get(L.xsb).select().set(L.lo);
            f.i32(1).get(L.xsb).i32Sub().get(L.xsb).i32Sub().set(L.k);
          },
          () => {
            // k = (int)(invln2·x + halF[xsb]); hi = x − k·ln2HI; lo = k·ln2LO
            f.f64(C.invln2).get(L.x).f64Mul();
            f.f64(-C.halF).f64(C.halF).get(L.xsb).select().f64Add().i32TruncF64S().set(L.k);
            f.get(L.k).f64ConvertI32S().set(L.t);
            f.get(L.x).get(L.t).f64(C.ln2HI).f64Mul().f64Sub().set(L.hi);
            f.get(L.t).f64(C.ln2LO).f64Mul().set(L.lo);
          },
        );
        f.get(L.hi).get(L.lo).f64Sub().set(L.x);
      },
      () => {
        // |x| < 2^−28: 1 + x
        R.iff(
          () => f.get(L.hx).i32(0x3e300000).i32LtS(),
          () => R.ret(() => f.f64(1).get(L.x).f64Add()),
        );
      },
    );
    f.get(L.x).get(L.x).f64Mul().set(L.t);
    // twopk = 2^k (2^(k+1000) below −1021)
    fromWords(
      f,
      () => {
        // 0x3FF00000 + ((k ≥ −1021 ? k : k + 1000) << 20), wrapping as in fdlibm
        f.i32(0x3ff00000);
        f.get(L.k).get(L.k).i32(1000).i32Add().get(L.k).i32(-1021).i32GeS().select();
        f.i32(20).i32Shl().i32Add();
      },
      () => f.i32(0),
    );
    f.set(L.twopk);
    // c = x − t·(P1 + t·(P2 + t·(P3 + t·(P4 + t·P5))))
    f.get(L.x).get(L.t);
    f.f64(C.P1).get(L.t);
    f.f64(C.P2).get(L.t);
    f.f64(C.P3).get(L.t);
    f.f64(C.P4).get(L.t).f64(C.P5).f64Mul().f64Add();
    f.f64Mul().f64Add();
    f.f64Mul().f64Add();
    f.f64Mul().f64Add();
    f.f64Mul().f64Sub().set(L.c);
    R.iff(
      () => f.get(L.k).i32Eqz(),
      // 1 − ((x·c)/(c − 2) − x)
      () => R.ret(() => f.f64(1).get(L.x).get(L.c).f64Mul().get(L.c).f64(2).f64Sub().f64Div().get(L.x).f64Sub().f64Sub()), // prettier-ignore
    );
    // y = 1 − ((lo − (x·c)/(2 − c)) − hi)
    f.f64(1).get(L.lo).get(L.x).get(L.c).f64Mul().f64(2).get(L.c).f64Sub().f64Div().f64Sub();
    f.get(L.hi).f64Sub().f64Sub().set(L.y);
    R.iff(
      () => f.get(L.k).i32(-1021).i32GeS(),
      () => {
        R.iff(
          () => f.get(L.k).i32(1024).i32Eq(),
          () => R.ret(() => f.get(L.y).f64(2).f64Mul().f64(C.two1023).f64Mul()),
        );
        R.ret(() => f.get(L.y).get(L.twopk).f64Mul());
      },
    );
    R.ret(() => f.get(L.y).get(L.twopk).f64Mul().f64(C.twom1000).f64Mul());
  });
}

/** Emits L.r = log(the f64 that `arg` pushes): fdlibm's __ieee754_log. */
function emitLog(f: FnBuilder, L: MathLocals, arg: () => void): void {
  arg();
  f.set(L.x);
  const R = new Returns(f, L.r);
  /** pushes dk·ln2_hi */
  const dkHi = (): void => void f.get(L.dk).f64(C.ln2HI).f64Mul();
  /** pushes dk·ln2_lo */
  const dkLo = (): void => void f.get(L.dk).f64(C.ln2LO).f64Mul();
  R.run(() => {
    highWord(f, L.x);
    f.set(L.hx);
    lowWord(f, L.x);
    f.set(L.lx);
    f.i32(0).set(L.k);
    // x < 2^−1022: ±0, negative, or subnormal (scaled up by 2^54)
    R.iff(
      () => f.get(L.hx).i32(0x00100000).i32LtS(),
      () => {
        R.iff(
          () => f.get(L.hx).i32(0x7fffffff).i32And().get(L.lx).i32Or().i32Eqz(),
          () => R.ret(() => f.f64(-Infinity)),
        );
        R.iff(
          () => f.get(L.hx).i32(0).i32LtS(),
          // (x − x)/0, as fdlibm: the NaN the machine's division gives
          () => R.ret(() => f.get(L.x).get(L.x).f64Sub().f64(0).f64Div()),
        );
        f.get(L.k).i32(54).i32Sub().set(L.k);
        f.get(L.x).f64(C.two54).f64Mul().set(L.x);
        highWord(f, L.x);
        f.set(L.hx);
      },
    );
    R.iff(
      () => f.get(L.hx).i32(0x7ff00000).i32GeS(),
      () => R.ret(() => f.get(L.x).get(L.x).f64Add()),
    );
    f.get(L.k).get(L.hx).i32(20).i32ShrS().i32(1023).i32Sub().i32Add().set(L.k);
    f.get(L.hx).i32(0x000fffff).i32And().set(L.hx);
    f.get(L.hx).i32(0x95f64).i32Add().i32(0x100000).i32And().set(L.i);
    // normalize x or x/2: its high word hx | (i ^ 0x3FF00000)
    fromWords(
      f,
      () => f.get(L.hx).get(L.i).i32(0x3ff00000).i32Xor().i32Or(),
      () => lowWord(f, L.x),
    );
    f.set(L.x);
    f.get(L.k).get(L.i).i32(20).i32ShrS().i32Add().set(L.k);
    f.get(L.x).f64(1).f64Sub().set(L.f);
    f.get(L.k).f64ConvertI32S().set(L.dk);
    // −2^−20 ≤ f < 2^−20
    R.iff(
      () => f.i32(0x000fffff).i32(2).get(L.hx).i32Add().i32And().i32(3).i32LtS(),
      () => {
        R.iff(
          () => f.get(L.f).f64(0).f64Eq(),
          () => {
            R.iff(
              () => f.get(L.k).i32Eqz(),
              () => R.ret(() => f.f64(0)),
            );
            R.ret(() => {
              dkHi();
              dkLo();
              f.f64Add();
            });
          },
        );
        // R = f·f·(0.5 − 0.33333333333333333·f) (that literal is the double nearest 1/3)
        f.get(L.f)
          .get(L.f)
          .f64Mul()
          .f64(0.5)
          .f64(1 / 3)
          .get(L.f)
          .f64Mul()
          .f64Sub();
        f.f64Mul().set(L.t);
        R.iff(
          () => f.get(L.k).i32Eqz(),
          () => R.ret(() => f.get(L.f).get(L.t).f64Sub()),
        );
        // dk·ln2_hi − ((R − dk·ln2_lo) − f)
        R.ret(() => {
          dkHi();
          f.get(L.t);
          dkLo();
          f.f64Sub().get(L.f).f64Sub().f64Sub();
        });
      },
    );
    // s = f/(2 + f); z = s·s; w = z·z
    f.get(L.f).f64(2).get(L.f).f64Add().f64Div().set(L.s);
    f.get(L.s).get(L.s).f64Mul().set(L.z);
    f.get(L.hx).i32(0x6147a).i32Sub().set(L.i);
    f.get(L.z).get(L.z).f64Mul().set(L.w);
    f.i32(0x6b851).get(L.hx).i32Sub().set(L.j);
    // t1 = w·(Lg2 + w·(Lg4 + w·Lg6)) (in L.c); t2 = z·(Lg1 + w·(Lg3 + w·(Lg5 + w·Lg7))) (L.y)
    f.get(L.w).f64(C.Lg2).get(L.w).f64(C.Lg4).get(L.w).f64(C.Lg6).f64Mul().f64Add();
    f.f64Mul().f64Add().f64Mul().set(L.c);
    f.get(L.z).f64(C.Lg1).get(L.w).f64(C.Lg3).get(L.w).f64(C.Lg5).get(L.w).f64(C.Lg7).f64Mul();
    f.f64Add().f64Mul().f64Add().f64Mul().f64Add().f64Mul().set(L.y);
    f.get(L.i).get(L.j).i32Or().set(L.i);
    // R = t2 + t1 (in L.t)
    f.get(L.y).get(L.c).f64Add().set(L.t);
    R.iff(
      () => f.get(L.i).i32(0).i32GtS(),
      () => {
        // hfsq = 0.5·f·f
        f.f64(0.5).get(L.f).f64Mul().get(L.f).f64Mul().set(L.hfsq);
        R.iff(
          () => f.get(L.k).i32Eqz(),
          // f − (hfsq − s·(hfsq + R))
          () => R.ret(() => f.get(L.f).get(L.hfsq).get(L.s).get(L.hfsq).get(L.t).f64Add().f64Mul().f64Sub().f64Sub()), // prettier-ignore
        );
        // dk·ln2_hi − ((hfsq − (s·(hfsq + R) + dk·ln2_lo)) − f)
        R.ret(() => {
          dkHi();
          f.get(L.hfsq).get(L.s).get(L.hfsq).get(L.t).f64Add().f64Mul();
          dkLo();
          f.f64Add().f64Sub().get(L.f).f64Sub().f64Sub();
        });
      },
    );
    R.iff(
      () => f.get(L.k).i32Eqz(),
      // f − s·(f − R)
      () => R.ret(() => f.get(L.f).get(L.s).get(L.f).get(L.t).f64Sub().f64Mul().f64Sub()),
    );
    // dk·ln2_hi − ((s·(f − R) − dk·ln2_lo) − f)
    R.ret(() => {
      dkHi();
      f.get(L.s).get(L.f).get(L.t).f64Sub().f64Mul();
      dkLo();
      f.f64Sub().get(L.f).f64Sub().f64Sub();
    });
  });
}

/** softmaxXent(logits, labels, dl, rowLoss, n, classes): see the module's comment. */
export function softmaxXentFn(): FnBuilder {
  const P = { logits: 0, labels: 1, dl: 2, rowLoss: 3, n: 4, classes: 5 };
  const f = new FnBuilder('softmaxXent', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const L = mathLocals(f);
  const [r, c, y, end] = [0, 0, 0, 0].map(() => f.local('i32'));
  const [max32, logp] = [0, 0].map(() => f.local('f32'));
  const [max, sum, lse, nd] = [0, 0, 0, 0].map(() => f.local('f64'));
  const loss = f.local('f32');
  f.get(P.n).f64ConvertI32S().set(nd);
  f.forRange(r, P.n, () => {
    // this row's logits are at logits + 4·classes·r … end
    f.get(P.logits).get(P.classes).i32(4).i32Mul().i32Add().set(end);
    // max (float32: Math.max of float32 values is one of them, NaN and ±0 alike)
    f.f32(-Infinity).set(max32);
    const overRow = (body: () => void): void => {
      f.get(P.logits).set(c);
      f.block().loop();
      f.get(c).get(end).i32GeS().brIf(1);
      body();
      f.inc(c, 4).br(0);
      f.end().end();
    };
    overRow(() => void f.get(max32).get(c).f32Load().f32Max().set(max32));
    f.get(max32).f64PromoteF32().set(max);
    // Σ exp(z − max) in float64, in column order
    f.f64(0).set(sum);
    overRow(() => {
      emitExp(f, L, () => f.get(c).f32Load().f64PromoteF32().get(max).f64Sub());
      f.get(sum).get(L.r).f64Add().set(sum);
    });
    emitLog(f, L, () => f.get(sum));
    f.get(L.r).set(lse);
    f.get(P.labels).i32Load().set(y);
    f.f32(0).set(loss);
    /** pushes 1 when column c is the label */
    const isLabel = (): void =>
      void f.get(c).get(P.logits).i32Sub().i32(2).i32ShrU().get(y).i32Eq();
    overRow(() => {
      // logp = float32(z − max − lse)
      f.get(c).f32Load().f64PromoteF32().get(max).f64Sub().get(lse).f64Sub().f32DemoteF64();
      f.set(logp);
      f.get(logp).get(loss);
      isLabel();
      f.select().set(loss);
      emitExp(f, L, () => f.get(logp).f64PromoteF32());
      // dl = float32((exp(logp) − onehot) / n), at the same offset in dl as z in logits
      f.get(P.dl).get(c).get(P.logits).i32Sub().i32Add();
      f.get(L.r).f64(1).f64(0);
      isLabel();
      f.select().f64Sub();
      f.get(nd).f64Div().f32DemoteF64().f32Store();
    });
    f.get(P.rowLoss).get(loss).f32Store();
    f.get(end).set(P.logits);
    f.get(P.dl).get(P.classes).i32(4).i32Mul().i32Add().set(P.dl);
    f.inc(P.labels, 4).inc(P.rowLoss, 4);
  });
  return f;
}

/**
 * `exp` or `log` over float64s: fn(src, dst, count), dst[i] = fn(src[i]) — the kernel's very
 * code, for the tests that compare it with Math.exp and Math.log (not in the kernels' module).
 */
export function mathArrayFn(which: 'exp' | 'log'): FnBuilder {
  const f = new FnBuilder(which, ['i32', 'i32', 'i32']);
  const L = mathLocals(f);
  const i = f.local('i32');
  f.forRange(i, 2, () => {
    (which === 'exp' ? emitExp : emitLog)(f, L, () => f.get(0).get(i).i32(8).i32Mul().i32Add().f64Load()); // prettier-ignore
    f.get(1).get(i).i32(8).i32Mul().i32Add().get(L.r).f64Store();
  });
  return f;
}
