/**
 * Backend fingerprints as data: whether two promise the same bits, and one line that describes
 * one. No tfjs here (./backend.ts, which loads tfjs, re-exports these), so commands that only read
 * the store — `show`, `compare` of stored states, `study --list` — start without loading tfjs.
 */
import type { BackendFingerprint } from './types';

/**
 * Fields older records carry that never change Lockstep's bits. They stay in those records (their
 * ids depend on them) but are ignored when two fingerprints are compared.
 */
export const INERT_FINGERPRINT_FIELDS = ['wasmFeatures'] as const;

/** Whether two fingerprints promise the same bits (equal apart from the inert fields). */
export function sameBits(a: BackendFingerprint, b: BackendFingerprint): boolean {
  const strip = (fp: BackendFingerprint): string => {
    const o: Record<string, unknown> = { ...fp };
    for (const k of INERT_FINGERPRINT_FIELDS) {
      delete o[k];
    }
    return JSON.stringify(
      Object.keys(o)
        .sort()
        .map((k) => [k, o[k]]),
    );
  };
  return strip(a) === strip(b);
}

/** A fingerprint as one line in a fixed field order, e.g. `wasm · tfjs 4.22.0 · kernels lockstep-kernels@1 · linux/x64`. */
export function describeFingerprint(fp: BackendFingerprint): string {
  const parts: string[] = [fp.backend, `tfjs ${fp.tfjs}`];
  if (fp.kernels !== undefined) {
    parts.push(`kernels ${fp.kernels}`);
  }
  if (fp.library !== undefined) {
    parts.push(`library ${fp.library}`);
  }
  if (fp.cpu !== undefined) {
    parts.push(`cpu ${fp.cpu}`);
  }
  if (fp.threads !== undefined) {
    parts.push(`${fp.threads} thread(s)`);
  }
  if (fp.wasmFeatures !== undefined) {
    parts.push(fp.wasmFeatures);
  }
  parts.push(`${fp.platform}/${fp.arch}`);
  return parts.join(' · ');
}
