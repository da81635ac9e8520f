/**
 * Reader for the IDX format of the original MNIST files (http://yann.lecun.com/exdb/mnist/):
 * a big-endian header of magic number, item count and (for images) rows and columns, followed by
 * unsigned bytes. Every header field is checked against what is expected and against the file's
 * length; any mismatch is an InputError naming the file and the field.
 */
import { InputError } from './types';

export const LABEL_MAGIC = 2049;
export const IMAGE_MAGIC = 2051;
const LABEL_HEADER = 8;
const IMAGE_HEADER = 16;

export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  /** count * rows * cols unsigned bytes, row-major */
  pixels: Uint8Array;
}

export function parseIdxImages(
  bytes: Uint8Array,
  file: string,
  expect: { count: number; rows: number; cols: number },
): IdxImages {
  if (bytes.length < IMAGE_HEADER) {
    throw new InputError(`${file}: truncated IDX file (${bytes.length} bytes, header needs 16)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== IMAGE_MAGIC) {
    throw new InputError(`${file}: bad IDX magic ${magic}, expected ${IMAGE_MAGIC} (images)`);
  }
  const count = view.getUint32(4, false);
  const rows = view.getUint32(8, false);
  const cols = view.getUint32(12, false);
  if (count !== expect.count || rows !== expect.rows || cols !== expect.cols) {
    throw new InputError(
      `${file}: IDX dimensions ${count}x${rows}x${cols}, expected ${expect.count}x${expect.rows}x${expect.cols}`,
    );
  }
  const need = IMAGE_HEADER + count * rows * cols;
  if (bytes.length !== need) {
    throw new InputError(
      `${file}: ${bytes.length < need ? 'truncated' : 'oversized'} IDX file (${bytes.length} bytes, expected ${need})`,
    );
  }
  return { count, rows, cols, pixels: bytes.subarray(IMAGE_HEADER) };
}

export function parseIdxLabels(bytes: Uint8Array, file: string, expectCount: number): Uint8Array {
  if (bytes.length < LABEL_HEADER) {
    throw new InputError(`${file}: truncated IDX file (${bytes.length} bytes, header needs 8)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== LABEL_MAGIC) {
    throw new InputError(`${file}: bad IDX magic ${magic}, expected ${LABEL_MAGIC} (labels)`);
  }
  const count = view.getUint32(4, false);
  if (count !== expectCount) {
    throw new InputError(`${file}: IDX label count ${count}, expected ${expectCount}`);
  }
  const need = LABEL_HEADER + count;
  if (bytes.length !== need) {
    throw new InputError(
      `${file}: ${bytes.length < need ? 'truncated' : 'oversized'} IDX file (${bytes.length} bytes, expected ${need})`,
    );
  }
  const labels = bytes.subarray(LABEL_HEADER);
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] > 9) {
      throw new InputError(`${file}: label ${labels[i]} at index ${i} is not a digit 0-9`);
    }
  }
  return labels;
}

/** The count, rows and cols fields of an IDX image file's header (checked in full by parseIdxImages). */
export function idxImageDims(
  bytes: Uint8Array,
  file: string,
): { count: number; rows: number; cols: number } {
  if (bytes.length < IMAGE_HEADER) {
    throw new InputError(`${file}: truncated IDX file (${bytes.length} bytes, header needs 16)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, false) !== IMAGE_MAGIC) {
    throw new InputError(
      `${file}: bad IDX magic ${view.getUint32(0, false)}, expected ${IMAGE_MAGIC} (images)`,
    );
  }
  return {
    count: view.getUint32(4, false),
    rows: view.getUint32(8, false),
    cols: view.getUint32(12, false),
  };
}
