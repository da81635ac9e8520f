/**
 * Chooses and initializes the TensorFlow.js backend, and describes it as a fingerprint.
 *
 * `wasm` (default): @tensorflow/tfjs-backend-wasm, single-threaded under Node, deterministic.
 * `cpu`: the pure-JS reference backend. `tensorflow`: @tensorflow/tfjs-node when its native
 * library is installed (an optional dependency), loaded with TF_DETERMINISTIC_OPS=1 and fixed
 * thread counts; when it is missing, `resolveBackend` says so once and falls back to wasm.
 * Initialization is idempotent per process; switching backends is allowed (tests do it).
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { KERNELS_VERSION, registerKernels } from './kernels/register';
import { withSharedHeap } from './kernels/shared-heap';
import { InputError, type BackendFingerprint, type BackendName } from './types';

// Production mode: no debug checks, and no 'install tfjs-node' banner from the cpu backend (we
// report the backend in use ourselves).
tf.enableProdMode();

const require = createRequire(import.meta.url);
type WasmBackendModule = typeof import('@tensorflow/tfjs-backend-wasm');
let wasmRegistered = false;
let nativeLoaded: boolean | null = null;
let warnedNative = false;

/** Threads used by the native backend (fixed so results do not depend on the machine's load). */
export const NATIVE_THREADS = 1;

/** True when @tensorflow/tfjs-node and its native library can be loaded. */
export function nativeAvailable(): boolean {
  if (nativeLoaded === null) {
    try {
      process.env.TF_DETERMINISTIC_OPS = '1';
      process.env.TF_NUM_INTRAOP_THREADS = String(NATIVE_THREADS);
      process.env.TF_NUM_INTEROP_THREADS = String(NATIVE_THREADS);
      process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
      require('@tensorflow/tfjs-node');
      nativeLoaded = true;
    } catch {
      nativeLoaded = false;
    }
  }
  return nativeLoaded;
}

/**
 * The backend that will actually run for a requested one: `tensorflow` falls back to `wasm` when
 * the native library is missing, with one notice through `warn`.
 */
export function resolveBackend(
  requested: BackendName,
  warn: (msg: string) => void = () => {},
): BackendName {
  if (requested === 'tensorflow' && !nativeAvailable()) {
    if (!warnedNative) {
      warnedNative = true;
      warn(
        'backend tensorflow is not available (@tensorflow/tfjs-node or its native library is not installed); using wasm',
      );
    }
    return 'wasm';
  }
  return requested;
}

/**
 * Makes `name` the active tfjs backend. Each backend's package is loaded (with `require`: the
 * same module Node's ESM loader would give, without its scan of a CommonJS file) when it is first
 * used, so a wasm run never loads the cpu backend (~20 ms at every start).
 */
export async function useBackend(name: BackendName): Promise<void> {
  if (name === 'cpu') {
    require('@tensorflow/tfjs-backend-cpu'); // registers the backend (once: modules are cached)
  } else if (name === 'wasm') {
    if (!wasmRegistered) {
      const wasm = require('@tensorflow/tfjs-backend-wasm') as WasmBackendModule;
      const dist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
      wasm.setWasmPaths(join(dist, 'dist') + '/');
      wasmRegistered = true;
    }
  } else if (name === 'tensorflow') {
    if (!nativeAvailable()) {
      throw new InputError('backend tensorflow is not available on this machine');
    }
  }
  if (tf.getBackend() !== name) {
    // wasm: tfjs's heap as a shared memory, for kernel threads in place (./kernels/shared-heap.ts)
    const ok = await (name === 'wasm' ? withSharedHeap(() => tf.setBackend(name)) : tf.setBackend(name)); // prettier-ignore
    if (!ok) {
      throw new InputError(`backend ${name} failed to initialize`);
    }
  }
  await tf.ready();
  registerKernels(name);
}

export { describeFingerprint, INERT_FINGERPRINT_FIELDS, sameBits } from './fingerprint';

/**
 * Whether a backend can run here (`tensorflow` needs @tensorflow/tfjs-node and its native
 * library); never throws.
 */
export function backendAvailable(name: BackendName): boolean {
  return name !== 'tensorflow' || nativeAvailable();
}

/** The fingerprint of the active backend. Bitwise replay is promised within one fingerprint. */
export function fingerprint(name: BackendName): BackendFingerprint {
  const fp: BackendFingerprint = {
    backend: name,
    tfjs: tf.version_core,
    platform: process.platform,
    arch: process.arch,
  };
  if (name !== 'tensorflow') {
    fp.kernels = KERNELS_VERSION;
  }
  // (no `wasmFeatures`: tfjs's SIMD flag only picks tfjs's own binary, which training does not
  // use; Lockstep's kernels give the same bits with or without SIMD, see ./kernels/register.ts)
  if (name === 'tensorflow') {
    const node = require('@tensorflow/tfjs-node') as {
      version: { 'tfjs-node': string };
      versions?: Record<string, string>;
    };
    fp.library = String(node.version?.['tfjs-node'] ?? 'unknown');
    fp.cpu = cpus()[0]?.model ?? 'unknown';
    fp.threads = NATIVE_THREADS;
  }
  return fp;
}
