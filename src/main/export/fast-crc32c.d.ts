/** Types for the untyped `fast-crc32c` package (CRC-32C, Castagnoli; SSE4.2 or pure-JS fallback). */
declare module 'fast-crc32c' {
  const crc32c: {
    /** CRC-32C of the bytes, as an unsigned 32-bit integer; `initial` continues a previous CRC. */
    calculate(input: Buffer | string, initial?: number): number;
  };
  export default crc32c;
}
