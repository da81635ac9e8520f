/**
 * Metrics per step as CSV (RFC 4180).
 *
 * Contract: `metricsToCsv(rows)` returns the text of a CSV file with the header
 * `step,loss,batch_digest,state_digest,train_precision,validation_precision,test_precision`
 * and one record per row, in the given order. Every line ends with CRLF (RFC 4180). A field that
 * is absent (undefined or null) is an empty cell. Numbers are written in JavaScript's shortest
 * round-trip form (so the float32 loss widened to a double reads back exactly); non-finite numbers
 * as `NaN`, `Infinity`, `-Infinity`. A field containing a comma, a double quote, CR or LF is
 * enclosed in double quotes with inner quotes doubled. Steps must be non-negative integers.
 */
export interface MetricsRow {
  step: number;
  loss?: number | null;
  batchDigest?: string | null;
  stateDigest?: string | null;
  trainPrecision?: number | null;
  validationPrecision?: number | null;
  testPrecision?: number | null;
}

export const CSV_COLUMNS = [
  'step',
  'loss',
  'batch_digest',
  'state_digest',
  'train_precision',
  'validation_precision',
  'test_precision',
] as const;

export function metricsToCsv(rows: MetricsRow[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) {
    if (!Number.isSafeInteger(r.step) || r.step < 0) {
      throw new RangeError(`csv: step ${r.step} is not a non-negative integer`);
    }
    lines.push(
      [
        r.step,
        r.loss,
        r.batchDigest,
        r.stateDigest,
        r.trainPrecision,
        r.validationPrecision,
        r.testPrecision,
      ]
        .map(csvField)
        .join(','),
    );
  }
  return lines.join('\r\n') + '\r\n';
}

/** One RFC 4180 field. */
export function csvField(value: string | number | null | undefined): string {
  if (value === undefined || value === null) {
    return '';
  }
  const s = typeof value === 'number' ? String(value) : value;
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}
