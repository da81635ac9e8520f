/**
 * Bench section "CLI start-up" (listed in ./bench.ts's BENCH_SECTIONS; issue 16, "a CLI that
 * starts like git"): whole-process runs of this checkout's `lockstep` (package.json's `bin`,
 * bin/lockstep.cjs, which runs the CLI bundle when it is up to date: `--help` and `log` from its
 * CommonJS front), each the median wall time of 10 runs (5 with --quick):
 * `--help`, `log` on a small store (one run of two steps) and `train --steps 1 --dataset fake`
 * into a fresh store each time; and `--help` through bin/lockstep.mjs, the older ES module entry
 * (the same program after Node has booted its ES module loader), to show what that costs.
 * `node -e 0` is measured the same way as the floor no command can go below on this machine. Where /proc says so (Linux), the median CPU time (user + system) of
 * the runs is in the note: on a busy machine wall time waits for a core, CPU time does not.
 *
 * The runs are not pinned to a core, even where the cores are not alike (./cores.ts; their
 * times for the fixed loop are in the floor's note): Node starts on several threads, and pinned
 * to the faster of two unlike cores `--help` took 173 ms against 160 on any core, `node -e 0`
 * 138 against 133.
 *
 * The goals (≤ 150 ms, ≤ 150 ms, ≤ 800 ms wall) are {@link STARTUP_GOALS}; ./bench.ts checks
 * them in its goal table against the rows of this section.
 *
 * Where the environment sets NODE_EXTRA_CA_CERTS, Node 20 builds its root certificate store at
 * every start, before any script runs: its own ~140 certificates for the variable being set at
 * all, and then every certificate of the file it names. Measured on this kind of machine (the
 * sandbox sets it to the system bundle, 144 certificates): `node -e 0` 107–118 ms with it, 32
 * without; with an empty file 60. No script can avoid that, and the CLI needs no certificate (it
 * makes no TLS connection). So the section then also runs `node -e 0`, `--help` and `log` with
 * the variable removed ({@link UNSET_CA_SUFFIX}), which is the start a machine without it gets,
 * and ./bench.ts checks the two start-up goals against those rows too (the rows of the
 * environment as it is keep their own goals).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchContext, ExtraRow, ExtraSection } from './bench';
import { childCpuMs } from './child-cpu';
import { describeCores, measureCores } from './cores';

export const STARTUP_TITLE = 'CLI start-up (whole process, median wall time)';

/** Row label → the goal for its median wall ms (issue 16). */
export const STARTUP_GOALS: readonly { label: string; limitMs: number }[] = [
  { label: 'lockstep --help', limitMs: 150 },
  { label: 'lockstep log (small store)', limitMs: 150 },
  { label: 'lockstep train --steps 1 --dataset fake', limitMs: 800 },
];

/** The variable that costs every Node start here (see the header), and the rows' suffix without it. */
export const EXTRA_CA_VAR = 'NODE_EXTRA_CA_CERTS';
export const UNSET_CA_SUFFIX = ` (${EXTRA_CA_VAR} unset)`;

/** The row of `--help` through bin/lockstep.mjs (no goal: what the CommonJS entry saves). */
export const ESM_ENTRY_LABEL = 'node bin/lockstep.mjs --help (ES module entry)';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

interface Timing {
  wallMs: number[];
  cpuMs: number[] | null;
}

/**
 * Runs `node args…` `n` times, in this process's environment (`unset` names variables removed
 * from it); fails on a non-zero exit. `before(i)` prepares run i.
 */
function time(
  n: number,
  args: string[],
  cwd: string,
  before?: (i: number) => string[],
  unset: readonly string[] = [],
): Timing {
  const env: NodeJS.ProcessEnv = { ...process.env, CI: '1' };
  for (const name of unset) {
    delete env[name];
  }
  const wallMs: number[] = [];
  const cpuMs: number[] = [];
  let haveCpu = true;
  for (let i = 0; i < n; i++) {
    const extra = before?.(i) ?? [];
    const cpu0 = childCpuMs();
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [...args, ...extra], {
      cwd,
      encoding: 'utf8',
      env,
    });
    const wall = performance.now() - t0;
    const cpu1 = childCpuMs();
    if (r.status !== 0) {
      throw new Error(
        `start-up bench: node ${[...args, ...extra].join(' ')} exited ${r.status}: ${(r.stderr ?? '').trim().split('\n').pop()}`,
      );
    }
    wallMs.push(wall);
    if (cpu0 === null || cpu1 === null) {
      haveCpu = false;
    } else {
      cpuMs.push(cpu1 - cpu0);
    }
  }
  return { wallMs, cpuMs: haveCpu ? cpuMs : null };
}

function row(label: string, t: Timing, floor?: Timing): ExtraRow {
  const parts = [
    `min–max ${Math.min(...t.wallMs).toFixed(0)}–${Math.max(...t.wallMs).toFixed(0)} ms`,
  ];
  if (t.cpuMs) {
    parts.push(`cpu ${median(t.cpuMs).toFixed(0)} ms`);
  }
  if (floor) {
    parts.push(`${(median(t.wallMs) - median(floor.wallMs)).toFixed(0)} ms above node -e 0`);
  }
  parts.push(`${t.wallMs.length} runs`);
  return { label, value: median(t.wallMs), unit: 'ms', note: parts.join('; ') };
}

export async function startupSection(ctx: BenchContext): Promise<ExtraSection> {
  return measureStartup(ctx, ctx.quick ? 5 : 10);
}

/** The section with `n` runs of each command (the bench runs 10, or 5 with --quick). */
export async function measureStartup(
  ctx: Pick<BenchContext, 'repoRoot' | 'log'>,
  n: number,
): Promise<ExtraSection> {
  const bin = join(ctx.repoRoot, 'bin', 'lockstep.cjs');
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-bench-startup-'));
  try {
    ctx.log(`start-up: ${n} runs each of --help, log, train --steps 1 (whole processes)`);
    const store = join(dir, 'store');
    // the small store, and a first start that (re)builds the CLI bundle if it is stale and
    // warms the file cache: neither is measured
    const setup = [bin, 'train', '--store', store, '--dataset', 'fake', '--steps', '2'];
    time(1, [...setup, '--seed', '1'], ctx.repoRoot);
    const cores = await measureCores();
    const floor = time(n, ['-e', '0'], ctx.repoRoot);
    const help = time(n, [bin, '--help'], ctx.repoRoot);
    // the same program through the older ES module entry: Node boots its ES module loader first
    const esmHelp = time(n, [join(ctx.repoRoot, 'bin', 'lockstep.mjs'), '--help'], ctx.repoRoot);
    const log = time(n, [bin, 'log', '--store', store], ctx.repoRoot);
    const train = time(
      n,
      [bin, 'train', '--dataset', 'fake', '--steps', '1'],
      ctx.repoRoot,
      (i) => ['--store', join(dir, `train-${i}`), '--seed', String(i)],
    );
    const floorRow = row('node -e 0 (the floor)', floor);
    if (cores) {
      floorRow.note += `; the cores before these runs (fixed loop): ${describeCores(cores)}`;
    }
    const rows = [
      floorRow,
      row(STARTUP_GOALS[0].label, help, floor),
      row(ESM_ENTRY_LABEL, esmHelp, floor),
      row(STARTUP_GOALS[1].label, log, floor),
      row(STARTUP_GOALS[2].label, train, floor),
    ];
    const caFile = process.env[EXTRA_CA_VAR];
    if (caFile !== undefined) {
      const unset = [EXTRA_CA_VAR];
      const bare = time(n, ['-e', '0'], ctx.repoRoot, undefined, unset);
      const bareHelp = time(n, [bin, '--help'], ctx.repoRoot, undefined, unset);
      const bareLog = time(n, [bin, 'log', '--store', store], ctx.repoRoot, undefined, unset);
      floorRow.note += `; ${EXTRA_CA_VAR} is set (${caFile}): Node reads its certificates at every start, before any script, ${(median(floor.wallMs) - median(bare.wallMs)).toFixed(0)} ms of this floor`; // prettier-ignore
      rows.push(
        row(`node -e 0${UNSET_CA_SUFFIX}`, bare),
        row(`${STARTUP_GOALS[0].label}${UNSET_CA_SUFFIX}`, bareHelp, bare),
        row(`${STARTUP_GOALS[1].label}${UNSET_CA_SUFFIX}`, bareLog, bare),
      );
    }
    return { title: STARTUP_TITLE, rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
