/**
 * Errors, declared once for every layer (after isomorphic-git's `BaseError`).
 *
 * - {@link LockstepError} is the base of every error the app means to show: it carries the
 *   contract's {@link ErrorCode} (`wireCode`) and serialises itself with {@link LockstepError.toWire};
 *   {@link LockstepError.fromWire} rebuilds one on the other side of any wire (RPC, job process).
 *   Subclasses (InputError, RefError, the store's, BundleError, CliError) only set the code and
 *   their own fields.
 * - {@link toWireError} is the one mapping of anything thrown to a {@link WireError}: a
 *   LockstepError as itself, an abort as CANCELLED, anything else as INTERNAL with its name.
 *
 * Pure: no Node imports, safe for the renderer.
 */

export type ErrorCode =
  | 'BAD_INPUT'
  | 'BAD_REF'
  | 'UNKNOWN_METHOD'
  | 'STORE_CORRUPT'
  | 'STORE_WRITE'
  | 'STORE_CONFLICT'
  | 'BUNDLE'
  | 'NOT_FOUND'
  | 'CANCELLED'
  | 'UNAUTHORIZED'
  | 'INTERNAL';

/** Every error code, for validating errors that arrive over a wire. */
export const ERROR_CODES: readonly ErrorCode[] = [
  'BAD_INPUT',
  'BAD_REF',
  'UNKNOWN_METHOD',
  'STORE_CORRUPT',
  'STORE_WRITE',
  'STORE_CONFLICT',
  'BUNDLE',
  'NOT_FOUND',
  'CANCELLED',
  'UNAUTHORIZED',
  'INTERNAL',
];

/** An error as data on the wire. */
export interface WireError {
  name: string;
  code: ErrorCode;
  message: string;
}

/** Longest message that crosses a wire. */
const MAX_MESSAGE = 2000;

/** The base of every error the app means to show; it knows its wire form. */
export class LockstepError extends Error {
  constructor(
    /** the contract's code this error crosses a wire with */
    readonly wireCode: ErrorCode,
    message: string,
    name: string,
  ) {
    super(message);
    this.name = name;
  }

  /** The error as data, for a wire. */
  toWire(): WireError {
    return { name: this.name, code: this.wireCode, message: this.message.slice(0, MAX_MESSAGE) };
  }

  /** The error an end of a wire received, rebuilt (as a {@link ServiceError}). */
  static fromWire(e: WireError): ServiceError {
    return new ServiceError(e.code, e.message, e.name);
  }
}

/** An error of the service as a client sees it: a contract code and a message. */
export class ServiceError extends LockstepError {
  constructor(
    readonly code: ErrorCode,
    message: string,
    name = 'ServiceError',
  ) {
    super(code, message, name);
  }
}

/**
 * Any thrown value as a {@link WireError}; unknown errors become INTERNAL with their name in the
 * message ("TypeError: …") — except a plain Error's, whose name says nothing (Node's file errors
 * are such: "ELOOP: too many symbolic links…", not "Error: ELOOP: …").
 */
export function toWireError(e: unknown): WireError {
  if (e instanceof LockstepError) {
    return e.toWire();
  }
  if (e instanceof Error) {
    const message = e.message.slice(0, MAX_MESSAGE);
    if (e.name === 'AbortError') {
      return { name: e.name, code: 'CANCELLED', message };
    }
    return {
      name: e.name,
      code: 'INTERNAL',
      message: e.name === 'Error' ? message : `${e.name}: ${message}`,
    };
  }
  return { name: 'Error', code: 'INTERNAL', message: String(e).slice(0, MAX_MESSAGE) };
}
