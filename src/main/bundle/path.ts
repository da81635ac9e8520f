/**
 * The one rule that tells a bundle file from a store ref where either may be given (`verify`):
 * an existing file that ends in `.lockstep`, or any existing file that is a zip archive (a bundle
 * renamed `run.zip` is still a bundle; the bundle reader then checks it). A branch may be called
 * `x.lockstep`; it is read as a ref unless such a file is there. missingBundleFile names a
 * `.lockstep` / `.zip` path that does not exist, so it is reported as a missing file, not as an
 * unknown ref.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';

export const BUNDLE_EXTENSION = '.lockstep';

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];

/** True when `ref` names an existing `.lockstep` file or zip file rather than a store ref. */
export function isBundlePath(ref: string): boolean {
  let isFile: boolean;
  try {
    isFile = statSync(ref).isFile();
  } catch {
    return false;
  }
  if (!isFile) {
    return false;
  }
  if (ref.endsWith(BUNDLE_EXTENSION)) {
    return true;
  }
  const head = Buffer.alloc(4);
  let fd: number;
  try {
    fd = openSync(ref, 'r');
  } catch {
    return false;
  }
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  return ZIP_MAGIC.every((b, i) => head[i] === b);
}

/** A one-line problem when `ref` looks like a bundle file (`.lockstep`, `.zip`) that is not there. */
export function missingBundleFile(ref: string): string | null {
  if (!/\.(lockstep|zip)$/i.test(ref) || isBundlePath(ref)) {
    return null;
  }
  const st = statSync(ref, { throwIfNoEntry: false });
  return st === undefined ? `no such file: ${ref}` : st.isFile() ? null : `${ref} is not a file`;
}
