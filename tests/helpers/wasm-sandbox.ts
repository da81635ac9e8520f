/**
 * A standalone WebAssembly memory with our kernels on it (tests only): a bump allocator that
 * hands out byte offsets deliberately not 16-byte aligned, writers and a reader.
 */
import {
  instantiateKernels,
  instantiateSharedKernels,
  SHARED_MAX_PAGES,
  WA,
  type WasmKernels,
  type WasmMemory,
} from '../../src/main/engine/kernels/wasm-module';

export interface WasmSandbox {
  k: WasmKernels;
  /** the memory's current buffer */
  buffer(): ArrayBuffer;
  alloc(bytes: number): number;
  /** copies `data` into a fresh allocation and returns its offset */
  put(data: Float32Array | Int32Array | Uint8Array): number;
  /** overwrites floats at `p` */
  write(p: number, data: Float32Array): void;
  /** a copy of n floats at `p` */
  f32(p: number, n: number): Float32Array;
}

/** `shared`: the memory is a shared one (as tfjs's heap made shared), with its kernel variant. */
export function wasmSandbox(pages = 256, shared = false): WasmSandbox & { memory: WasmMemory } {
  const memory = shared
    ? new WA.Memory({ initial: pages, maximum: SHARED_MAX_PAGES, shared: true })
    : new WA.Memory({ initial: pages });
  const k = shared ? instantiateSharedKernels(memory) : instantiateKernels(memory);
  const buffer = (): ArrayBuffer => memory.buffer as ArrayBuffer;
  let top = 1024 + 4;
  const alloc = (bytes: number): number => {
    const p = top;
    top += bytes + 20;
    return p;
  };
  return {
    memory,
    k,
    buffer,
    alloc,
    put: (data) => {
      const p = alloc(data.byteLength);
      new Uint8Array(buffer(), p, data.byteLength).set(
        new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      );
      return p;
    },
    write: (p, data) => new Float32Array(buffer(), p, data.length).set(data),
    f32: (p, n) => new Float32Array(buffer().slice(p, p + 4 * n)),
  };
}

/**
 * The first index where `a` and `b` differ, or −1: numbers must match bit for bit, and a NaN
 * only has to meet a NaN — WebAssembly leaves a NaN result's sign and payload to the engine, so
 * two kernels (or V8's two compilers) may give NaNs of either sign for the same inputs.
 */
export function firstDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) {
    return Math.min(a.length, b.length);
  }
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) ? !Number.isNaN(b[i]) : x[i] !== y[i]) {
      return i;
    }
  }
  return -1;
}
