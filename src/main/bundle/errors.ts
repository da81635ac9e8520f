/**
 * The error of a refused bundle. Every refusal has its own `code` (stable, for tests and the CLI's
 * JSON) and a one-line message naming the file or entry at fault. The CLI maps it to exit code 2.
 */
import { LockstepError } from '../../shared/errors';

export type BundleErrorCode =
  // the archive as a whole
  | 'NOT_A_ZIP'
  | 'TRUNCATED'
  | 'CORRUPT'
  | 'TOO_MANY_ENTRIES'
  | 'TOTAL_TOO_LARGE'
  // one entry's name
  | 'BAD_NAME'
  | 'ABSOLUTE_PATH'
  | 'DRIVE_LETTER'
  | 'PARENT_SEGMENT'
  | 'BACKSLASH'
  | 'NUL_IN_NAME'
  | 'DUPLICATE_ENTRY'
  // one entry's kind or contents
  | 'SYMLINK'
  | 'SPECIAL_FILE'
  | 'ENCRYPTED'
  | 'UNSUPPORTED_COMPRESSION'
  | 'OVERLAPPING_ENTRIES'
  | 'SIZE_MISMATCH'
  | 'ENTRY_TOO_LARGE'
  | 'CRC_MISMATCH'
  // bundle-level validation (manifest, hashes), used by the bundle reader
  | 'NOT_A_BUNDLE'
  | 'UNKNOWN_VERSION'
  | 'BAD_MANIFEST'
  | 'HASH_MISMATCH'
  | 'MISSING_OBJECT'
  | 'UNEXPECTED_ENTRY'
  | 'BAD_OBJECT'
  | 'BAD_GRAPH'
  // import into a store
  | 'NAME_CLASH';

/** Where a refusal points when it is about one object of a bundle (for verify's report). */
export interface BundleErrorDetail {
  /** the object's id (its entry is objects/<id>) */
  object?: string;
  /** the checkpoint that needs the object, and its step */
  checkpoint?: string;
  step?: number;
}

/** A refused bundle: `code` says why; every refusal crosses a wire as BUNDLE. */
export class BundleError extends LockstepError {
  constructor(
    readonly code: BundleErrorCode,
    message: string,
    readonly detail: BundleErrorDetail = {},
  ) {
    super('BUNDLE', message, 'BundleError');
  }
}
