/**
 * Canonical JSON: object keys sorted by UTF-16 code unit order, no whitespace, numbers in
 * JavaScript's shortest round-trip form. The same value always gives the same bytes, so the
 * SHA-256 of canonical JSON can name an object. Rejects values JSON cannot carry exactly
 * (NaN, Infinity, undefined inside arrays, functions, bigint).
 */
export function canonicalJson(value: unknown): string {
  return write(value, '$');
}

function write(value: unknown, path: string): string {
  if (value === null) {
    return 'null';
  }
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) {
        throw new TypeError(`canonicalJson: non-finite number at ${path}`);
      }
      return JSON.stringify(value);
    case 'string':
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        return '[' + value.map((v, i) => write(v, `${path}[${i}]`)).join(',') + ']';
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort();
      return (
        '{' +
        keys.map((k) => JSON.stringify(k) + ':' + write(obj[k], `${path}.${k}`)).join(',') +
        '}'
      );
    }
    default:
      throw new TypeError(`canonicalJson: cannot encode ${typeof value} at ${path}`);
  }
}
