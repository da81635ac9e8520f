/**
 * The safetensors format (https://github.com/huggingface/safetensors), as read by Python's
 * `safetensors` and PyTorch: an 8-byte little-endian header length N, N bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}}`, then the
 * raw little-endian tensor bytes. We write it canonically — names sorted, data laid out in that
 * order, header JSON without whitespace and padded with spaces to a multiple of 8 — so equal
 * tensors always give equal bytes. Only F32 is written; the reader checks every offset.
 */
import { canonicalJson } from './canonical-json';
import type { NamedTensor } from './types';

const HEADER_LIMIT = 100 * 1024 * 1024;

/** Encodes tensors (sorted by name) and optional string metadata into safetensors bytes. */
export function encodeSafetensors(
  tensors: Record<string, NamedTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    const bytes = t.data.length * 4;
    if (t.shape.reduce((a, b) => a * b, 1) !== t.data.length) {
      throw new Error(
        `safetensors: tensor ${name} has shape [${t.shape}] but ${t.data.length} values`,
      );
    }
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  if (metadata && Object.keys(metadata).length > 0) {
    header.__metadata__ = metadata;
  }
  let json = canonicalJson(header);
  const enc = new TextEncoder();
  let headerBytes = enc.encode(json);
  const pad = (8 - (headerBytes.length % 8)) % 8;
  if (pad > 0) {
    json += ' '.repeat(pad);
    headerBytes = enc.encode(json);
  }
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const d = tensors[name].data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), pos);
    pos += d.byteLength;
  }
  if (!littleEndian()) {
    throw new Error('safetensors: big-endian hosts are not supported');
  }
  return out;
}

/** One tensor's place in a safetensors file: its shape and its data's byte range in the file. */
export interface SafetensorsEntry {
  shape: number[];
  /** absolute byte offsets of its data in the file */
  start: number;
  end: number;
}

/**
 * Checks a safetensors file's header and layout (every check decodeSafetensors makes) without
 * copying any tensor data; throws a clear error on any inconsistency.
 */
export function safetensorsLayout(bytes: Uint8Array): {
  entries: Record<string, SafetensorsEntry>;
  metadata: Record<string, string>;
} {
  if (bytes.length < 8) {
    throw new Error('safetensors: file shorter than its 8-byte header length');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n > HEADER_LIMIT || 8 + n > bytes.length) {
    throw new Error(`safetensors: header length ${n} exceeds the file`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch {
    throw new Error('safetensors: header is not valid JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new Error('safetensors: header is not an object');
  }
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const entries: Record<string, SafetensorsEntry> = Object.create(null);
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e.dtype !== 'F32') {
      throw new Error(`safetensors: tensor ${name} has unsupported dtype ${String(e.dtype)}`);
    }
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new Error(`safetensors: tensor ${name} has a bad shape`);
    }
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o))) {
      throw new Error(`safetensors: tensor ${name} has bad data_offsets`);
    }
    const [begin, end] = offs as [number, number];
    const count = (e.shape as number[]).reduce((a, b) => a * b, 1);
    if (begin < 0 || end > dataLen || end - begin !== count * 4 || begin % 4 !== 0) {
      throw new Error(`safetensors: tensor ${name} offsets [${begin}, ${end}] do not fit`);
    }
    entries[name] = { shape: e.shape as number[], start: dataStart + begin, end: dataStart + end };
  }
  return { entries, metadata };
}

/** Decodes safetensors bytes; throws a clear error on any inconsistency. Copies the data. */
export function decodeSafetensors(bytes: Uint8Array): {
  tensors: Record<string, NamedTensor>;
  metadata: Record<string, string>;
} {
  const { entries, metadata } = safetensorsLayout(bytes);
  const tensors: Record<string, NamedTensor> = Object.create(null);
  for (const [name, e] of Object.entries(entries)) {
    const data = new Float32Array((e.end - e.start) / 4);
    new Uint8Array(data.buffer).set(bytes.subarray(e.start, e.end));
    tensors[name] = { shape: e.shape, data };
  }
  return { tensors, metadata };
}

function littleEndian(): boolean {
  return new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
}
