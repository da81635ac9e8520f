/**
 * Name rules, defined once: branch and keep names, run ids and object ids, for the store, the
 * bundle, the service, the CLI and the renderer's form.
 *
 * A branch name follows git's ref rules (`/` separates namespace parts; no `..`, no part starting
 * with `.` or ending with `.lock`, no control characters, whitespace or `~^:?*[\`), plus:
 * - no `@` (it separates `branch@N`);
 * - at most {@link MAX_NAME} characters, and each part at most {@link MAX_PART_BYTES} bytes of
 *   UTF-8 (file systems limit a name to 255 bytes; a 100-character CJK name is 300);
 * - portable: none of the characters Windows refuses (`<>:"|?*\`), no part that is a Windows
 *   device name (`con`, `aux.json`, `COM1`), no part ending with `.`, and Unicode in NFC form (so
 *   macOS, which stores names decomposed, gives back the name that was written).
 * Names that differ only in letter case or Unicode normalisation are the same name on macOS and
 * Windows: {@link nameKey} gives the key the store compares, and a new name whose key (or the
 * key of one of its namespace prefixes) is taken is refused.
 *
 * {@link branchNameProblem} is the grammar for a new name (creation, import, bundles).
 * {@link storedBranchNameProblem} is the older, looser grammar a store written before these rules
 * may hold: such branches can still be read, shown and continued, never created.
 *
 * No Node imports: the renderer imports this file.
 */

export const MAX_NAME = 100;
export const MAX_PART_BYTES = 200;
export const MAX_RUN_ID = 100;

const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?$/i;
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const HEX64 = /^[0-9a-f]{64}$/;

export function isObjectId(s: unknown): s is string {
  return typeof s === 'string' && HEX64.test(s);
}

function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** Why `name` is not a branch name under the rules of stores written before 2026-11, or null. */
export function storedBranchNameProblem(name: string): string | null {
  if (typeof name !== 'string' || name.length === 0) {
    return 'it is empty';
  }
  if (name.length > MAX_NAME) {
    return `it is longer than ${MAX_NAME} characters`;
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f]/.test(name)) {
    return 'it contains whitespace or a control character';
  }
  const bad = /[~^:?*[\\@]/.exec(name);
  if (bad) {
    return `it contains '${bad[0]}'`;
  }
  if (name.startsWith('-')) {
    return "it starts with '-'";
  }
  if (name.includes('..')) {
    return "it contains '..'";
  }
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//')) {
    return "it has an empty '/'-separated part";
  }
  if (name.endsWith('.')) {
    return "it ends with '.'";
  }
  for (const part of name.split('/')) {
    if (part.startsWith('.')) {
      return `its part '${part}' starts with '.'`;
    }
    if (part.endsWith('.lock')) {
      return `its part '${part}' ends with '.lock'`;
    }
    if (WINDOWS_DEVICE.test(part)) {
      return `its part '${part}' is a reserved device name on Windows`;
    }
    if (utf8Length(part) > MAX_PART_BYTES) {
      return `its part '${part.slice(0, 20)}…' is longer than ${MAX_PART_BYTES} bytes in UTF-8`;
    }
  }
  return null;
}

/** Why `name` cannot be a new branch (or keep) name, or null when it can. */
export function branchNameProblem(name: string): string | null {
  const old = storedBranchNameProblem(name);
  if (old !== null) {
    return old;
  }
  const win = /[<>"|]/.exec(name);
  if (win) {
    return `it contains '${win[0]}', which Windows does not allow in file names`;
  }
  if (/\s/u.test(name) || /[\u0080-\u009f\u200b-\u200f\u2028\u2029\ufeff]/.test(name)) {
    return 'it contains whitespace or an invisible character';
  }
  if (name.normalize('NFC') !== name) {
    return `it is not in Unicode NFC form (write it as '${name.normalize('NFC')}')`;
  }
  for (const part of name.split('/')) {
    if (part.endsWith('.')) {
      return `its part '${part}' ends with '.'`;
    }
  }
  return null;
}

/** The key two names share when a case-insensitive or normalising file system sees one file. */
export function nameKey(name: string): string {
  return name.normalize('NFC').toLowerCase();
}

/** Why `id` cannot be a run id, or null: [A-Za-z0-9][A-Za-z0-9._-]*, ≤ 100, portable. */
export function runIdProblem(id: unknown): string | null {
  if (typeof id !== 'string' || id.length === 0) {
    return 'it is empty';
  }
  if (id.length > MAX_RUN_ID) {
    return `it is longer than ${MAX_RUN_ID} characters`;
  }
  if (!RUN_ID.test(id)) {
    return "use letters, digits, '.', '_' and '-', starting with a letter or digit";
  }
  if (WINDOWS_DEVICE.test(id)) {
    return 'it is a reserved device name on Windows';
  }
  return null;
}
