/**
 * Notices changes to a store's run graph made by anyone — this process, a CLI in another
 * terminal, another app window — by polling what the graph is read from.
 *
 * Promises:
 * - {@link graphSignature} is a cheap fingerprint of the graph's files: every branch record under
 *   `refs/heads` and every run record (path, inode, size, modification time), and the
 *   modification time of each `nodes/xx` fan-out folder (every node record is written by
 *   temp file + rename into it, which changes the folder's time). It reads no file contents.
 * - {@link watchStore} calls `onChange` once per poll in which the signature differs from the
 *   previous one, never for the first reading. Polls never overlap; a missing folder reads as
 *   empty; an error in one poll is retried at the next. Its timer does not keep a process alive.
 *
 * Polling rather than `fs.watch`: it behaves the same on every platform and file system
 * (network folders included), and a poll of a store with a few hundred branches is a few
 * hundred `stat` calls.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Disposer } from '../../shared/contract';
import { Layout } from './layout';

/** Default poll interval: a change shows within half a second plus one refresh. */
export const WATCH_INTERVAL_MS = 500;

async function entries(dir: string): Promise<import('node:fs').Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

async function fileLine(file: string, name: string): Promise<string> {
  const st = await stat(file).catch(() => null);
  return st === null ? `${name} gone` : `${name} ${st.ino} ${st.size} ${st.mtimeMs}`;
}

/** Every file under `dir` (recursively) as "relative-name inode size mtime". */
async function filesUnder(dir: string, prefix: string, out: string[]): Promise<void> {
  for (const e of await entries(dir)) {
    const name = `${prefix}/${e.name}`;
    if (e.isDirectory()) {
      await filesUnder(path.join(dir, e.name), name, out);
    } else if (e.isFile()) {
      out.push(await fileLine(path.join(dir, e.name), name));
    }
  }
}

/** The fingerprint of the graph files of the store at `dir` (see the module comment). */
export async function graphSignature(dir: string): Promise<string> {
  const L = new Layout(dir);
  const lines: string[] = [];
  await filesUnder(L.heads, 'heads', lines);
  await filesUnder(L.runs, 'runs', lines);
  for (const e of await entries(L.nodes)) {
    if (e.isDirectory()) {
      lines.push(await fileLine(path.join(L.nodes, e.name), `nodes/${e.name}`));
    }
  }
  return lines.sort().join('\n');
}

/** Polls the store at `dir` every `intervalMs` and calls `onChange` when its graph changed. */
export function watchStore(
  dir: string,
  onChange: () => void,
  intervalMs: number = WATCH_INTERVAL_MS,
): Disposer {
  let last: string | null = null;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const poll = async (): Promise<void> => {
    try {
      const sig = await graphSignature(dir);
      if (last !== null && sig !== last && !stopped) {
        onChange();
      }
      last = sig;
    } catch {
      // retried at the next poll
    }
    if (!stopped) {
      timer = setTimeout(() => void poll(), intervalMs);
      timer.unref?.();
    }
  };
  void poll();
  return () => {
    stopped = true;
    if (timer !== null) {
      clearTimeout(timer);
    }
  };
}
