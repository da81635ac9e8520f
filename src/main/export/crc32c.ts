/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) and TFRecord's masked form.
 *
 * Contract: `crc32c(bytes)` returns the unsigned 32-bit CRC-32C of the bytes (crc32c("123456789")
 * = 0xE3069283). `maskedCrc32c(bytes)` returns TFRecord's mask of it:
 * ((crc >>> 15) | (crc << 17)) + 0xa282ead8, mod 2^32. A byte-at-a-time table in plain
 * TypeScript: the inputs are TFRecord headers and small event payloads, so no native addon or
 * dependency is worth its install step.
 */

const POLYNOMIAL = 0x82f63b78;
const MASK_DELTA = 0xa282ead8;

/** TABLE[b] = the CRC register after shifting the byte b through it (reflected). */
const TABLE = Uint32Array.from({ length: 256 }, (_, b) => {
  let c = b;
  for (let k = 0; k < 8; k++) {
    c = c & 1 ? (c >>> 1) ^ POLYNOMIAL : c >>> 1;
  }
  return c >>> 0;
});

export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) {
    crc = TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

export function maskCrc32c(crc: number): number {
  const rotated = ((crc >>> 15) | (crc << 17)) >>> 0;
  return (rotated + MASK_DELTA) >>> 0;
}

export function maskedCrc32c(bytes: Uint8Array): number {
  return maskCrc32c(crc32c(bytes));
}
