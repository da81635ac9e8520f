/**
 * The one order of strings Lockstep sorts by: UTF-16 code units (what `<` compares), the same on
 * every machine. `localeCompare` follows the process's locale (a Swedish and an English machine
 * order 'ä' and 'z' differently, so `lockstep log` would print differently) and its first call
 * starts ICU's collator (~8 ms of a short command here).
 */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
