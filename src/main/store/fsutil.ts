/**
 * The store's file-system layer: crash-safe writes, error mapping and a fault-injection hook.
 *
 * Promises:
 * - `writeAtomic(file, bytes)` writes to a temp file in the same folder (`.tmp-<pid>-<random>`),
 *   fsyncs it, renames it over `file` and fsyncs the folder (best effort). A reader sees the old content or the
 *   new, never half. On any failure the temp file is removed and nothing else has changed.
 * - `createExclusive(file, bytes)` creates a file that must not exist yet (O_EXCL), used for lock
 *   files; on failure after creation the file is removed again.
 * - Every operation that changes the disk first calls the optional {@link FaultHook} with the
 *   operation and path; if the hook throws (e.g. an Error with code 'ENOSPC'), the operation
 *   fails exactly as if the OS had failed it. Tests use this to simulate a full disk or a
 *   read-only store at any write position.
 * - Reads (`readIfExists`, `hashFile`) never follow a symbolic link and never read a file
 *   larger than they can hold: a store holds no links, and an oversized file is damage.
 * - Errors of the OS (EACCES, EROFS, EPERM, ENOSPC, EDQUOT, …) become a {@link StoreWriteError}
 *   whose message names the path: "store is read-only: …", "disk full while writing …".
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
// fs.promises loads Node's promise API on first use (a `log` never needs it)
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { StoreCorruptError, StoreWriteError } from './api';

/** Disk-changing operations the fault hook sees. */
export type FsOp =
  'mkdir' | 'open' | 'write' | 'fsync' | 'fsyncdir' | 'rename' | 'unlink' | 'utimes';

/** Called before every disk-changing operation; throwing makes that operation fail. */
export type FaultHook = (op: FsOp, file: string) => void;

/** Prefix of every temp file the store writes (never a valid object, record or branch name). */
export const TEMP_PREFIX = '.tmp-';

const READ_ONLY_CODES = new Set(['EACCES', 'EROFS', 'EPERM']);
const FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);

/** A fresh temp file name owned by this process. */
export function tempName(): string {
  return `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`;
}

export function isTempName(name: string): boolean {
  return name.startsWith(TEMP_PREFIX);
}

/** The pid that created a temp file, or null if the name does not carry one. */
export function tempOwnerPid(name: string): number | null {
  const m = /^\.tmp-(\d+)-/.exec(name);
  return m ? Number(m[1]) : null;
}

/** Whether a process with this pid exists on this host. */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) {
    return false;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errCode(e) !== 'ESRCH';
  }
}

export function errCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Maps an OS error on `file` to a StoreWriteError with a clear message; other errors pass. */
export function toWriteError(e: unknown, file: string): unknown {
  if (e instanceof StoreWriteError) {
    return e;
  }
  const code = errCode(e);
  if (code === undefined || !code.startsWith('E')) {
    return e;
  }
  if (READ_ONLY_CODES.has(code)) {
    return new StoreWriteError(`store is read-only: cannot write ${file} (${code})`);
  }
  if (FULL_CODES.has(code)) {
    return new StoreWriteError(`disk full while writing ${file} (${code})`);
  }
  const msg = e instanceof Error ? e.message : String(e);
  return new StoreWriteError(`cannot write ${file}: ${msg}`);
}

/** Largest file the store reads into memory (Node's readFile limit: 2 GiB − 1). */
export const MAX_READ_BYTES = 2 ** 31 - 1;

const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;

/**
 * Opens a store file for reading without following a final symbolic link; null when it does not
 * exist. A link is corrupt data (a store holds none).
 */
async function openNoFollow(file: string): Promise<FileHandle | null> {
  try {
    return await fsp.open(file, fs.constants.O_RDONLY | O_NOFOLLOW);
  } catch (e) {
    return openFailure(e, file);
  }
}

/** The OS error of opening `file` as openNoFollow maps it: null for a missing file. */
function openFailure(e: unknown, file: string): null {
  const code = errCode(e);
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return null;
  }
  if (code === 'ELOOP' || code === 'EMLINK') {
    throw new StoreCorruptError(file, `${file} is a symbolic link; a store holds no links`);
  }
  throw e;
}

/** Throws when `st` (of `file`) is not a regular file of at most `maxBytes`. */
function checkReadable(st: fs.Stats, file: string, maxBytes: number): void {
  if (!st.isFile()) {
    throw new StoreCorruptError(file, `${file} is not a regular file`);
  }
  if (st.size > maxBytes) {
    throw new StoreCorruptError(
      file,
      `${file} is oversized: ${st.size} bytes, more than the ${maxBytes} the store reads`,
    );
  }
}

/**
 * Files up to this size (records, refs, the marker: a few hundred bytes to a few kB) are read
 * with synchronous calls: four round trips through libuv's thread pool (open, stat, read, close)
 * cost ~1 ms on a slow machine, the calls themselves ~0.05 — `lockstep log` reads every record
 * of the store — and a read this small holds the event loop for microseconds.
 */
export const SYNC_READ_BYTES = 1 << 16;

/** readIfExists of a file of at most SYNC_READ_BYTES; undefined (nothing read) when larger. */
function readSmallSync(file: string, maxBytes: number): Uint8Array | null | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | O_NOFOLLOW);
  } catch (e) {
    return openFailure(e, file);
  }
  try {
    const st = fs.fstatSync(fd);
    checkReadable(st, file, maxBytes);
    if (st.size > SYNC_READ_BYTES) {
      return undefined;
    }
    const b = fs.readFileSync(fd);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Reads a file as a plain Uint8Array, or returns null when it does not exist. Never follows a
 * symbolic link as the last part of the path and never reads more than `maxBytes`: a link, a
 * folder or a larger file is a StoreCorruptError naming the file (a store holds none of them).
 * Small files are read synchronously (SYNC_READ_BYTES), larger ones through the thread pool.
 */
export async function readIfExists(
  file: string,
  maxBytes = MAX_READ_BYTES,
): Promise<Uint8Array | null> {
  const small = readSmallSync(file, maxBytes);
  if (small !== undefined) {
    return small;
  }
  const fh = await openNoFollow(file);
  if (fh === null) {
    return null;
  }
  try {
    checkReadable(await fh.stat(), file, maxBytes);
    const b = await fh.readFile();
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } finally {
    await fh.close();
  }
}

/**
 * SHA-256 of a file, streamed (any size), without following a final symbolic link; null when it
 * does not exist.
 */
export async function hashFile(file: string): Promise<{ hash: string; size: number } | null> {
  const fh = await openNoFollow(file);
  if (fh === null) {
    return null;
  }
  try {
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    let size = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) {
        break;
      }
      h.update(buf.subarray(0, bytesRead));
      size += bytesRead;
    }
    return { hash: h.digest('hex'), size };
  } finally {
    await fh.close();
  }
}

export async function exists(file: string): Promise<boolean> {
  try {
    await fsp.stat(file);
    return true;
  } catch (e) {
    if (errCode(e) === 'ENOENT' || errCode(e) === 'ENOTDIR') {
      return false;
    }
    throw e;
  }
}

/**
 * Directory entries, or [] when the directory does not exist. Read with one synchronous call: a
 * store's folders hold one entry per run, branch or 1/256 of the checkpoints or objects, which
 * the system lists in microseconds, while a round trip through the thread pool costs ~1 ms on a
 * slow machine (`lockstep log` lists five folders of a small store before it prints).
 */
export async function listDir(dir: string): Promise<fs.Dirent[]> {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if (errCode(e) === 'ENOENT' || errCode(e) === 'ENOTDIR') {
      return [];
    }
    throw e;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Disk-changing operations, each routed through the fault hook. */
export class Io {
  private readonly knownDirs = new Set<string>();

  constructor(private readonly faults?: FaultHook) {}

  private hit(op: FsOp, file: string): void {
    this.faults?.(op, file);
  }

  /** mkdir -p, remembered so the common case costs no syscall. */
  async mkdirp(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) {
      return;
    }
    try {
      this.hit('mkdir', dir);
      await fsp.mkdir(dir, { recursive: true });
    } catch (e) {
      throw toWriteError(e, dir);
    }
    this.knownDirs.add(dir);
  }

  /** Temp file + fsync + rename + fsync(dir). Leaves no temp file behind on failure. */
  async writeAtomic(file: string, bytes: Uint8Array): Promise<void> {
    const dir = path.dirname(file);
    await this.mkdirp(dir);
    const tmp = path.join(dir, tempName());
    let fh: FileHandle | undefined;
    let tmpExists = false;
    try {
      this.hit('open', tmp);
      fh = await fsp.open(tmp, 'wx', 0o644);
      tmpExists = true;
      this.hit('write', tmp);
      await fh.writeFile(bytes);
      this.hit('fsync', tmp);
      await fh.sync();
      await fh.close();
      fh = undefined;
      this.hit('rename', file);
      await renameRetrying(tmp, file);
      tmpExists = false;
    } catch (e) {
      if (fh) {
        await fh.close().catch(() => undefined);
      }
      if (tmpExists) {
        await fsp.unlink(tmp).catch(() => undefined);
      }
      throw toWriteError(e, file);
    }
    await this.fsyncDir(dir);
  }

  /**
   * Writes `bytes` to a fresh temp file in `dir` (which must exist) and fsyncs it; returns its
   * path. Leaves no file behind on failure. (Staging: see ./staging.ts.)
   */
  async writeTemp(dir: string, bytes: Uint8Array): Promise<string> {
    const tmp = path.join(dir, tempName());
    let fh: FileHandle | undefined;
    let created = false;
    try {
      this.hit('open', tmp);
      fh = await fsp.open(tmp, 'wx', 0o644);
      created = true;
      this.hit('write', tmp);
      await fh.writeFile(bytes);
      this.hit('fsync', tmp);
      await fh.sync();
      await fh.close();
      fh = undefined;
      return tmp;
    } catch (e) {
      await fh?.close().catch(() => undefined);
      if (created) {
        await fsp.unlink(tmp).catch(() => undefined);
      }
      throw toWriteError(e, tmp);
    }
  }

  /** Renames a complete temp file over `file` (making its folder) and fsyncs the folder. */
  async renameInto(tmp: string, file: string): Promise<void> {
    const dir = path.dirname(file);
    await this.mkdirp(dir);
    try {
      this.hit('rename', file);
      await renameRetrying(tmp, file);
    } catch (e) {
      throw toWriteError(e, file);
    }
    await this.fsyncDir(dir);
  }

  /** Creates `file` with O_EXCL; throws the raw EEXIST error when it exists. */
  async createExclusive(file: string, bytes: Uint8Array): Promise<void> {
    let fh: FileHandle | undefined;
    try {
      this.hit('open', file);
      fh = await fsp.open(file, 'wx', 0o644);
    } catch (e) {
      if (errCode(e) === 'EEXIST') {
        throw e;
      }
      throw toWriteError(e, file);
    }
    try {
      this.hit('write', file);
      await fh.writeFile(bytes);
      await fh.close();
    } catch (e) {
      await fh.close().catch(() => undefined);
      await fsp.unlink(file).catch(() => undefined);
      throw toWriteError(e, file);
    }
  }

  /**
   * Makes a rename in `dir` durable. Best effort: unsupported on Windows and some file systems,
   * and once the rename is done the new content is what readers see, so failing the write here
   * would report a failure for a change that happened.
   */
  async fsyncDir(dir: string): Promise<void> {
    if (process.platform === 'win32') {
      return;
    }
    let fh: FileHandle | undefined;
    try {
      this.hit('fsyncdir', dir);
      fh = await fsp.open(dir, 'r');
      await fh.sync();
    } catch {
      // see above
    } finally {
      await fh?.close().catch(() => undefined);
    }
  }

  /** Removes a file; a file that is already gone is fine. */
  async unlink(file: string): Promise<void> {
    try {
      this.hit('unlink', file);
      await fsp.unlink(file);
    } catch (e) {
      if (errCode(e) !== 'ENOENT') {
        throw toWriteError(e, file);
      }
    }
  }

  /** Best effort: sets a file's mtime to now (keeps a deduplicated object young for gc). */
  async touch(file: string): Promise<void> {
    try {
      this.hit('utimes', file);
      const now = new Date();
      await fsp.utimes(file, now, now);
    } catch {
      // a read-only store still deduplicates; freshness only matters to a concurrent gc
    }
  }
}

/** rename, retried briefly on Windows where a reader holding the target makes it fail. */
async function renameRetrying(from: string, to: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await fsp.rename(from, to);
      return;
    } catch (e) {
      const code = errCode(e);
      const transient = code === 'EPERM' || code === 'EACCES' || code === 'EBUSY';
      if (process.platform !== 'win32' || !transient || i >= 10) {
        throw e;
      }
      await sleep(10 * (i + 1));
    }
  }
}
