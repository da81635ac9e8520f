/**
 * A tiny protocol-buffers writer: just what TensorBoard's Event/Summary messages need.
 *
 * Contract: each method appends one field in the protobuf wire format (proto3 encoding rules):
 * a key varint (field number << 3 | wire type) then the value — varint (type 0) for unsigned and
 * int64 values (negatives as 10-byte two's complement), fixed64 little-endian double (type 1),
 * length-delimited bytes/strings/sub-messages (type 2, UTF-8 for strings), fixed32 little-endian
 * float (type 5). Callers decide whether to omit proto3 default values. `finish()` returns the
 * bytes written so far.
 */
export class ProtoWriter {
  private chunks: number[] = [];

  private varint(value: bigint): void {
    let v = BigInt.asUintN(64, value);
    while (v >= 0x80n) {
      this.chunks.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.chunks.push(Number(v));
  }

  private key(field: number, wireType: number): void {
    this.varint(BigInt((field << 3) | wireType));
  }

  /** int64 / uint64 / int32 as a varint (wire type 0). */
  int64(field: number, value: number | bigint): this {
    const v = typeof value === 'bigint' ? value : BigInt(checkedInteger(value));
    this.key(field, 0);
    this.varint(v);
    return this;
  }

  /** double as fixed64 little-endian (wire type 1). */
  double(field: number, value: number): this {
    this.key(field, 1);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, value, true);
    this.chunks.push(...b);
    return this;
  }

  /** float as fixed32 little-endian (wire type 5); the value is rounded to float32. */
  float(field: number, value: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.chunks.push(...b);
    return this;
  }

  /** bytes or an encoded sub-message, length-delimited (wire type 2). */
  bytes(field: number, value: Uint8Array): this {
    this.key(field, 2);
    this.varint(BigInt(value.length));
    for (const byte of value) {
      this.chunks.push(byte);
    }
    return this;
  }

  /** string as UTF-8, length-delimited (wire type 2). */
  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

function checkedInteger(value: number): number {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`protobuf: ${value} is not a safe integer`);
  }
  return value;
}
