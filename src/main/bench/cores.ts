/**
 * The machine's cores as the bench finds them, and one-core runs pinned to the fastest.
 *
 * The cores of a virtual machine need not be alike. On the 2-core machine this project is
 * benched on, a loop of float multiply-adds ran in 143–156 ms pinned to cpu0 and in 260–293 ms
 * pinned to cpu1, in each of 9 pairs of runs over five minutes (2026-11-30), then alike, then
 * the other way round: a core's share of its physical core is taken by other work, which the
 * guest sees neither as steal time nor anywhere else. A one-thread process then runs 1.75×
 * slower on one core than on the other, so which core the scheduler gives it decided the bench's
 * comparisons: `node -e 0` took 108 ms on cpu0 and 165 on cpu1, and one round of
 * ours-against-the-peer came out 0.60 and another 3.28 in the same bench.
 *
 * - {@link measureCores}: each allowed core's time for {@link CORE_LOOP}, pinned to it with
 *   `taskset` (util-linux), best of a few runs, and once more with every core running it at the
 *   same time; null where that cannot be done (no taskset, not Linux, one core).
 * - {@link pinToFastestCore}: measures the cores (one run each) and, when they differ by more
 *   than {@link CORES_ALIKE}, until the next call {@link onOneCore} wraps the command of every
 *   one-thread run of the bench (ours and the peers') in `taskset -c <the fastest>`. Which core
 *   is slow changes within minutes (cpu1 at 22:22, neither a minute later, cpu0 a few minutes
 *   after that), so the bench calls it before each round of a comparison: both sides of a ratio
 *   run on the same core, the one that was fastest a moment before. Cores that are alike are
 *   left to the scheduler: pinned to one core, Node's helper threads (the compiler's, the
 *   collector's) take turns with the main thread, and the default MLP ran 5–10 % slower. Runs on
 *   several threads are never pinned. Every measurement is kept ({@link coreChecks}) for the
 *   report.
 * - {@link idealSpeedup}: what perfectly parallel work can gain on every core over one thread on
 *   the fastest core: Σ over the cores of (the fastest core's time alone / that core's time
 *   while all run).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernelModuleBytes } from '../engine/kernels/wasm-module';

/**
 * The fixed loop: 600 GEMMs of 128 × 128 × 128 floats with our own kernel (the module's file is
 * argv[1]), ~60 ms on a fast core of 2026, compiled by the optimizing tier up front
 * (--no-wasm-dynamic-tiering). A throughput-bound SIMD loop like our training's and the peer's:
 * an earlier scalar loop, bound by the latency of its one sum, ran as fast beside a busy twin
 * core as alone (a twin's work slows the throughput of shared units, not one chain's latency),
 * and in one bench, on the core it picked, the MLP ran 1.05 ms/step against its usual 0.65–0.70.
 */
export const CORE_LOOP = `
const memory = new WebAssembly.Memory({ initial: 8 });
const bytes = require('node:fs').readFileSync(process.argv[1]);
const k = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
const n = 128, a = 1024, b = a + 4 * n * n, c = b + 4 * n * n;
new Float32Array(memory.buffer, a, 2 * n * n).fill(0.5);
const gemm = () => k.gemm(a, 4 * n, 4, b, 4 * n, c, 4 * n, n, n, n, 0, 0, 1);
for (let i = 0; i < 20; i++) gemm();
const t0 = performance.now();
for (let i = 0; i < 600; i++) gemm();
process.stdout.write(JSON.stringify({ ms: performance.now() - t0 }));
`;
const LOOP_FLAGS = ['--no-wasm-dynamic-tiering'];

/** The cores' loop times, in the order of `ids`, and the fastest. */
export interface Cores {
  /** the CPU numbers this process may run on (Linux's numbering) */
  ids: number[];
  /** ms of CORE_LOOP on each core alone, best of the runs */
  loopMs: number[];
  /**
   * ms of CORE_LOOP on each core while every core runs it (one run): cores that are twins of
   * one physical core (which a virtual machine cannot see) slow each other down
   */
  togetherMs: number[];
  /** the CPU number of the fastest alone */
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

let moduleFile: string | undefined;

/**
 * CORE_LOOP's command line on CPU `id`: taskset's arguments, node and its flags, the kernel
 * module's file (written once, in a temporary folder removed when this process exits).
 */
function loopArgs(id: number): string[] {
  if (moduleFile === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-cores-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    moduleFile = join(dir, 'kernels.wasm');
    writeFileSync(moduleFile, kernelModuleBytes());
  }
  return ['-c', String(id), process.execPath, ...LOOP_FLAGS, '-e', CORE_LOOP, moduleFile];
}

/** The loop's ms from a child's stdout, or null. */
function loopMs(stdout: string): number | null {
  return stdout.startsWith('{') ? (JSON.parse(stdout) as { ms: number }).ms : null;
}

/** CORE_LOOP on every core at once: each core's ms, or null when a run failed. */
async function together(ids: number[]): Promise<number[] | null> {
  const runs = ids.map(
    (id) =>
      new Promise<number | null>((done) => {
        const child = spawn('taskset', loopArgs(id), { stdio: ['ignore', 'pipe', 'ignore'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.on('error', () => done(null));
        child.on('close', (code) => done(code === 0 ? loopMs(out) : null));
      }),
  );
  const ms = await Promise.all(runs);
  return ms.every((x) => x !== null) ? (ms as number[]) : null;
}

/**
 * Each allowed core's time for CORE_LOOP alone (`runs` runs each, the cores taking turns, the
 * best kept) and with every core running it, or null: not Linux, one core, or no working
 * `taskset`.
 */
export async function measureCores(runs = 1): Promise<Cores | null> {
  const ids = allowedCpus();
  if (ids === null || ids.length < 2) {
    return null;
  }
  const best = ids.map(() => Infinity);
  for (let r = 0; r < runs; r++) {
    for (let i = 0; i < ids.length; i++) {
      const p = spawnSync('taskset', loopArgs(ids[i]), { encoding: 'utf8' });
      const ms = p.status === 0 ? loopMs(p.stdout) : null;
      if (ms === null) {
        return null;
      }
      best[i] = Math.min(best[i], ms);
    }
  }
  const togetherMs = await together(ids);
  if (togetherMs === null) {
    return null;
  }
  const fastest = ids[best.indexOf(Math.min(...best))];
  return { ids, loopMs: best, togetherMs, fastest };
}

/**
 * What perfectly parallel work gains on every core at once over one thread on the fastest core
 * alone: the sum of the cores' speeds while all run, relative to the fastest's alone.
 */
export function idealSpeedup(c: Pick<Cores, 'loopMs' | 'togetherMs'>): number {
  const alone = Math.min(...c.loopMs);
  return c.togetherMs.reduce((s, ms) => s + alone / ms, 0);
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
 * Measures the cores (one run each) and, from now on, pins the one-thread runs to the fastest
 * when the cores are not alike (choosePin); the measurement, or null (nothing pinned) where
 * cores cannot be measured. `log` gets a line saying what it found and did.
 */
export async function pinToFastestCore(
  before: string,
  log: (line: string) => void = () => {},
): Promise<CoreCheck | null> {
  const c = await measureCores();
  pinOneThreadRuns(c ? choosePin(c) : null);
  if (!c) {
    return null;
  }
  const check = { ...c, before, pinned };
  checks.push(check);
  log(`cores: ${describeCores(c)}: ${pinned === null ? 'alike, not pinned' : `one-thread runs on cpu${pinned}`}`); // prettier-ignore
  return check;
}

/** Every measurement pinToFastestCore made in this process, in order. */
export function coreChecks(): readonly CoreCheck[] {
  return checks;
}

/**
 * The command and arguments of a one-thread run: `command args…` itself, or, once
 * {@link pinToFastestCore} chose a core, `taskset -c <core> command args…`.
 */
export function onOneCore(command: string, args: string[]): [string, string[]] {
  return pinned === null ? [command, args] : ['taskset', ['-c', String(pinned), command, ...args]];
}

/** "cpu0 61 ms, cpu1 104 ms (together 63, 105)" */
export function describeCores(c: Cores): string {
  const alone = c.ids.map((id, i) => `cpu${id} ${c.loopMs[i].toFixed(0)} ms`).join(', ');
  return `${alone} (together ${c.togetherMs.map((ms) => ms.toFixed(0)).join(', ')})`;
}
