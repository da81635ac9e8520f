/**
 * Object kinds: what an object referenced from a given place must be.
 *
 * A node's own id names a checkpoint manifest (a state manifest whose step, cursor and counters
 * are in range), the manifest names a tensor blob (safetensors), and a node's `trace` names a
 * trace segment. `objectKindProblem(kind, bytes)` says in one line why `bytes` are not an object
 * of that kind (or null); fsck, import and the bundle reader use it, so an object typed wrongly
 * where it is referenced (a trace that is really a tensor blob) is refused or reported before any
 * command trips over it.
 */
import { parseManifest } from '../engine/state';
import { decodeSafetensors } from '../engine/safetensors';
import { parseTrace } from '../engine/trace';
import { jsonShapeProblem, recordIssues, stateCountersSchema } from '../../shared/record-schemas';

export type ObjectKind = 'manifest' | 'tensors' | 'trace';

/** Why `bytes` are not an object of `kind`, or null. */
export function objectKindProblem(kind: ObjectKind, bytes: Uint8Array): string | null {
  try {
    if (kind === 'tensors') {
      decodeSafetensors(bytes);
      return null;
    }
    if (kind === 'trace') {
      const seg = parseTrace(bytes);
      const shape = jsonShapeProblem(seg, 8, 50_000_000);
      return shape === null ? null : `not a trace segment: ${shape}`;
    }
    const m = parseManifest(bytes);
    const shape = jsonShapeProblem(m);
    if (shape !== null) {
      return `not a checkpoint manifest: ${shape}`;
    }
    const res = stateCountersSchema.safeParse(m);
    return res.success ? null : `not a valid checkpoint manifest: ${recordIssues(res.error)}`;
  } catch (e) {
    return (e as Error).message;
  }
}
