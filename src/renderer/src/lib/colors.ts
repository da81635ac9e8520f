/**
 * One colour per branch, the same in the timeline, Charts and Compare: branches are numbered in
 * the run graph's order (runs by creation, branches by creation within a run) and take the
 * categorical palette's colours in turn (Tableau 10, with lighter variants for dark mode). With
 * more branches than colours, colours repeat and {@link branchDash} tells the rounds apart.
 */
import type { RunInfo } from '../../../shared/contract';

const LIGHT = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];
const DARK = [
  '#7aa6d6',
  '#ffab5c',
  '#ff7f81',
  '#8fd6d0',
  '#7fcf73',
  '#f5d86a',
  '#d39ec6',
  '#ffb8c0',
  '#c39a82',
  '#d6ccc8',
];

/** Number of distinct colours before they repeat. */
export const PALETTE_SIZE = LIGHT.length;

/** The colour of the branch numbered `i`. */
export function colorAt(i: number, dark: boolean): string {
  const p = dark ? DARK : LIGHT;
  return p[((i % p.length) + p.length) % p.length];
}

/** A dash pattern for the branch numbered `i` (solid for the first round of colours). */
export function branchDash(i: number): number[] | undefined {
  const round = Math.floor(i / PALETTE_SIZE) % 3;
  return round === 0 ? undefined : round === 1 ? [6, 3] : [2, 3];
}

/** Branch name → its number in the run graph's order. */
export function branchIndex(runs: readonly RunInfo[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const run of runs) {
    for (const b of run.branches) {
      if (!m.has(b.name)) {
        m.set(b.name, m.size);
      }
    }
  }
  return m;
}

/** Branch name → colour, for every branch of `runs`. */
export function branchColors(runs: readonly RunInfo[], dark: boolean): Map<string, string> {
  const m = new Map<string, string>();
  for (const [name, i] of branchIndex(runs)) {
    m.set(name, colorAt(i, dark));
  }
  return m;
}
