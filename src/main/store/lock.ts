/**
 * The store's writer lock (like git's lockfile.h, for the whole store's mutable records).
 *
 * Promises:
 * - `run(fn)` runs `fn` while this process holds `<store>/lock`, a file created with O_EXCL that
 *   holds `{pid, host, time}` as JSON. Calls within one process are queued (an in-process
 *   mutex), so they never wait on their own lock file.
 * - When another process holds the lock, `run` retries with exponential backoff (5 ms … 200 ms,
 *   jittered) until `timeoutMs` (default 10 s), then throws a StoreWriteError naming the holder
 *   and the lock file.
 * - A lock is stale when it was taken on this host by a pid that no longer exists
 *   (`process.kill(pid, 0)` fails with ESRCH), or when it is unreadable (a crash between create
 *   and write) and older than 5 s. A stale lock is broken under a second lock (`lock.break`,
 *   O_EXCL) after re-reading it, so two waiters can never both break it and delete a fresh lock.
 *   A lock from another host is never considered stale.
 * - `runOptional(fn)` is for readers that want a consistent view but must also work on a
 *   read-only store (fsck): when the lock cannot be created because the store is not writable,
 *   or the lock is stale (reported, left in place), `fn` runs without it.
 */
import { randomInt } from 'node:crypto';
import { hostname } from 'node:os';
// fs.promises loads Node's promise API on first use (a `log` never needs it)
import { promises as fsp } from 'node:fs';
import { StoreWriteError } from './api';
import { errCode, Io, pidAlive } from './fsutil';

export interface LockHolder {
  pid: number;
  host: string;
  time: string;
}

/** What is found at the lock path right now. */
export interface LockState {
  present: boolean;
  holder: LockHolder | null;
  stale: boolean;
  /** raw content, to check that a lock has not changed before breaking it */
  raw: string;
}

const UNREADABLE_STALE_MS = 5000;
const BREAK_LOCK_STALE_MS = 10000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class WriterLock {
  private tail: Promise<void> = Promise.resolve();

  constructor(
    readonly file: string,
    private readonly io: Io,
    private readonly timeoutMs = 10000,
  ) {}

  /** Runs fn under the writer lock. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    return this.serial(async () => {
      await this.acquire();
      try {
        return await fn();
      } finally {
        await this.release();
      }
    });
  }

  /**
   * Runs fn under the lock when the store is writable and the lock is not stale; otherwise runs
   * it unlocked. Returns whether the lock was held.
   */
  async runOptional<T>(fn: (locked: boolean) => Promise<T>): Promise<T> {
    return this.serial(async () => {
      const st = await this.inspect();
      if (st.stale) {
        return fn(false);
      }
      try {
        await this.acquire();
      } catch (e) {
        if (e instanceof StoreWriteError && /read-only/.test(e.message)) {
          return fn(false);
        }
        throw e;
      }
      try {
        return await fn(true);
      } finally {
        await this.release();
      }
    });
  }

  /** Reads the lock file without touching it. */
  async inspect(): Promise<LockState> {
    let raw: string;
    let mtimeMs: number;
    try {
      raw = await fsp.readFile(this.file, 'utf8');
      mtimeMs = (await fsp.stat(this.file)).mtimeMs;
    } catch (e) {
      if (errCode(e) === 'ENOENT') {
        return { present: false, holder: null, stale: false, raw: '' };
      }
      throw e;
    }
    const holder = parseHolder(raw);
    let stale: boolean;
    if (holder === null) {
      stale = Date.now() - mtimeMs > UNREADABLE_STALE_MS;
    } else {
      stale = holder.host === hostname() && holder.pid !== process.pid && !pidAlive(holder.pid);
    }
    return { present: true, holder, stale, raw };
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private async acquire(): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    let delay = 5;
    for (;;) {
      const me: LockHolder = { pid: process.pid, host: hostname(), time: new Date().toISOString() };
      try {
        await this.io.createExclusive(
          this.file,
          new TextEncoder().encode(JSON.stringify(me) + '\n'),
        );
        return;
      } catch (e) {
        if (errCode(e) !== 'EEXIST') {
          throw e;
        }
      }
      const st = await this.inspect();
      if (st.stale) {
        await this.breakStale(st.raw);
        continue;
      }
      if (Date.now() >= deadline) {
        const who = st.holder
          ? `pid ${st.holder.pid} on host ${st.holder.host} since ${st.holder.time}`
          : 'another process';
        throw new StoreWriteError(
          `store is locked by ${who}; waited ${this.timeoutMs} ms for ${this.file}. ` +
            'If no Lockstep process is using this store, delete that file.',
        );
      }
      // jitter (not a training draw): spreads out writers that wait for the same lock
      await sleep(delay * (0.5 + randomInt(0, 1000) / 1000));
      delay = Math.min(delay * 2, 200);
    }
  }

  /** Removes a stale lock whose content is still `raw`, under `lock.break`. */
  private async breakStale(raw: string): Promise<void> {
    const breaker = this.file + '.break';
    try {
      await this.io.createExclusive(breaker, new TextEncoder().encode(String(process.pid)));
    } catch (e) {
      if (errCode(e) !== 'EEXIST') {
        throw e;
      }
      // someone else is breaking it; clear a breaker left by a crash, then let the caller retry
      try {
        const age = Date.now() - (await fsp.stat(breaker)).mtimeMs;
        if (age > BREAK_LOCK_STALE_MS) {
          await this.io.unlink(breaker);
        }
      } catch (e2) {
        if (errCode(e2) !== 'ENOENT') {
          throw e2;
        }
      }
      await sleep(5);
      return;
    }
    try {
      const st = await this.inspect();
      if (st.present && st.stale && st.raw === raw) {
        await this.io.unlink(this.file);
      }
    } finally {
      await this.io.unlink(breaker);
    }
  }

  private async release(): Promise<void> {
    await this.io.unlink(this.file);
  }
}

function parseHolder(raw: string): LockHolder | null {
  try {
    const v = JSON.parse(raw) as Partial<LockHolder>;
    if (typeof v.pid === 'number' && typeof v.host === 'string' && typeof v.time === 'string') {
      return { pid: v.pid, host: v.host, time: v.time };
    }
  } catch {
    // unreadable: a crash between create and write
  }
  return null;
}
