/**
 * The machine's cores as the bench finds them, and one-core runs pinned to the fastest.
 *
 * The cores of a virtual machine need not be alike. On the 2-core machine this project is
 * benched on, a fixed loop ran in 143–156 ms pinned to cpu0 and in 260–293 ms pinned to cpu1, in
 * every one of 18 runs over an hour (2026-11-30): cpu1's share of its physical core is taken by
 * other work, which the guest sees neither as steal time nor anywhere else. A one-thread process
 * runs 1.75× slower on one core than on the other, so which core the scheduler gives it decided
 * the bench's comparisons: `node -e 0` took 108 ms on cpu0 and 165 on cpu1, and one round of
 * ours-against-the-peer came out 0.60 and another 3.28 in the same bench.
 *
 * - {@link measureCores}: each allowed core's time for {@link CORE_LOOP}, pinned to it with
 *   `taskset` (util-linux), best of a few runs; null where that cannot be done (no taskset, not
 *   Linux, one core).
 * - {@link pinToFastestCore}: measures the cores (one run each) and, when they differ by more
 *   than {@link CORES_ALIKE}, until the next call {@link onOneCore} wraps the command of every
 *   one-thread run of the bench (ours and the peers') in `taskset -c <the fastest>`. Which core
 *   is slow changes within minutes (cpu1 at 22:22, cpu0 at 22:26, neither at 22:23), so the bench
 *   calls it before each round of a comparison: both sides of a ratio run on the same core, the
 *   one that was fastest a moment before. Cores that are alike are left to the scheduler: pinned
 *   to one core, Node's helper threads (the compiler's, the collector's) take turns with the main
 *   thread, and the default MLP ran 5–10 % slower. Runs on several threads are never pinned.
 *   Every measurement is kept ({@link coreChecks}) for the report.
 * - {@link idealSpeedup}: what perfectly parallel work can gain on t threads over one thread on
 *   the fastest core: Σ over the t fastest cores of (fastest core's time / that core's time).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** The fixed loop: float multiply-adds over a 32 KB array, ~60 ms on a fast core of 2026. */
export const CORE_LOOP = `
function work(a) { let s = 0; for (let r = 0; r < 200; r++) for (let i = 0; i < a.length; i++) s += a[i] * 1.000001; return s; }
const a = new Float64Array(4096).fill(1); work(a); work(a);
const t0 = performance.now(); let s = 0; for (let k = 0; k < 120; k++) s += work(a);
process.stdout.write(JSON.stringify({ ms: performance.now() - t0, s }));
`;

/** The cores' loop times, in the order of `ids`, and the fastest. */
export interface Cores {
  /** the CPU numbers this process may run on (Linux's numbering) */
  ids: number[];
  /** ms of CORE_LOOP on each, best of the runs */
  loopMs: number[];
  /** the CPU number of the fastest */
  fastest: number;
}

/**
 * The CPUs this process may run on, from /proc/self/status's Cpus_allowed_list ("0-3,6"),
 * or null where there is no such file.
 */
export function allowedCpus(status?: string): number[] | null {
  let text = status;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/status', 'utf8');
    } catch {
      return null;
    }
  }
  const line = /^Cpus_allowed_list:\s*(.+)$/m.exec(text)?.[1].trim();
  if (!line) {
    return null;
  }
  const ids: number[] = [];
  for (const part of line.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) {
      return null;
    }
    const [from, to] = [Number(m[1]), Number(m[2] ?? m[1])];
    for (let id = from; id <= to; id++) {
      ids.push(id);
    }
  }
  return ids;
}

/**
 * Each allowed core's time for CORE_LOOP (`runs` runs each, the cores taking turns, the best
 * kept), or null: not Linux, one core, or no working `taskset`.
 */
export function measureCores(runs = 3): Cores | null {
  const ids = allowedCpus();
  if (ids === null || ids.length < 2) {
    return null;
  }
  const best = ids.map(() => Infinity);
  for (let r = 0; r < runs; r++) {
    for (let i = 0; i < ids.length; i++) {
      const p = spawnSync('taskset', ['-c', String(ids[i]), process.execPath, '-e', CORE_LOOP], {
        encoding: 'utf8',
      });
      if (p.status !== 0 || !p.stdout.startsWith('{')) {
        return null;
      }
      best[i] = Math.min(best[i], (JSON.parse(p.stdout) as { ms: number }).ms);
    }
  }
  const fastest = ids[best.indexOf(Math.min(...best))];
  return { ids, loopMs: best, fastest };
}

/**
 * What perfectly parallel work gains on `threads` threads over one thread on the fastest core:
 * the sum of the `threads` fastest cores' speeds relative to the fastest's.
 */
export function idealSpeedup(loopMs: number[], threads: number): number {
  const sorted = [...loopMs].sort((a, b) => a - b);
  return sorted.slice(0, threads).reduce((s, ms) => s + sorted[0] / ms, 0);
}

/** Cores whose loop times differ by at most this fraction of the fastest's count as alike. */
export const CORES_ALIKE = 0.1;

/** The core to pin one-thread runs to: the fastest, unless all are alike (null). */
export function choosePin(c: Cores): number | null {
  return Math.max(...c.loopMs) > (1 + CORES_ALIKE) * Math.min(...c.loopMs) ? c.fastest : null;
}

let pinned: number | null = null;
const checks: CoreCheck[] = [];

/** One measurement of the cores, what it was for, and the core it pinned to. */
export interface CoreCheck extends Cores {
  /** what ran next ("marginal, round 1") */
  before: string;
  /** the core one-thread runs were pinned to after it, or null */
  pinned: number | null;
}

/** Pins the bench's one-thread runs to CPU `core` from now on (null: not pinned). */
export function pinOneThreadRuns(core: number | null): void {
  pinned = core;
}

/**
 * Measures the cores (`runs` runs each) and, from now on, pins the one-thread runs to the
 * fastest when the cores are not alike (choosePin); the measurement, or null (nothing pinned)
 * where cores cannot be measured.
 */
export function pinToFastestCore(before: string, runs = 1): CoreCheck | null {
  const c = measureCores(runs);
  pinOneThreadRuns(c ? choosePin(c) : null);
  if (!c) {
    return null;
  }
  const check = { ...c, before, pinned };
  checks.push(check);
  return check;
}

/** Every measurement pinToFastestCore made in this process, in order. */
export function coreChecks(): readonly CoreCheck[] {
  return checks;
}

/** The CPU the one-thread runs are pinned to, or null. */
export function oneThreadCore(): number | null {
  return pinned;
}

/**
 * The command and arguments of a one-thread run: `command args…` itself, or, once
 * {@link pinToFastestCore} chose a core, `taskset -c <core> command args…`.
 */
export function onOneCore(command: string, args: string[]): [string, string[]] {
  return pinned === null ? [command, args] : ['taskset', ['-c', String(pinned), command, ...args]];
}

/** "cpu0 154 ms, cpu1 267 ms" */
export function describeCores(c: Cores): string {
  return c.ids.map((id, i) => `cpu${id} ${c.loopMs[i].toFixed(0)} ms`).join(', ');
}
