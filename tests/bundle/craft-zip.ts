/**
 * A hand-written zip assembler for tests: it writes the archives that libraries refuse to write
 * (lying sizes, bad names, symlinks, duplicates, overlaps), byte by byte.
 */
import { crc32, deflateRawSync } from 'node:zlib';

export interface RawEntry {
  name: string | Buffer;
  /** the bytes as stored in the archive (already deflated when method is 8) */
  stored: Buffer;
  method?: number;
  crc?: number;
  compressedSize?: number;
  uncompressedSize?: number;
  flags?: number;
  externalAttr?: number;
  /** write the central-directory record pointing at this earlier entry's local header */
  sameLocalHeaderAs?: number;
}

/** Builds an archive: local headers + data, central directory, end-of-central-directory. */
export function craftZip(entries: RawEntry[], opts: { entryCount?: number } = {}): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  const offsets: number[] = [];
  let offset = 0;
  entries.forEach((e, i) => {
    const name = typeof e.name === 'string' ? Buffer.from(e.name, 'utf8') : e.name;
    const method = e.method ?? 0;
    const flags = e.flags ?? 0x800;
    const usize = e.uncompressedSize ?? e.stored.length;
    const csize = e.compressedSize ?? e.stored.length;
    const crc = e.crc ?? 0;
    let localOffset = offset;
    if (e.sameLocalHeaderAs !== undefined) {
      localOffset = offsets[e.sameLocalHeaderAs];
    } else {
      const lh = Buffer.alloc(30);
      lh.writeUInt32LE(0x04034b50, 0);
      lh.writeUInt16LE(20, 4); // version needed
      lh.writeUInt16LE(flags, 6);
      lh.writeUInt16LE(method, 8);
      lh.writeUInt16LE(0, 10); // time
      lh.writeUInt16LE(0x21, 12); // date 1980-01-01
      lh.writeUInt32LE(crc, 14);
      lh.writeUInt32LE(csize, 18);
      lh.writeUInt32LE(usize, 22);
      lh.writeUInt16LE(name.length, 26);
      lh.writeUInt16LE(0, 28);
      parts.push(lh, name, e.stored);
      offset += 30 + name.length + e.stored.length;
    }
    offsets[i] = localOffset;
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(0x031e, 4); // made by: Unix, 3.0
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(flags, 8);
    ch.writeUInt16LE(method, 10);
    ch.writeUInt16LE(0, 12);
    ch.writeUInt16LE(0x21, 14);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(csize, 20);
    ch.writeUInt32LE(usize, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt16LE(0, 30); // extra
    ch.writeUInt16LE(0, 32); // comment
    ch.writeUInt16LE(0, 34); // disk
    ch.writeUInt16LE(0, 36); // internal attrs
    ch.writeUInt32LE(e.externalAttr ?? (0o100644 << 16) >>> 0, 38);
    ch.writeUInt32LE(localOffset, 42);
    central.push(ch, name);
  });
  const cd = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  const count = opts.entryCount ?? entries.length;
  eocd.writeUInt16LE(count, 8);
  eocd.writeUInt16LE(count, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cd, eocd]);
}

/** An honest stored entry. */
export const stored = (
  name: string | Buffer,
  text = 'hello',
  extra: Partial<RawEntry> = {},
): RawEntry => {
  const data = Buffer.from(text);
  return { name, stored: data, crc: crc32(data), ...extra };
};

/** An honest deflated entry (sizes may be overridden to lie). */
export const deflated = (name: string, data: Buffer, extra: Partial<RawEntry> = {}): RawEntry => ({
  name,
  stored: deflateRawSync(data),
  method: 8,
  crc: crc32(data),
  uncompressedSize: data.length,
  ...extra,
});
