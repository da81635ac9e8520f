/**
 * The CLI's standard output, written without creating `process.stdout` where that is safe.
 *
 * Creating `process.stdout` for a pipe or a socket loads Node's net and stream modules: ~6 ms of
 * a `lockstep --help` or `lockstep log` whose output a script reads, longer than the command
 * itself. So on Linux, while nothing in the process has created `process.stdout` and standard
 * output is a pipe, a socket or a file, {@link writeOut} writes with `fs.writeSync(1, …)`; it is
 * complete when the call returns. From the moment anything creates `process.stdout` (a progress
 * line, a library, the fallback below), every later write goes through it, so the order of the
 * output never changes: what was written directly was written before the stream existed. Should a
 * direct write meet a full non-blocking pipe (EAGAIN), the rest goes through `process.stdout`;
 * should it find the reader gone (EPIPE), the rest is dropped quietly.
 * A terminal (or anything else, or another system) always gets `process.stdout`: its width and
 * colours are the stream's to say.
 *
 * {@link outputConfiguration} is commander's output configuration on top of these: help and
 * version text through {@link writeOut}, and, for direct output, the width and colours commander
 * gives a pipe (no width, no colours) without asking the stream.
 */
import type { Command, OutputConfiguration } from 'commander';
import { fstatSync, writeSync } from 'node:fs';

let streamCreated = false;
{
  // notes when process.stdout is first created (Node defines it as a configurable getter)
  const own = Object.getOwnPropertyDescriptor(process, 'stdout');
  if (own?.get !== undefined && own.configurable === true) {
    const get = own.get;
    Object.defineProperty(process, 'stdout', {
      configurable: true,
      enumerable: own.enumerable,
      get() {
        streamCreated = true;
        return get.call(process) as NodeJS.WriteStream;
      },
    });
  } else {
    streamCreated = true; // not as expected: always the stream
  }
}

let direct: boolean | undefined;

/** Whether standard output is written directly (see the header): decided once, on first use. */
export function directStdout(): boolean {
  if (direct === undefined) {
    direct = false;
    if (process.platform === 'linux' && !streamCreated) {
      try {
        const s = fstatSync(1);
        direct = s.isFIFO() || s.isSocket() || s.isFile();
      } catch {
        // no fd 1, or not one we can look at: the stream decides
      }
    }
  }
  return direct && !streamCreated;
}

/** Set when the reader of direct output has gone (EPIPE): later output is dropped. */
let readerGone = false;

/**
 * Writes `text` to standard output (completely, in order with all other output). When the
 * reader of a pipe has gone (`lockstep trace X | head`), the rest of the output is dropped
 * quietly and the command ends as it would have, rather than with an EPIPE error.
 */
export function writeOut(text: string): void {
  if (readerGone) {
    return;
  }
  if (!directStdout()) {
    process.stdout.write(text);
    return;
  }
  const bytes = Buffer.from(text, 'utf8');
  let done = 0;
  try {
    while (done < bytes.length) {
      done += writeSync(1, bytes, done, bytes.length - done);
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EPIPE') {
      readerGone = true;
      return;
    }
    if (code !== 'EAGAIN') {
      throw e;
    }
    direct = false;
    process.stdout.write(bytes.subarray(done));
  }
}

/** Commander's output configuration for a program whose standard output is {@link writeOut}. */
export function outputConfiguration(program: Command): OutputConfiguration {
  const defaults = program.configureOutput();
  return {
    writeOut,
    // (typed as number, but commander's own default gives undefined, "80 columns", for a pipe)
    getOutHelpWidth: () => (directStdout() ? undefined : defaults.getOutHelpWidth?.()) as number,
    getOutHasColors: () => (directStdout() ? false : (defaults.getOutHasColors?.() ?? false)),
  };
}
