/**
 * A tiny WebAssembly assembler: just enough of the binary format to emit our kernels (i32/f32
 * scalar code, 128-bit SIMD, structured control flow) without a build step or a dependency.
 *
 * A module imports one memory (`env.memory`, the tfjs wasm backend's heap or one of our own) and
 * exports functions whose parameters are i32 or f32 and which return nothing. Function bodies
 * are written through {@link FnBuilder}: one method per instruction, locals by index.
 */

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128';

const VALTYPE: Record<ValType, number> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b }; // prettier-ignore

function uleb(n: number, out: number[]): void {
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) {
      b |= 0x80;
    }
    out.push(b);
  } while (n !== 0);
}

function sleb(n: number, out: number[]): void {
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

/** A signed LEB128 of a 64-bit two's complement value (i64.const). */
function sleb64(n: bigint, out: number[]): void {
  let v = BigInt.asIntN(64, n);
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

function name(s: string, out: number[]): void {
  const bytes = new TextEncoder().encode(s);
  uleb(bytes.length, out);
  out.push(...bytes);
}

/** SIMD opcodes (after the 0xfd prefix) used by the kernels. */
const SIMD = {
  load: 0x00,
  load8x8U: 0x02,
  load32Splat: 0x09,
  store: 0x0b,
  const: 0x0c,
  f32x4Splat: 0x13,
  f32x4ExtractLane: 0x1f,
  f32x4ReplaceLane: 0x20,
  f32x4Ne: 0x42,
  anyTrue: 0x53,
  bitselect: 0x52,
  i32x4Splat: 0x11,
  i32x4ExtractLane: 0x1b,
  i32x4ReplaceLane: 0x1c,
  i32x4Add: 0xae,
  i32x4LtS: 0x39,
  i64x2ExtractLane: 0x1d,
  andnot: 0x4f,
  i32x4Mul: 0xb5,
  i32x4Bitmask: 0xa4,
  i8x16Swizzle: 0x0e,
  f32x4Gt: 0x44,
  and: 0x4e,
  or: 0x50,
  f32x4Sqrt: 0xe3,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
  f32x4Max: 0xe9,
  i32x4ExtendLowI16x8U: 0xa9,
  i32x4ExtendHighI16x8U: 0xaa,
  f32x4ConvertI32x4U: 0xfb,
  load64Zero: 0x5d,
  shuffle: 0x0d,
  f64x2PromoteLow: 0x5f,
  f32x4DemoteZero: 0x5e,
  f64x2Add: 0xf0,
  f64x2Sub: 0xf1,
  f64x2Mul: 0xf2,
  f64x2Div: 0xf3,
  f64x2Sqrt: 0xef,
  f64x2Splat: 0x14,
  store64Lane: 0x5b,
} as const;

// i8x16.shuffle lane lists: unpack low/high f32 lanes of two vectors, and their 64-bit halves
const LO32 = [0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23];
const HI32 = [8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31];
const LO64 = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];
const HI64 = [8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31];

/** Builds one function body. Parameters are locals 0…p−1; `local()` adds more. */
export class FnBuilder {
  readonly code: number[] = [];
  private readonly locals: ValType[] = [];

  constructor(
    readonly name: string,
    readonly params: ValType[],
    readonly exported = true,
  ) {}

  /** Declares a new local and returns its index. */
  local(type: ValType): number {
    this.locals.push(type);
    return this.params.length + this.locals.length - 1;
  }

  private op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }

  private simd(opcode: number): this {
    this.code.push(0xfd);
    uleb(opcode, this.code);
    return this;
  }

  private memarg(align: number, offset: number): this {
    uleb(align, this.code);
    uleb(offset, this.code);
    return this;
  }

  // control
  block(): this {
    return this.op(0x02, 0x40);
  }
  loop(): this {
    return this.op(0x03, 0x40);
  }
  if(): this {
    return this.op(0x04, 0x40);
  }
  else(): this {
    return this.op(0x05);
  }
  end(): this {
    return this.op(0x0b);
  }
  return(): this {
    return this.op(0x0f);
  }
  br(depth: number): this {
    this.op(0x0c);
    uleb(depth, this.code);
    return this;
  }
  brIf(depth: number): this {
    this.op(0x0d);
    uleb(depth, this.code);
    return this;
  }
  call(fnIndex: number): this {
    this.op(0x10);
    uleb(fnIndex, this.code);
    return this;
  }

  // locals
  get(i: number): this {
    this.op(0x20);
    uleb(i, this.code);
    return this;
  }
  set(i: number): this {
    this.op(0x21);
    uleb(i, this.code);
    return this;
  }
  tee(i: number): this {
    this.op(0x22);
    uleb(i, this.code);
    return this;
  }

  // i32
  i32(n: number): this {
    this.op(0x41);
    sleb(n | 0, this.code);
    return this;
  }
  i32Add(): this {
    return this.op(0x6a);
  }
  i32Sub(): this {
    return this.op(0x6b);
  }
  i32Mul(): this {
    return this.op(0x6c);
  }
  i32And(): this {
    return this.op(0x71);
  }
  /** the number of set bits */
  i32Popcnt(): this {
    return this.op(0x69);
  }
  i32Store8(offset = 0): this {
    return this.op(0x3a).memarg(0, offset);
  }

  // i64 (the trace digest's XXH64, ./wasm-hash.ts): values mod 2^64
  /** i64.const of `n` taken mod 2^64 */
  i64(n: bigint): this {
    this.op(0x42);
    sleb64(n, this.code);
    return this;
  }
  i64Load(offset = 0): this {
    return this.op(0x29).memarg(0, offset);
  }
  i64Load32U(offset = 0): this {
    return this.op(0x35).memarg(0, offset);
  }
  i64Load8U(offset = 0): this {
    return this.op(0x31).memarg(0, offset);
  }
  i64Store(offset = 0): this {
    return this.op(0x37).memarg(0, offset);
  }
  i64Add(): this {
    return this.op(0x7c);
  }
  i64Mul(): this {
    return this.op(0x7e);
  }
  i64Xor(): this {
    return this.op(0x85);
  }
  i64ShrU(): this {
    return this.op(0x88);
  }
  i64Rotl(): this {
    return this.op(0x89);
  }
  /** i64: 1 when a ≥ b, unsigned (as i32) */
  i64GeU(): this {
    return this.op(0x5a);
  }
  i64ExtendI32U(): this {
    return this.op(0xad);
  }
  i64Shl(): this {
    return this.op(0x86);
  }
  i64Or(): this {
    return this.op(0x84);
  }
  /** the low 32 bits of an i64 */
  i32WrapI64(): this {
    return this.op(0xa7);
  }
  /** an f64's bits as an i64, and back (exp's and log's word arithmetic, ./wasm-softmax.ts) */
  i64ReinterpretF64(): this {
    return this.op(0xbd);
  }
  f64ReinterpretI64(): this {
    return this.op(0xbf);
  }
  /** f64 → i32 toward zero (traps on NaN and out of range: only for values known in range) */
  i32TruncF64S(): this {
    return this.op(0xaa);
  }
  f64ConvertI32S(): this {
    return this.op(0xb7);
  }
  i32Xor(): this {
    return this.op(0x73);
  }
  i32ShrU(): this {
    return this.op(0x76);
  }
  i32Ne(): this {
    return this.op(0x47);
  }
  f64Eq(): this {
    return this.op(0x61);
  }
  f64Lt(): this {
    return this.op(0x63);
  }
  f64Gt(): this {
    return this.op(0x64);
  }
  i32Or(): this {
    return this.op(0x72);
  }
  i32Shl(): this {
    return this.op(0x74);
  }
  i32ShrS(): this {
    return this.op(0x75);
  }
  i32Eqz(): this {
    return this.op(0x45);
  }
  i32LtS(): this {
    return this.op(0x48);
  }
  i32GtS(): this {
    return this.op(0x4a);
  }
  i32Eq(): this {
    return this.op(0x46);
  }
  i32GeS(): this {
    return this.op(0x4e);
  }
  i32LeS(): this {
    return this.op(0x4c);
  }
  i32LoadU8(offset = 0): this {
    return this.op(0x2d).memarg(0, offset);
  }
  i32Load(offset = 0): this {
    return this.op(0x28).memarg(2, offset);
  }
  i32Store(offset = 0): this {
    return this.op(0x36).memarg(2, offset);
  }
  /** for (local[v] = 0; local[v] < local[limit]; local[v]++) body() — signed compare */
  forRange(v: number, limit: number, body: () => void): this {
    this.i32(0).set(v);
    this.block().loop();
    this.get(v).get(limit).i32GeS().brIf(1);
    body();
    this.inc(v, 1).br(0);
    return this.end().end();
  }
  /**
   * Over `count` float32s (the local or parameter `count`): body(true, off) for each group of
   * four, then body(false, off) for each of the last 0–3; `off` is a local holding the byte
   * offset of the current element(s).
   */
  overFloats(count: number, body: (vec: boolean, off: number) => void): this {
    const off = this.local('i32');
    const end4 = this.local('i32');
    const endAll = this.local('i32');
    this.get(count).i32(4).i32Mul().set(endAll);
    this.get(count).i32(-4).i32And().i32(4).i32Mul().set(end4);
    this.i32(0).set(off);
    for (const vec of [true, false]) {
      this.block().loop();
      this.get(off)
        .get(vec ? end4 : endAll)
        .i32GeS()
        .brIf(1);
      body(vec, off);
      this.inc(off, vec ? 16 : 4).br(0);
      this.end().end();
    }
    return this;
  }
  /** local[i] += delta (a constant) */
  inc(i: number, delta: number): this {
    return this.get(i).i32(delta).i32Add().set(i);
  }
  /** local[i] += local[j] */
  incBy(i: number, j: number): this {
    return this.get(i).get(j).i32Add().set(i);
  }

  // f32
  f32(x: number): this {
    this.op(0x43);
    const b = new Uint8Array(new Float32Array([x]).buffer);
    this.code.push(...b);
    return this;
  }
  f64(x: number): this {
    this.op(0x44);
    this.code.push(...new Uint8Array(new Float64Array([x]).buffer));
    return this;
  }
  f64Load(offset = 0): this {
    return this.op(0x2b).memarg(3, offset);
  }
  f64Store(offset = 0): this {
    return this.op(0x39).memarg(3, offset);
  }
  f64Add(): this {
    return this.op(0xa0);
  }
  f64Sub(): this {
    return this.op(0xa1);
  }
  f64Mul(): this {
    return this.op(0xa2);
  }
  f64Div(): this {
    return this.op(0xa3);
  }
  f64Sqrt(): this {
    return this.op(0x9f);
  }
  f64PromoteF32(): this {
    return this.op(0xbb);
  }
  f32DemoteF64(): this {
    return this.op(0xb6);
  }
  /** the 8 bytes at the address into the low half, zeros above */
  v128Load64Zero(offset = 0): this {
    return this.simd(SIMD.load64Zero).memarg(0, offset);
  }
  /**
   * The 4×4 transpose of the f32 vectors in locals v (v[r] = row r): column j = [v0_j v1_j v2_j
   * v3_j] is pushed after `before(j)` and consumed by `after(j)` (a store), for j = 0…3; locals t
   * (4 v128) are scratch.
   */
  transpose4(
    v: number[],
    t: number[],
    before: (j: number) => void,
    after: (j: number) => void,
  ): this {
    this.get(v[0]).get(v[1]).i8x16Shuffle(LO32).set(t[0]); // 0_0 1_0 0_1 1_1
    this.get(v[2]).get(v[3]).i8x16Shuffle(LO32).set(t[1]); // 2_0 3_0 2_1 3_1
    this.get(v[0]).get(v[1]).i8x16Shuffle(HI32).set(t[2]); // 0_2 1_2 0_3 1_3
    this.get(v[2]).get(v[3]).i8x16Shuffle(HI32).set(t[3]); // 2_2 3_2 2_3 3_3
    for (let j = 0; j < 4; j++) {
      before(j);
      this.get(t[j < 2 ? 0 : 2])
        .get(t[j < 2 ? 1 : 3])
        .i8x16Shuffle(j % 2 === 0 ? LO64 : HI64);
      after(j);
    }
    return this;
  }
  /** bytes of (a, b) picked by 16 lane indices (0–15: a, 16–31: b) */
  i8x16Shuffle(lanes: number[]): this {
    this.simd(SIMD.shuffle);
    this.code.push(...lanes);
    return this;
  }
  f64x2PromoteLowF32x4(): this {
    return this.simd(SIMD.f64x2PromoteLow);
  }
  f32x4DemoteF64x2Zero(): this {
    return this.simd(SIMD.f32x4DemoteZero);
  }
  f64x2Add(): this {
    return this.simd(SIMD.f64x2Add);
  }
  f64x2Sub(): this {
    return this.simd(SIMD.f64x2Sub);
  }
  f64x2Mul(): this {
    return this.simd(SIMD.f64x2Mul);
  }
  f64x2Div(): this {
    return this.simd(SIMD.f64x2Div);
  }
  f64x2Sqrt(): this {
    return this.simd(SIMD.f64x2Sqrt);
  }
  f64x2Splat(): this {
    return this.simd(SIMD.f64x2Splat);
  }
  /** stores 64-bit lane `lane` of the v128 (8 bytes) at the address */
  v128Store64Lane(lane: number, offset = 0): this {
    this.simd(SIMD.store64Lane).memarg(0, offset);
    this.code.push(lane);
    return this;
  }
  f32Load(offset = 0): this {
    return this.op(0x2a).memarg(2, offset);
  }
  f32Store(offset = 0): this {
    return this.op(0x38).memarg(2, offset);
  }
  f32Add(): this {
    return this.op(0x92);
  }
  f32Sub(): this {
    return this.op(0x93);
  }
  f32Mul(): this {
    return this.op(0x94);
  }
  f32Div(): this {
    return this.op(0x95);
  }
  f32Sqrt(): this {
    return this.op(0x91);
  }
  f32Max(): this {
    return this.op(0x97);
  }
  f32Gt(): this {
    return this.op(0x5e);
  }
  f32Ne(): this {
    return this.op(0x5c);
  }
  select(): this {
    return this.op(0x1b);
  }

  // v128 / f32x4
  v128Load(offset = 0): this {
    return this.simd(SIMD.load).memarg(0, offset);
  }
  /** 8 bytes → 8 × u16 */
  v128Load8x8U(offset = 0): this {
    return this.simd(SIMD.load8x8U).memarg(0, offset);
  }
  i32x4ExtendLowI16x8U(): this {
    return this.simd(SIMD.i32x4ExtendLowI16x8U);
  }
  i32x4ExtendHighI16x8U(): this {
    return this.simd(SIMD.i32x4ExtendHighI16x8U);
  }
  f32x4ConvertI32x4U(): this {
    return this.simd(SIMD.f32x4ConvertI32x4U);
  }
  v128Load32Splat(offset = 0): this {
    return this.simd(SIMD.load32Splat).memarg(0, offset);
  }
  v128Store(offset = 0): this {
    return this.simd(SIMD.store).memarg(0, offset);
  }
  v128Zero(): this {
    this.simd(SIMD.const);
    this.code.push(...new Array<number>(16).fill(0));
    return this;
  }
  f32x4Splat(): this {
    return this.simd(SIMD.f32x4Splat);
  }
  f32x4ExtractLane(lane: number): this {
    this.simd(SIMD.f32x4ExtractLane);
    this.code.push(lane);
    return this;
  }
  /** [v128, f32] → v128 with lane `lane` replaced */
  f32x4ReplaceLane(lane: number): this {
    this.simd(SIMD.f32x4ReplaceLane);
    this.code.push(lane);
    return this;
  }
  f32x4Add(): this {
    return this.simd(SIMD.f32x4Add);
  }
  f32x4Sub(): this {
    return this.simd(SIMD.f32x4Sub);
  }
  f32x4Mul(): this {
    return this.simd(SIMD.f32x4Mul);
  }
  f32x4Div(): this {
    return this.simd(SIMD.f32x4Div);
  }
  f32x4Sqrt(): this {
    return this.simd(SIMD.f32x4Sqrt);
  }
  f32x4Max(): this {
    return this.simd(SIMD.f32x4Max);
  }
  f32x4Gt(): this {
    return this.simd(SIMD.f32x4Gt);
  }
  v128And(): this {
    return this.simd(SIMD.and);
  }
  v128Or(): this {
    return this.simd(SIMD.or);
  }
  f32x4Ne(): this {
    return this.simd(SIMD.f32x4Ne);
  }
  /** (a, b, mask) → a where the mask's bits are set, b elsewhere */
  v128Bitselect(): this {
    return this.simd(SIMD.bitselect);
  }
  i32x4Splat(): this {
    return this.simd(SIMD.i32x4Splat);
  }
  i32x4ExtractLane(lane: number): this {
    this.simd(SIMD.i32x4ExtractLane);
    this.code.push(lane);
    return this;
  }
  i32x4ReplaceLane(lane: number): this {
    this.simd(SIMD.i32x4ReplaceLane);
    this.code.push(lane);
    return this;
  }
  i32x4Add(): this {
    return this.simd(SIMD.i32x4Add);
  }
  i32x4Mul(): this {
    return this.simd(SIMD.i32x4Mul);
  }
  i64x2ExtractLane(lane: number): this {
    this.simd(SIMD.i64x2ExtractLane);
    this.code.push(lane);
    return this;
  }
  /** a AND NOT b */
  v128AndNot(): this {
    return this.simd(SIMD.andnot);
  }
  /** i64 → i32: 1 when zero */
  i64Eqz(): this {
    return this.op(0x50);
  }
  /** lanes all ones where a < b as signed 32-bit integers, zeros elsewhere */
  i32x4LtS(): this {
    return this.simd(SIMD.i32x4LtS);
  }
  /** i32: bit l set when lane l's top bit is (a lane mask's lanes: all ones or zeros) */
  i32x4Bitmask(): this {
    return this.simd(SIMD.i32x4Bitmask);
  }
  /** bytes of a picked by the 16 byte indices of b (an index ≥ 16 gives 0) */
  i8x16Swizzle(): this {
    return this.simd(SIMD.i8x16Swizzle);
  }
  /** i32: 1 when any bit of the v128 is set */
  v128AnyTrue(): this {
    return this.simd(SIMD.anyTrue);
  }

  /** The function body as bytes (local declarations, code, final `end`). */
  body(): number[] {
    const out: number[] = [];
    // one local entry per local keeps this simple; the format allows runs of the same type
    uleb(this.locals.length, out);
    for (const t of this.locals) {
      out.push(1, VALTYPE[t]);
    }
    out.push(...this.code, 0x0b);
    const sized: number[] = [];
    uleb(out.length, sized);
    return [...sized, ...out];
  }
}

/**
 * Assembles a module that imports `env.memory` (at least `minPages` pages; a shared memory of at
 * most `sharedMaxPages` pages when that is given, for threads) and holds `fns` in
 * order (function index = position). Every function has no results.
 */
export function assemble(
  fns: FnBuilder[],
  minPages = 1,
  sharedMaxPages?: number,
): Uint8Array<ArrayBuffer> {
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const section = (id: number, content: number[]): void => {
    out.push(id);
    uleb(content.length, out);
    out.push(...content);
  };
  // types: one per function (duplicates are allowed)
  const types: number[] = [];
  uleb(fns.length, types);
  for (const f of fns) {
    types.push(0x60);
    uleb(f.params.length, types);
    for (const p of f.params) {
      types.push(VALTYPE[p]);
    }
    types.push(0x00);
  }
  section(1, types);
  const imports: number[] = [];
  uleb(1, imports);
  name('env', imports);
  name('memory', imports);
  imports.push(0x02);
  if (sharedMaxPages === undefined) {
    imports.push(0x00);
    uleb(minPages, imports);
  } else {
    imports.push(0x03);
    uleb(minPages, imports);
    uleb(sharedMaxPages, imports);
  }
  section(2, imports);
  const funcs: number[] = [];
  uleb(fns.length, funcs);
  fns.forEach((_, i) => uleb(i, funcs));
  section(3, funcs);
  const exported = fns.map((f, i) => [f, i] as const).filter(([f]) => f.exported);
  const exports: number[] = [];
  uleb(exported.length, exports);
  for (const [f, i] of exported) {
    name(f.name, exports);
    exports.push(0x00);
    uleb(i, exports);
  }
  section(7, exports);
  const code: number[] = [];
  uleb(fns.length, code);
  for (const f of fns) {
    code.push(...f.body());
  }
  section(10, code);
  // the "name" custom section: function names for profilers and stack traces (no semantics)
  const names: number[] = [];
  uleb(fns.length, names);
  fns.forEach((f, i) => {
    uleb(i, names);
    name(f.name, names);
  });
  const nameSection: number[] = [];
  name('name', nameSection);
  nameSection.push(0x01);
  uleb(names.length, nameSection);
  nameSection.push(...names);
  section(0, nameSection);
  return new Uint8Array(out);
}
