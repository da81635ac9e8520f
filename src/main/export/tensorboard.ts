/**
 * TensorBoard event files: scalars per step, as TensorBoard's event reader expects.
 *
 * Contract: `encodeEventFile(scalars)` returns the complete bytes of one event file, a sequence of
 * TFRecords. Each record is: data length as uint64 little-endian; masked CRC-32C of those 8 bytes
 * (uint32 LE); the data; masked CRC-32C of the data (uint32 LE) — see crc32c.ts for the mask.
 * Each record's data is a serialized `tensorflow.Event` protobuf:
 *   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
 *   Summary { repeated Value value = 1; }
 *   Value   { string tag = 1; float simple_value = 2; }
 * The first record is `{ wall_time, file_version: "brain.Event:2" }`; then one Event per scalar,
 * in the given order, each with a Summary holding one Value. `wallTime` is in seconds since the
 * Unix epoch (a double, like Python's time.time()), not milliseconds. Following proto3, a zero
 * wall_time or step is omitted; simple_value (a oneof member in TensorFlow's summary.proto) is
 * always written, rounded to float32. Steps must be non-negative safe integers.
 * The same input always gives the same bytes. TensorBoard itself is not installable here (it is
 * a Python package); tests/export/tensorboard.test.ts checks the format byte-exactly against the
 * spec instead and decodes the file back with an independent reader.
 */
import { maskedCrc32c } from './crc32c';
import { ProtoWriter } from './protobuf';

export interface ScalarEvent {
  step: number;
  /** seconds since the Unix epoch */
  wallTime: number;
  tag: string;
  value: number;
}

export const FILE_VERSION = 'brain.Event:2';

/** `events.out.tfevents.<unix seconds>.<hostname>`, the name TensorBoard looks for in a log dir. */
export function eventFileName(unixSeconds: number, hostname: string): string {
  if (!Number.isFinite(unixSeconds) || unixSeconds < 0) {
    throw new RangeError(`tensorboard: bad file timestamp ${unixSeconds}`);
  }
  if (hostname === '' || /[/\\\0]/.test(hostname)) {
    throw new RangeError(`tensorboard: bad host name ${JSON.stringify(hostname)}`);
  }
  return `events.out.tfevents.${Math.floor(unixSeconds)}.${hostname}`;
}

/** Serializes one Event message. */
export function encodeEvent(event: {
  wallTime: number;
  step?: number;
  fileVersion?: string;
  scalar?: { tag: string; value: number };
}): Uint8Array {
  const w = new ProtoWriter();
  if (event.wallTime !== 0) {
    w.double(1, event.wallTime);
  }
  if (event.step !== undefined && event.step !== 0) {
    w.int64(2, event.step);
  }
  if (event.fileVersion !== undefined) {
    w.string(3, event.fileVersion);
  }
  if (event.scalar !== undefined) {
    const value = new ProtoWriter()
      .string(1, event.scalar.tag)
      .float(2, event.scalar.value)
      .finish();
    const summary = new ProtoWriter().bytes(1, value).finish();
    w.bytes(5, summary);
  }
  return w.finish();
}

/** Frames one record: length, masked CRC of the length, data, masked CRC of the data. */
export function frameRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 4 + data.length + 4);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/** A complete event file: the file_version record, then one record per scalar. */
export function encodeEventFile(
  scalars: ScalarEvent[],
  options: { fileWallTime?: number } = {},
): Uint8Array {
  const fileWallTime = options.fileWallTime ?? scalars[0]?.wallTime ?? 0;
  const records = [frameRecord(encodeEvent({ wallTime: fileWallTime, fileVersion: FILE_VERSION }))];
  for (const s of scalars) {
    if (!Number.isSafeInteger(s.step) || s.step < 0) {
      throw new RangeError(`tensorboard: step ${s.step} is not a non-negative integer`);
    }
    if (!Number.isFinite(s.wallTime)) {
      throw new RangeError(`tensorboard: wall time ${s.wallTime} is not finite`);
    }
    if (typeof s.tag !== 'string' || s.tag === '') {
      throw new RangeError('tensorboard: every scalar needs a non-empty tag');
    }
    records.push(
      frameRecord(
        encodeEvent({ wallTime: s.wallTime, step: s.step, scalar: { tag: s.tag, value: s.value } }),
      ),
    );
  }
  const total = records.reduce((n, r) => n + r.length, 0);
  const out = new Uint8Array(total);
  let pos = 0;
  for (const r of records) {
    out.set(r, pos);
    pos += r.length;
  }
  return out;
}
