/**
 * TensorBoard event files, checked byte-exactly against the TFRecord and protobuf specs.
 * TensorBoard (a Python package) cannot be installed here, so this test carries its own
 * independent reader: a bitwise CRC-32C from the polynomial, the mask formula, a generic
 * protobuf field walker, and hand-assembled expected bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32c, maskedCrc32c } from '../../src/main/export/crc32c';
import {
  encodeEvent,
  encodeEventFile,
  eventFileName,
  frameRecord,
  FILE_VERSION,
  type ScalarEvent,
} from '../../src/main/export/tensorboard';

/** Reference CRC-32C, bit by bit from the reflected Castagnoli polynomial 0x82F63B78. */
function refCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) {
      crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
    }
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord mask, written out from the spec: rotate right by 15, add 0xa282ead8, mod 2^32. */
function refMask(crc: number): number {
  return (
    Number(((BigInt(crc) >> 15n) | ((BigInt(crc) << 17n) & 0xffffffffn)) + 0xa282ead8n) % 2 ** 32
  );
}

const ascii = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('CRC-32C matches the standard test vectors', () => {
  assert.equal(crc32c(ascii('123456789')), 0xe3069283);
  assert.equal(refCrc32c(ascii('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43); // 32 bytes of 0xff
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e); // ascending
  assert.equal(crc32c(new Uint8Array(0)), 0);
  // a subarray view (non-zero byteOffset) must hash only its own bytes
  const big = ascii('xx123456789yy');
  assert.equal(crc32c(big.subarray(2, 11)), 0xe3069283);
});

test('the table CRC agrees with the bitwise reference on many lengths', () => {
  let seed = 12345;
  for (let len = 0; len < 300; len += 7) {
    const bytes = Uint8Array.from({ length: len }, () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 24;
    });
    const expected = refCrc32c(bytes);
    assert.equal(crc32c(bytes), expected);
    assert.equal(maskedCrc32c(bytes), refMask(expected));
  }
});

test('one small Event serializes to the hand-assembled protobuf bytes', () => {
  const event = encodeEvent({ wallTime: 1.5, step: 3, scalar: { tag: 'loss', value: 0.25 } });
  // prettier-ignore
  const expected = Uint8Array.from([
    0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, // wall_time (1, fixed64) = 1.5
    0x10, 0x03, //                         step (2, varint) = 3
    0x2a, 0x0d, //                         summary (5, length-delimited), 13 bytes
    0x0a, 0x0b, //                           Summary.value (1, length-delimited), 11 bytes
    0x0a, 0x04, 0x6c, 0x6f, 0x73, 0x73, //     Value.tag (1) = "loss"
    0x15, 0, 0, 0x80, 0x3e, //                 Value.simple_value (2, fixed32) = 0.25
  ]);
  assert.equal(hex(event), hex(expected));

  const record = frameRecord(event);
  const length = Uint8Array.from([26, 0, 0, 0, 0, 0, 0, 0]);
  const u32 = (n: number) =>
    Uint8Array.from([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24]);
  const expectedRecord = Buffer.concat([
    length,
    u32(refMask(refCrc32c(length))),
    expected,
    u32(refMask(refCrc32c(expected))),
  ]);
  assert.equal(hex(record), hex(expectedRecord));
});

test('the file_version event and large steps', () => {
  const e = encodeEvent({ wallTime: 0, fileVersion: FILE_VERSION });
  assert.equal(hex(e), hex(Uint8Array.from([0x1a, 13, ...ascii('brain.Event:2')])));
  // step 300 = 0b1_0010_1100 -> varint ac 02; step 2^40 = five 0x80 bytes (35 zero bits) then 2^5
  assert.equal(hex(encodeEvent({ wallTime: 0, step: 300 })), '10ac02');
  assert.equal(hex(encodeEvent({ wallTime: 0, step: 2 ** 40 })), '10808080808020');
});

// ---- an independent reader -------------------------------------------------------------------

type Field = { field: number; wire: number; value: bigint | Uint8Array };

function readFields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      assert.ok(pos < buf.length, 'varint runs past the message');
      const b = buf[pos++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) {
        return result;
      }
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) {
      out.push({ field, wire, value: varint() });
    } else if (wire === 1) {
      out.push({ field, wire, value: buf.subarray(pos, (pos += 8)) });
    } else if (wire === 5) {
      out.push({ field, wire, value: buf.subarray(pos, (pos += 4)) });
    } else if (wire === 2) {
      const len = Number(varint());
      out.push({ field, wire, value: buf.subarray(pos, (pos += len)) });
    } else {
      assert.fail(`unexpected wire type ${wire}`);
    }
    assert.ok(pos <= buf.length, 'field runs past the message');
  }
  return out;
}

interface DecodedEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  values: { tag: string; simpleValue: number }[];
}

function decodeEventFile(file: Uint8Array): DecodedEvent[] {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const events: DecodedEvent[] = [];
  let pos = 0;
  while (pos < file.length) {
    assert.ok(pos + 12 <= file.length, 'truncated record header');
    const len = Number(view.getBigUint64(pos, true));
    assert.equal(
      view.getUint32(pos + 8, true),
      refMask(refCrc32c(file.subarray(pos, pos + 8))),
      'length CRC',
    );
    const data = file.subarray(pos + 12, pos + 12 + len);
    assert.ok(pos + 16 + len <= file.length, 'truncated record');
    assert.equal(view.getUint32(pos + 12 + len, true), refMask(refCrc32c(data)), 'data CRC');
    pos += 16 + len;
    const ev: DecodedEvent = { wallTime: 0, step: 0, values: [] };
    for (const f of readFields(data)) {
      const bytes = f.value as Uint8Array;
      if (f.field === 1 && f.wire === 1) {
        ev.wallTime = new DataView(bytes.buffer, bytes.byteOffset).getFloat64(0, true);
      } else if (f.field === 2 && f.wire === 0) {
        ev.step = Number(f.value as bigint);
      } else if (f.field === 3 && f.wire === 2) {
        ev.fileVersion = new TextDecoder().decode(bytes);
      } else if (f.field === 5 && f.wire === 2) {
        for (const v of readFields(bytes)) {
          assert.equal(v.field, 1);
          let tag = '';
          let simpleValue = NaN;
          for (const g of readFields(v.value as Uint8Array)) {
            const gb = g.value as Uint8Array;
            if (g.field === 1) {
              tag = new TextDecoder().decode(gb);
            }
            if (g.field === 2 && g.wire === 5) {
              simpleValue = new DataView(gb.buffer, gb.byteOffset).getFloat32(0, true);
            }
          }
          ev.values.push({ tag, simpleValue });
        }
      } else {
        assert.fail(`unexpected Event field ${f.field}/${f.wire}`);
      }
    }
    events.push(ev);
  }
  return events;
}

test('a whole event file decodes back to its scalars with every CRC valid', () => {
  const scalars: ScalarEvent[] = [];
  for (let step = 0; step <= 200; step += 10) {
    scalars.push({
      step,
      wallTime: 1_700_000_000.125 + step / 8,
      tag: 'loss',
      value: 2.3 / (1 + step),
    });
    if (step % 50 === 0) {
      scalars.push({
        step,
        wallTime: 1_700_000_000.125 + step / 8,
        tag: 'precision/test',
        value: 0.5 + step / 1000,
      });
    }
  }
  const file = encodeEventFile(scalars);
  const events = decodeEventFile(file);
  assert.equal(events.length, scalars.length + 1);
  assert.deepEqual(events[0], {
    wallTime: scalars[0].wallTime,
    step: 0,
    fileVersion: 'brain.Event:2',
    values: [],
  });
  events.slice(1).forEach((ev, i) => {
    const s = scalars[i];
    assert.equal(ev.step, s.step);
    assert.equal(ev.wallTime, s.wallTime);
    assert.equal(ev.values.length, 1);
    assert.equal(ev.values[0].tag, s.tag);
    assert.equal(ev.values[0].simpleValue, Math.fround(s.value));
  });
  // deterministic
  assert.equal(hex(encodeEventFile(scalars)), hex(file));
  // a flipped byte anywhere is caught by a CRC
  const bad = file.slice();
  bad[40] ^= 1;
  assert.throws(() => decodeEventFile(bad));
});

test('file name convention and input checks', () => {
  assert.equal(eventFileName(1700000000.9, 'lab-1'), 'events.out.tfevents.1700000000.lab-1');
  assert.throws(() => eventFileName(1, 'a/b'));
  assert.throws(() => encodeEventFile([{ step: -1, wallTime: 1, tag: 'x', value: 1 }]));
  assert.throws(() => encodeEventFile([{ step: 1.5, wallTime: 1, tag: 'x', value: 1 }]));
  assert.throws(() => encodeEventFile([{ step: 1, wallTime: 1, tag: '', value: 1 }]));
  const empty = decodeEventFile(encodeEventFile([], { fileWallTime: 42 }));
  assert.deepEqual(empty, [{ wallTime: 42, step: 0, fileVersion: 'brain.Event:2', values: [] }]);
});
