/**
 * Exit codes of the CLI contract: 0 success; 1 a negative answer (verify failed, compare found
 * differences, fsck found damage, training diverged); 2 bad input or an error, with one clear line
 * on stderr.
 */
import { LockstepError } from '../shared/errors';

export const EXIT_NEGATIVE = 1;
export const EXIT_ERROR = 2;

/** A user-facing error: its message is printed as one line and the CLI exits with 2. */
export class CliError extends LockstepError {
  constructor(message: string) {
    super('BAD_INPUT', message, 'CliError');
  }
}

/** One line for any error: the app's own errors by message, unknown ones with their name. */
export function describeError(e: unknown): string {
  if (e instanceof Error) {
    const line = e.message.split('\n')[0];
    return e instanceof LockstepError ? line : `${e.name}: ${line}`;
  }
  return String(e);
}
