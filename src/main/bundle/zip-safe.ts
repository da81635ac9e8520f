/**
 * Zip archives for `.lockstep` bundles: a reader that is safe on hostile input, and a
 * deterministic writer.
 *
 * Libraries: `yauzl` reads (it reads the central directory through a file descriptor, never the
 * whole file, exposes the raw entry fields, and streams each entry's data) and `yazl` writes (same
 * author, streaming, lets us fix every header field). fflate was the alternative; its simple API
 * inflates whole entries into memory, which is what a zip-bomb check must not do.
 *
 * readZipSafely(path, limits) contract: returns every file entry's bytes by name, or throws a
 * BundleError (errors.ts) with its own code and a message naming the entry — before returning
 * anything, so a caller that validates first touches nothing on a refusal. Refused:
 *   - NOT_A_ZIP: empty file or no end-of-central-directory record; TRUNCATED: a zip whose end is
 *     missing or whose data runs past the end of the file; CORRUPT: any other broken structure.
 *   - names (decoded from the raw central-directory bytes; UTF-8 only, the Info-ZIP unicode-path
 *     extra field is ignored): ABSOLUTE_PATH (leading /), DRIVE_LETTER (`C:`), PARENT_SEGMENT
 *     (a `..` segment), BACKSLASH, NUL_IN_NAME, BAD_NAME (empty, `.` or empty segments, control
 *     characters, not UTF-8), DUPLICATE_ENTRY (the same name twice).
 *   - SYMLINK (external attributes with S_IFLNK), SPECIAL_FILE (another non-regular Unix type),
 *     ENCRYPTED (flag bit 0 or 6), UNSUPPORTED_COMPRESSION (not stored or deflate),
 *     OVERLAPPING_ENTRIES (two entries sharing one local header: the overlap zip bomb).
 *   - sizes, never trusting headers: TOO_MANY_ENTRIES (> maxEntries); ENTRY_TOO_LARGE (declared
 *     > maxEntryBytes); TOTAL_TOO_LARGE (declared or real sum > maxTotalBytes); SIZE_MISMATCH
 *     (stored entry whose compressed and uncompressed sizes differ, or data that inflates to more
 *     — streamed and counted, aborted at the first byte over — or fewer bytes than declared);
 *     CRC_MISMATCH (the data's CRC-32 differs from the header's).
 * Directory entries (`name/`, empty) are validated and skipped. Memory is bounded by the limits.
 * openZipSafely(path, limits) makes the same checks of the whole central directory first and
 * then inflates only the entries its caller asks for, one at a time (the bundle reader checks
 * the directory against its manifest before it inflates any object).
 *
 * writeZip(path, entries, onProgress?) contract: writes the entries (bytes, or a size and a loader
 * called when the entry's turn comes, so memory holds one entry) in the given order with fixed
 * metadata (mtime 1980-01-01 00:00 DOS time, no extended timestamp, mode 0644, deflate level 6),
 * so the same entries give the same bytes (with the same zlib). Names must pass the reader's
 * checks and be unique. It writes `<path>.tmp-…` in the same folder, fsyncs and renames, so `path`
 * is either absent/old or complete. onProgress(doneBytes, totalBytes) counts entry data consumed;
 * if it throws (e.g. an AbortSignal's throwIfAborted), writeZip rejects with that error and
 * leaves no file.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import yauzl from 'yauzl';
import yazl from 'yazl';
import { BundleError } from './errors';

export { BundleError } from './errors';
export type { BundleErrorCode } from './errors';

export interface ZipLimits {
  maxEntries: number;
  maxTotalBytes: number;
  maxEntryBytes: number;
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

/** Throws a BundleError if `name` is not a safe relative path of a bundle entry. */
export function checkEntryName(name: string): void {
  const q = JSON.stringify(name);
  if (name === '') {
    throw new BundleError('BAD_NAME', 'an entry has an empty name');
  }
  if (name.includes('\0')) {
    throw new BundleError('NUL_IN_NAME', `entry name ${q} contains a NUL byte`);
  }
  if (name.includes('\\')) {
    throw new BundleError('BACKSLASH', `entry name ${q} contains a backslash`);
  }
  if (name.startsWith('/')) {
    throw new BundleError('ABSOLUTE_PATH', `entry name ${q} is an absolute path`);
  }
  if (/^[A-Za-z]:/.test(name)) {
    throw new BundleError('DRIVE_LETTER', `entry name ${q} starts with a drive letter`);
  }
  const segments = name.split('/');
  if (segments.includes('..')) {
    throw new BundleError(
      'PARENT_SEGMENT',
      `entry name ${q} escapes the bundle with a ".." segment`,
    );
  }
  if (segments.some((s) => s === '' || s === '.')) {
    throw new BundleError('BAD_NAME', `entry name ${q} has an empty or "." path segment`);
  }
  if ([...name].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f)) {
    throw new BundleError('BAD_NAME', `entry name ${q} contains a control character`);
  }
}

/** A zip whose central directory passed every check; entries are inflated one at a time. */
export interface SafeZip {
  /** file entries (directories left out), in directory order */
  readonly names: string[];
  /** the declared (uncompressed) size of an entry */
  declared(name: string): number;
  /** inflates one entry (streamed, counted, CRC-checked); throws a BundleError */
  read(name: string): Promise<Uint8Array>;
  close(): void;
}

/**
 * Opens a zip and checks its whole central directory (names, kinds, declared sizes against the
 * limits) before any entry is inflated; the caller then reads only the entries it has checked
 * against its own manifest, one at a time, so memory holds at most what it keeps.
 */
export async function openZipSafely(path: string, limits: ZipLimits): Promise<SafeZip> {
  const zip = await openZip(path);
  try {
    if (zip.entryCount > limits.maxEntries) {
      throw new BundleError(
        'TOO_MANY_ENTRIES',
        `${path} has ${zip.entryCount} entries, more than the limit of ${limits.maxEntries}`,
      );
    }
    const files = new Map<string, yauzl.Entry>();
    const seen = new Set<string>();
    const headerOffsets = new Set<number>();
    let declaredTotal = 0;
    for (;;) {
      const entry = await nextEntry(zip);
      if (entry === null) {
        break;
      }
      const name = decodeName(entry);
      const q = JSON.stringify(name);
      const isDir = name.endsWith('/');
      checkEntryName(isDir ? name.slice(0, -1) : name);
      if (seen.has(name)) {
        throw new BundleError('DUPLICATE_ENTRY', `entry ${q} appears more than once`);
      }
      seen.add(name);
      if (entry.generalPurposeBitFlag & 0x41) {
        throw new BundleError('ENCRYPTED', `entry ${q} is encrypted`);
      }
      const type = (entry.externalFileAttributes >>> 16) & S_IFMT;
      if (type === S_IFLNK) {
        throw new BundleError('SYMLINK', `entry ${q} is a symbolic link`);
      }
      if (type !== 0 && type !== S_IFREG && !(type === S_IFDIR && isDir)) {
        throw new BundleError(
          'SPECIAL_FILE',
          `entry ${q} is not a regular file (mode ${type.toString(8)})`,
        );
      }
      if (headerOffsets.has(entry.relativeOffsetOfLocalHeader)) {
        throw new BundleError(
          'OVERLAPPING_ENTRIES',
          `entry ${q} shares its data with another entry`,
        );
      }
      headerOffsets.add(entry.relativeOffsetOfLocalHeader);
      if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
        throw new BundleError(
          'UNSUPPORTED_COMPRESSION',
          `entry ${q} uses compression method ${entry.compressionMethod} (only stored and deflate are read)`,
        );
      }
      const declared = entry.uncompressedSize;
      if (entry.compressionMethod === 0 && entry.compressedSize !== declared) {
        throw new BundleError(
          'SIZE_MISMATCH',
          `entry ${q} is stored with ${entry.compressedSize} bytes but declares ${declared}`,
        );
      }
      if (isDir) {
        if (declared !== 0) {
          throw new BundleError('SIZE_MISMATCH', `directory entry ${q} has data`);
        }
        continue;
      }
      if (declared > limits.maxEntryBytes) {
        throw new BundleError(
          'ENTRY_TOO_LARGE',
          `entry ${q} declares ${declared} bytes, more than the limit of ${limits.maxEntryBytes}`,
        );
      }
      if (declaredTotal + declared > limits.maxTotalBytes) {
        throw new BundleError(
          'TOTAL_TOO_LARGE',
          `${path} holds more than the limit of ${limits.maxTotalBytes} bytes (at entry ${q})`,
        );
      }
      declaredTotal += declared;
      files.set(name, entry);
    }
    let total = 0;
    return {
      names: [...files.keys()],
      declared: (name) => files.get(name)?.uncompressedSize ?? 0,
      async read(name) {
        const entry = files.get(name);
        if (entry === undefined) {
          throw new BundleError('CORRUPT', `the zip has no entry ${JSON.stringify(name)}`);
        }
        const q = JSON.stringify(name);
        const data = await readEntryData(zip, entry, q, entry.uncompressedSize);
        total += data.length;
        if (total > limits.maxTotalBytes) {
          throw new BundleError(
            'TOTAL_TOO_LARGE',
            `${path} holds more than the limit of ${limits.maxTotalBytes} bytes (at entry ${q})`,
          );
        }
        if (crc32(data) >>> 0 !== entry.crc32) {
          throw new BundleError('CRC_MISMATCH', `entry ${q} is damaged: its CRC-32 does not match`);
        }
        return data;
      },
      close: () => zip.close(),
    };
  } catch (e) {
    zip.close();
    throw e;
  }
}

export async function readZipSafely(
  path: string,
  limits: ZipLimits,
): Promise<Map<string, Uint8Array>> {
  const zip = await openZipSafely(path, limits);
  try {
    const out = new Map<string, Uint8Array>();
    for (const name of zip.names) {
      out.set(name, await zip.read(name));
    }
    return out;
  } finally {
    zip.close();
  }
}

async function openZip(path: string): Promise<yauzl.ZipFile> {
  const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    throw new BundleError('NOT_A_ZIP', `cannot open ${path}: ${e.code ?? e.message}`);
  });
  let head: Buffer;
  let size: number;
  try {
    size = (await fh.stat()).size;
    head = Buffer.alloc(4);
    await fh.read(head, 0, 4, 0);
  } catch (e) {
    throw new BundleError(
      'NOT_A_ZIP',
      `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  } finally {
    await fh.close();
  }
  if (size === 0) {
    throw new BundleError('NOT_A_ZIP', `${path} is empty, not a zip file`);
  }
  const looksLikeZip = head.readUInt32LE(0) === 0x04034b50;
  return new Promise((resolve, reject) => {
    yauzl.open(
      path,
      { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: false },
      (err, zip) => {
        if (err || !zip) {
          const msg = err?.message ?? 'no zip';
          if (/End of central directory record signature not found/.test(msg)) {
            reject(
              looksLikeZip
                ? new BundleError('TRUNCATED', `${path} is truncated: its zip directory is missing`)
                : new BundleError('NOT_A_ZIP', `${path} is not a zip file`),
            );
          } else {
            reject(structureError(path, msg));
          }
          return;
        }
        resolve(zip);
      },
    );
  });
}

function structureError(what: string, msg: string): BundleError {
  if (/unexpected EOF|overflows file bounds/i.test(msg)) {
    return new BundleError('TRUNCATED', `${what} is truncated: ${msg}`);
  }
  if (/encryption/i.test(msg)) {
    return new BundleError('ENCRYPTED', `${what} is encrypted: ${msg}`);
  }
  return new BundleError('CORRUPT', `${what} is not a valid zip: ${msg}`);
}

function nextEntry(zip: yauzl.ZipFile): Promise<yauzl.Entry | null> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      zip.off('entry', onEntry);
      zip.off('end', onEnd);
      zip.off('error', onError);
    };
    const onEntry = (e: yauzl.Entry) => (cleanup(), resolve(e));
    const onEnd = () => (cleanup(), resolve(null));
    const onError = (err: Error) => (cleanup(), reject(structureError('the zip', err.message)));
    zip.on('entry', onEntry);
    zip.on('end', onEnd);
    zip.on('error', onError);
    zip.readEntry();
  });
}

function decodeName(entry: yauzl.Entry): string {
  const raw = entry.fileNameRaw;
  const utf8Flag = (entry.generalPurposeBitFlag & 0x800) !== 0;
  if (!utf8Flag && raw.some((b) => b >= 0x80)) {
    throw new BundleError('BAD_NAME', 'an entry name is not ASCII and not flagged as UTF-8');
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new BundleError('BAD_NAME', 'an entry name is not valid UTF-8');
  }
}

/** Streams one entry, counting every byte; aborts as soon as it passes the declared size. */
function readEntryData(
  zip: yauzl.ZipFile,
  entry: yauzl.Entry,
  q: string,
  declared: number,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (err, stream) => {
      if (err || !stream) {
        reject(structureError(`entry ${q}`, err?.message ?? 'no stream'));
        return;
      }
      // one buffer of the declared size (checked against the limits and the caller's manifest
      // before this read): no second copy when the entry is complete
      let data: Buffer | null = null;
      let count = 0;
      let settled = false;
      const fail = (e: BundleError) => {
        if (settled) {
          return;
        }
        settled = true;
        stream.destroy();
        reject(e);
      };
      stream.on('data', (chunk: Buffer) => {
        count += chunk.length;
        if (count > declared) {
          fail(
            new BundleError(
              'SIZE_MISMATCH',
              `entry ${q} inflates to more than its declared ${declared} bytes (zip bomb?)`,
            ),
          );
          return;
        }
        data ??= Buffer.allocUnsafeSlow(declared);
        chunk.copy(data, count - chunk.length);
      });
      stream.on('error', (e: Error) =>
        fail(
          /overflows|EOF/i.test(e.message)
            ? new BundleError('TRUNCATED', `entry ${q} is truncated: ${e.message}`)
            : new BundleError('CORRUPT', `entry ${q} is damaged: ${e.message}`),
        ),
      );
      stream.on('end', () => {
        if (settled) {
          return;
        }
        if (count !== declared) {
          fail(
            new BundleError(
              'SIZE_MISMATCH',
              `entry ${q} has ${count} bytes but declares ${declared}`,
            ),
          );
          return;
        }
        settled = true;
        const out = data ?? Buffer.alloc(0);
        resolve(new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
      });
    });
  });
}

const CHUNK = 1 << 20;

/**
 * An entry to write: its bytes, or its size and a loader called when the entry is written (so a
 * large archive never holds every entry; the loader must give exactly `size` bytes).
 */
export type ZipEntryInput =
  | { name: string; data: Uint8Array }
  | { name: string; size: number; load: () => Promise<Uint8Array> };

const entrySize = (e: ZipEntryInput): number => ('data' in e ? e.data.length : e.size);

export async function writeZip(
  path: string,
  entries: ZipEntryInput[],
  onProgress?: (doneBytes: number, totalBytes: number) => void,
): Promise<void> {
  const names = new Set<string>();
  for (const e of entries) {
    checkEntryName(e.name);
    if (names.has(e.name)) {
      throw new BundleError(
        'DUPLICATE_ENTRY',
        `entry ${JSON.stringify(e.name)} appears more than once`,
      );
    }
    names.add(e.name);
  }
  const totalBytes = entries.reduce((n, e) => n + entrySize(e), 0);
  let doneBytes = 0;
  onProgress?.(0, totalBytes);

  const zip = new yazl.ZipFile();
  // yazl writes the DOS time fields from local-time components, so build the date from local
  // components at each call: 1980-01-01 00:00 whatever the time zone is.
  const mtime = new Date(1980, 0, 1, 0, 0, 0);
  for (const e of entries) {
    const options = {
      mtime,
      mode: 0o100644,
      compress: true,
      compressionLevel: 6,
      forceDosTimestamp: true,
      size: entrySize(e),
    };
    zip.addReadStreamLazy(e.name, options, (cb) => {
      const loaded = 'data' in e ? Promise.resolve(e.data) : e.load();
      // a loader that fails (or gives the wrong size) fails the whole write, leaving no file
      const fail = (err: Error) => (zip.outputStream as Readable).destroy(err);
      loaded.then((data) => {
        if (data.length !== entrySize(e)) {
          fail(new Error(`entry ${e.name}: loaded ${data.length} bytes, expected ${entrySize(e)}`));
          return;
        }
        cb(null, stream(data));
      }, fail);
    });
    const stream = (data: Uint8Array): Readable => {
      function* chunks() {
        for (let pos = 0; pos < data.length; pos += CHUNK) {
          const end = Math.min(pos + CHUNK, data.length);
          doneBytes += end - pos;
          onProgress?.(doneBytes, totalBytes);
          yield Buffer.from(data.buffer, data.byteOffset + pos, end - pos);
        }
      }
      const src = Readable.from(chunks(), { objectMode: false });
      // yazl does not listen for errors of its sources: an onProgress that throws (an abort)
      // must fail the whole write instead of crashing the process
      src.on('error', (err: Error) => (zip.outputStream as Readable).destroy(err));
      return src;
    };
  }
  zip.on('error', (err: Error) => (zip.outputStream as Readable).destroy(err));
  zip.end();

  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await pipeline(zip.outputStream, createWriteStream(tmp, { flags: 'wx' }));
    const fh = await open(tmp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
