/**
 * The native kernels (./native/kernels.c, built by ./native/build.cjs) where this machine can run
 * them: each is the twin of a wasm kernel, with the same bits (see kernels.c), and runs on the
 * same WebAssembly memory with the same byte offsets — so a caller picks one or the other and
 * nothing else changes. Built at `npm install`, or here on first use when the source changed;
 * where it cannot be built or loaded (no C compiler, not x86-64, a CPU without AVX2, or
 * LOCKSTEP_NATIVE=0), `nativeKernels()` is null, `nativeStatus()` says why, and the wasm kernels
 * run. The GEMMs run on AVX-512 tiles where the CPU has AVX-512F (LOCKSTEP_NATIVE=avx2 keeps
 * them on AVX2). None of these choices is in the fingerprint: none can change a bit.
 */
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { repoRoot } from '../../entry-points';
import type { WasmKernels } from './wasm-module';

/** A tuple without its last element (the wasm kernel's argument the native twin has no use for). */
type WithoutLast<T extends unknown[]> = T extends [...infer H, unknown] ? H : never;
/** The arguments of the wasm kernel `name` but its last. */
type ArgsOf<K extends keyof WasmKernels> = WithoutLast<Parameters<WasmKernels[K]>>;

/**
 * The native twin of the wasm kernel of the same name: the memory's buffer, then that kernel's
 * arguments (byte offsets and strides) without the last one — gemm's and gemmCsr's `tail` (the
 * twins read their last columns with a mask, never past B's rows), gemmG's `panel` (A is read in
 * place), gatherRowsCsr's `tab` (the twin has its own shuffles).
 */
export interface NativeKernels {
  /**
   * (then `rowBytes`: 0 when idx holds scaleIdx's byte offsets of B's rows, as the wasm kernel
   * reads them; else idx holds A's column numbers, B's row p at b + p·rowBytes — no scaleIdx)
   */
  gemmCsr(memory: ArrayBufferLike, ...args: [...ArgsOf<'gemmCsr'>, rowBytes: number]): void;
  gemm(memory: ArrayBufferLike, ...args: ArgsOf<'gemm'>): void;
  /** (A[i,p] at x + rowTab[i] + kTab[p]: the arguments are gemm's, a, rsA, ksA read as x, rowTab, kTab) */
  gemmG(memory: ArrayBufferLike, ...args: WithoutLast<ArgsOf<'gemmG'>>): void;
  gatherRows(memory: ArrayBufferLike, ...args: Parameters<WasmKernels['gatherRows']>): void;
  /** (then `first`: the byte of idx and val the entries start at; 0 as the wasm kernel) */
  gatherRowsCsr(memory: ArrayBufferLike, ...args: [...ArgsOf<'gatherRowsCsr'>, first: number]): void; // prettier-ignore
  /** (all of the wasm kernel's arguments, `lr` as its float32 bits) */
  sgd(memory: ArrayBufferLike, w: number, g: number, outW: number, count: number, lrBits: number, finite: number): void; // prettier-ignore
  /** (all of the wasm kernel's arguments, `lr` and `mu` as their float32 bits) */
  momentum(memory: ArrayBufferLike, w: number, g: number, acc: number, outW: number, outAcc: number, count: number, lrBits: number, muBits: number, finite: number): void; // prettier-ignore
  /** (the wasm kernel's arguments, its six scalars as float32 at `scalars`: lr, b1, b2, c1, c2, eps) */
  adam(memory: ArrayBufferLike, w: number, g: number, m: number, v: number, outW: number, outM: number, outV: number, count: number, scalars: number, finite: number): void; // prettier-ignore
  /** The addon's file (worker threads load it too). */
  readonly file: string;
  /** The instruction set of the GEMMs' tiles (worker threads use the same). */
  readonly isa: NativeIsa;
}

/** The addon's own exports (./native/kernels.c): a view of the memory, then the offsets. */
interface Addon {
  gemmCsr(view: Uint8Array, ...offsets: number[]): void;
  gemmCsr512(view: Uint8Array, ...offsets: number[]): void;
  gemm(view: Uint8Array, ...offsets: number[]): void;
  gemm512(view: Uint8Array, ...offsets: number[]): void;
  gemmG(view: Uint8Array, ...offsets: number[]): void;
  gemmG512(view: Uint8Array, ...offsets: number[]): void;
  gatherRowsCsr(view: Uint8Array, ...offsets: number[]): void;
  gatherRows(view: Uint8Array, ...offsets: number[]): void;
  sgd(view: Uint8Array, ...offsets: number[]): void;
  momentum(view: Uint8Array, ...offsets: number[]): void;
  adam(view: Uint8Array, ...offsets: number[]): void;
  avx2(): boolean;
  avx512(): boolean;
}

/** The instruction sets of the GEMMs' tiles (the rest is AVX2 either way). */
export type NativeIsa = 'avx2' | 'avx512';

/** The addon's GEMMs whose tiles are of `isa`, by the wasm kernel they stand for. */
export function tileFunctions(isa: NativeIsa): { gemm: string; gemmG: string; gemmCsr: string } {
  const suffix = isa === 'avx512' ? '512' : '';
  return { gemm: `gemm${suffix}`, gemmG: `gemmG${suffix}`, gemmCsr: `gemmCsr${suffix}` };
}

interface Builder {
  buildNative(root?: string): { file?: string; reason?: string };
}

interface Loaded {
  addon: Addon;
  file: string;
  /** the widest set this CPU runs (LOCKSTEP_NATIVE=avx2 holds it to AVX2) */
  isa: NativeIsa;
}

let loaded: Loaded | null | undefined;
let kernels: NativeKernels | null = null;
let detail = '';

/** Why the native kernels run or not, one line. */
export function nativeStatus(): { used: boolean; detail: string } {
  const k = nativeKernels();
  return { used: k !== null, detail };
}

/** The addon as NativeKernels with tiles of `isa`, its view of the memory made again when the memory grows. */
function wrapAddon(addon: Addon, file: string, isa: NativeIsa): NativeKernels {
  let buffer: ArrayBufferLike | null = null;
  let view: Uint8Array = new Uint8Array(0);
  const viewOf = (memory: ArrayBufferLike): Uint8Array => {
    if (memory !== buffer) {
      buffer = memory;
      view = new Uint8Array(memory);
    }
    return view;
  };
  const tiles = tileFunctions(isa);
  const gemm = addon[tiles.gemm as 'gemm'];
  const gemmG = addon[tiles.gemmG as 'gemmG'];
  const gemmCsr = addon[tiles.gemmCsr as 'gemmCsr'];
  return {
    file,
    isa,
    gemmCsr: (memory, ...args) => gemmCsr(viewOf(memory), ...args),
    gemm: (memory, ...args) => gemm(viewOf(memory), ...args),
    gemmG: (memory, ...args) => gemmG(viewOf(memory), ...args),
    gatherRowsCsr: (memory, ...args) => addon.gatherRowsCsr(viewOf(memory), ...args),
    gatherRows: (memory, ...args) => addon.gatherRows(viewOf(memory), ...args),
    sgd: (memory, ...args) => addon.sgd(viewOf(memory), ...args),
    momentum: (memory, ...args) => addon.momentum(viewOf(memory), ...args),
    adam: (memory, ...args) => addon.adam(viewOf(memory), ...args),
  };
}

/** Builds (when its sources changed) and loads the addon once; null and `detail` when it cannot run. */
function load(): Loaded | null {
  if (loaded !== undefined) {
    return loaded;
  }
  loaded = null;
  const setting = process.env.LOCKSTEP_NATIVE;
  if (setting === '0') {
    detail = 'turned off (LOCKSTEP_NATIVE=0): wasm kernels';
    return loaded;
  }
  // (any other value than these: the default, and the detail says it was not understood)
  const understood = setting === undefined || setting === '' || setting === '1' || setting === 'avx2'; // prettier-ignore
  const require = createRequire(import.meta.url);
  try {
    const root = repoRoot();
    const builder = require(
      join(root, 'src', 'main', 'engine', 'kernels', 'native', 'build.cjs'),
    ) as Builder;
    const built = builder.buildNative(root);
    if (built.file === undefined) {
      detail = `not built: ${built.reason}; wasm kernels`;
      return loaded;
    }
    const addon = require(built.file) as Addon;
    if (!addon.avx2()) {
      detail = 'this CPU has no AVX2: wasm kernels';
      return loaded;
    }
    const isa: NativeIsa = addon.avx512() && setting !== 'avx2' ? 'avx512' : 'avx2';
    loaded = { addon, file: built.file, isa };
    const tiles = isa === 'avx512' ? 'AVX-512 tiles for the GEMMs' : 'AVX2 throughout';
    detail = `the GEMMs (dense, sparse, convolutions'), the batch gather and the optimizers' updates on native kernels, ${tiles} (${relative(root, built.file)}), the rest in wasm; LOCKSTEP_NATIVE=0 runs wasm alone${isa === 'avx512' ? ', LOCKSTEP_NATIVE=avx2 AVX2 alone' : ''}${understood ? '' : ` (LOCKSTEP_NATIVE=${setting} not understood: 0, 1 or avx2)`}`;
  } catch (e) {
    detail = `could not load: ${(e as Error).message.split('\n')[0]}; wasm kernels`;
  }
  return loaded;
}

/** The native kernels, or null (see the header); built and loaded on the first call. */
export function nativeKernels(): NativeKernels | null {
  const l = load();
  if (l !== null && kernels === null) {
    kernels = wrapAddon(l.addon, l.file, l.isa);
  }
  return kernels;
}

/**
 * The native kernels with the GEMMs on tiles of `isa` whatever the default (tests compare
 * every set this CPU runs); null where the addon does not run or the CPU lacks `isa`.
 */
export function nativeKernelsFor(isa: NativeIsa): NativeKernels | null {
  const l = load();
  if (l === null || (isa === 'avx512' && !l.addon.avx512())) {
    return null;
  }
  return wrapAddon(l.addon, l.file, isa);
}
