/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) and TFRecord's masked form.
 *
 * Contract: `crc32c(bytes)` returns the unsigned 32-bit CRC-32C of the bytes (crc32c("123456789")
 * = 0xE3069283). `maskedCrc32c(bytes)` returns TFRecord's mask of it:
 * ((crc >>> 15) | (crc << 17)) + 0xa282ead8, mod 2^32. The CRC itself comes from the npm package
 * `fast-crc32c`, which uses the SSE4.2 instruction through its optional native dependency when that
 * built, and its own pure-JS table implementation otherwise (so it always works, also in Electron).
 */
import fastCrc32c from 'fast-crc32c';

const MASK_DELTA = 0xa282ead8;

export function crc32c(bytes: Uint8Array): number {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return fastCrc32c.calculate(buf) >>> 0;
}

export function maskCrc32c(crc: number): number {
  const rotated = ((crc >>> 15) | (crc << 17)) >>> 0;
  return (rotated + MASK_DELTA) >>> 0;
}

export function maskedCrc32c(bytes: Uint8Array): number {
  return maskCrc32c(crc32c(bytes));
}
