/**
 * Canonical serialization of a {@link TrainingState} and its stateHash.
 *
 * A state is stored as two byte strings:
 * - the tensor blob: canonical safetensors of every tensor (sorted names, little-endian F32);
 * - the manifest: canonical JSON of everything else plus the blob's SHA-256 and every tensor's
 *   shape: `{format, config, step, cursor, rng, datasetDigest, backend, counters, tensors}`.
 *
 * stateHash = SHA-256(manifest bytes). Since the manifest names the blob by its SHA-256, the
 * stateHash covers every bit of the state (a Merkle form of "SHA-256 of a canonical serialization
 * of all of it"), and a checkpoint's id is simply the address of its manifest object.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json';
import { decodeSafetensors, encodeSafetensors } from './safetensors';
import type { NamedTensor, TrainingState } from './types';

export const STATE_FORMAT = 'lockstep/state@1';

/** The manifest object as stored (JSON). */
export interface StateManifest {
  format: typeof STATE_FORMAT;
  config: TrainingState['config'];
  step: number;
  cursor: number;
  rng: TrainingState['rng'];
  datasetDigest: string;
  backend: TrainingState['backend'];
  counters: Record<string, number>;
  tensors: { blob: string; shapes: Record<string, number[]> };
}

export interface EncodedState {
  /** stateHash = sha256(manifestBytes) = checkpoint id */
  id: string;
  manifest: StateManifest;
  manifestBytes: Uint8Array;
  blobId: string;
  blobBytes: Uint8Array;
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Serializes a state canonically and computes its stateHash. */
export function encodeState(state: TrainingState): EncodedState {
  const blobBytes = encodeSafetensors(state.tensors);
  const blobId = sha256Hex(blobBytes);
  const shapes: Record<string, number[]> = {};
  for (const name of Object.keys(state.tensors).sort()) {
    shapes[name] = state.tensors[name].shape;
  }
  const manifest: StateManifest = {
    format: STATE_FORMAT,
    config: state.config,
    step: state.step,
    cursor: state.cursor,
    rng: state.rng,
    datasetDigest: state.datasetDigest,
    backend: state.backend,
    counters: state.counters,
    tensors: { blob: blobId, shapes },
  };
  const manifestBytes = new TextEncoder().encode(canonicalJson(manifest));
  return { id: sha256Hex(manifestBytes), manifest, manifestBytes, blobId, blobBytes };
}

/** The stateHash of a state (same as encodeState(state).id). */
export function stateHash(state: TrainingState): string {
  return encodeState(state).id;
}

/** Parses a manifest; throws if it is not a state manifest of a known format. */
export function parseManifest(bytes: Uint8Array): StateManifest {
  let m: StateManifest;
  try {
    m = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as StateManifest;
  } catch {
    throw new Error('not a checkpoint manifest: invalid JSON');
  }
  if (m === null || typeof m !== 'object' || m.format !== STATE_FORMAT) {
    throw new Error(`not a checkpoint manifest of format ${STATE_FORMAT}`);
  }
  return m;
}

/** Rebuilds a state from its manifest and tensor blob, checking that they belong together. */
export function decodeState(manifest: StateManifest, blobBytes: Uint8Array): TrainingState {
  if (sha256Hex(blobBytes) !== manifest.tensors.blob) {
    throw new Error(`tensor blob ${manifest.tensors.blob} does not match its hash`);
  }
  const { tensors } = decodeSafetensors(blobBytes);
  const names = Object.keys(tensors).sort();
  const expected = Object.keys(manifest.tensors.shapes).sort();
  if (names.join('\n') !== expected.join('\n')) {
    throw new Error('tensor blob names do not match the manifest');
  }
  const out: Record<string, NamedTensor> = {};
  for (const n of names) {
    out[n] = tensors[n];
  }
  return {
    config: manifest.config,
    step: manifest.step,
    cursor: manifest.cursor,
    rng: manifest.rng,
    datasetDigest: manifest.datasetDigest,
    backend: manifest.backend,
    counters: manifest.counters,
    tensors: out,
  };
}
