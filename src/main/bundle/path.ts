/**
 * The one rule that tells a bundle file from a store ref where either may be given (`verify`):
 * a path that ends in `.lockstep` and names an existing file. A branch may be called
 * `x.lockstep`; it is read as a ref unless such a file is there.
 */
import { statSync } from 'node:fs';

export const BUNDLE_EXTENSION = '.lockstep';

/** True when `ref` names an existing `.lockstep` file rather than a store ref. */
export function isBundlePath(ref: string): boolean {
  if (!ref.endsWith(BUNDLE_EXTENSION)) {
    return false;
  }
  try {
    return statSync(ref).isFile();
  } catch {
    return false;
  }
}
