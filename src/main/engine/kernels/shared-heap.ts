/**
 * The tfjs wasm heap as a shared WebAssembly memory, so that kernel threads (./threads.ts) work
 * on tensors where they are instead of copying operands into a memory of their own and results
 * back.
 *
 * tfjs-backend-wasm's SIMD binary defines its own memory, unshared. `withSharedHeap(init)` runs
 * the backend's initialisation with `WebAssembly.instantiate` wrapped so that a module that
 * defines exactly one memory (and imports none) is instantiated with that memory's type changed
 * to shared, maximum 65,536 pages (4 GiB; the emscripten heap grows to at most 65,535). That is
 * a change of the memory's type only — no instruction changes, and a non-atomic load or store
 * means the same on a shared memory — so tfjs computes exactly what it computed before; only its
 * heap's ArrayBuffer becomes a SharedArrayBuffer. Nothing else is patched: a binary of any other
 * shape, or an engine that refuses the result, is instantiated from its original bytes and the
 * threads copy as before (`sharedHeap` then answers null).
 */
import type { WasmMemory } from './wasm-module';

/** The largest shared memory: 65,536 pages of 64 KiB. */
export const SHARED_HEAP_MAX_PAGES = 65536;

/** Reads an unsigned LEB128 at `p`: [value, next position]. */
function readUleb(b: Uint8Array, p: number): [number, number] {
  let v = 0;
  let shift = 0;
  for (;;) {
    const x = b[p++];
    if (x === undefined || shift > 28) {
      throw new RangeError('bad LEB128');
    }
    v += (x & 0x7f) * 2 ** shift;
    shift += 7;
    if ((x & 0x80) === 0) {
      return [v, p];
    }
  }
}

function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    let x = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) {
      x |= 0x80;
    }
    out.push(x);
  } while (v > 0);
  return out;
}

/**
 * The module `bytes` with its one defined memory declared shared (max SHARED_HEAP_MAX_PAGES),
 * or null when the module is not of that shape (no or several memories, an imported memory, a
 * memory already shared or larger than the maximum, or bytes that do not parse).
 */
export function withSharedMemory(bytes: Uint8Array): Uint8Array | null {
  try {
    if (
      bytes.length < 8 ||
      bytes[0] !== 0 ||
      bytes[1] !== 0x61 ||
      bytes[2] !== 0x73 ||
      bytes[3] !== 0x6d
    ) {
      // prettier-ignore
      return null;
    }
    let p = 8;
    let memory: { start: number; end: number; min: number } | null = null;
    while (p < bytes.length) {
      const id = bytes[p];
      const [size, body] = readUleb(bytes, p + 1);
      const end = body + size;
      if (end > bytes.length) {
        return null;
      }
      if (id === 2) {
        // imports: refuse a module that imports a memory
        let [count, q] = readUleb(bytes, body);
        for (; count > 0; count--) {
          for (let s = 0; s < 2; s++) {
            const [len, r] = readUleb(bytes, q);
            q = r + len;
          }
          const kind = bytes[q++];
          if (kind === 2) {
            return null;
          }
          if (kind === 0) {
            q = readUleb(bytes, q)[1];
          } else if (kind === 1) {
            q += 1; // reference type
            const flags = bytes[q++];
            q = readUleb(bytes, q)[1];
            if (flags & 1) {
              q = readUleb(bytes, q)[1];
            }
          } else if (kind === 3) {
            q += 2; // value type, mutability
          } else {
            return null;
          }
        }
      } else if (id === 5) {
        const [count, q] = readUleb(bytes, body);
        const flags = bytes[q];
        if (count !== 1 || memory !== null || (flags !== 0 && flags !== 1)) {
          return null;
        }
        const [min, r] = readUleb(bytes, q + 1);
        const max = flags === 1 ? readUleb(bytes, r)[0] : SHARED_HEAP_MAX_PAGES;
        if (min > SHARED_HEAP_MAX_PAGES || max > SHARED_HEAP_MAX_PAGES) {
          return null;
        }
        memory = { start: p, end, min };
      }
      p = end;
    }
    if (memory === null) {
      return null;
    }
    const content = [1, 0x03, ...uleb(memory.min), ...uleb(SHARED_HEAP_MAX_PAGES)];
    const section = [5, ...uleb(content.length), ...content];
    const out = new Uint8Array(bytes.length - (memory.end - memory.start) + section.length);
    out.set(bytes.subarray(0, memory.start), 0);
    out.set(section, memory.start);
    out.set(bytes.subarray(memory.end), memory.start + section.length);
    return out;
  } catch {
    return null;
  }
}

type Instantiate = (source: unknown, imports?: unknown) => Promise<unknown>;

/**
 * Runs `init` (a wasm backend's initialisation) with WebAssembly.instantiate giving modules of
 * the shape above a shared memory; restores it afterwards. An instantiation the engine refuses
 * with the changed type is retried with the original bytes.
 */
export async function withSharedHeap<T>(init: () => Promise<T>): Promise<T> {
  const wasm = (globalThis as unknown as { WebAssembly: { instantiate: Instantiate } }).WebAssembly;
  const original = wasm.instantiate;
  wasm.instantiate = function (source: unknown, imports?: unknown): Promise<unknown> {
    const bytes =
      source instanceof Uint8Array
        ? source
        : source instanceof ArrayBuffer
          ? new Uint8Array(source)
          : null;
    const shared = bytes && withSharedMemory(bytes);
    if (shared) {
      return original.call(wasm, shared, imports).catch(() => original.call(wasm, source, imports));
    }
    return original.call(wasm, source, imports);
  };
  try {
    return await init();
  } finally {
    wasm.instantiate = original;
  }
}

/** `memory` when it is shared (the threads can use it in place), else null. */
export function sharedHeap(memory: unknown): WasmMemory | null {
  const m = memory as WasmMemory | undefined;
  return m && typeof SharedArrayBuffer !== 'undefined' && m.buffer instanceof SharedArrayBuffer
    ? m
    : null;
}
