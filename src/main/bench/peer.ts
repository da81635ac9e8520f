/**
 * How the bench runs its PyTorch peers (scripts/peers/*.py): Debian's interpreter, a probe for
 * torch, and the environment that makes "one thread" mean one thread. `torch.set_num_threads(1)`
 * (the scripts' --threads 1) does not hold back OpenBLAS's own thread pool: measured here, the
 * MLP peer then used 1.9 ms of CPU per 0.85 ms step (more than one core) and its ms/step swung
 * from 0.85 to 2.8 between runs as its spinning threads met other work. With OPENBLAS_NUM_THREADS
 * (and OMP_NUM_THREADS, MKL_NUM_THREADS) = 1 it runs on one core as the issue's goals state — and
 * faster (0.78–0.80 ms/step), so the comparison is the stricter one for us. Like our one-thread
 * runs, it runs on the core ./cores.ts pinned, if any.
 *
 * OpenBLAS picks its kernels by the CPU it recognises, and an OpenBLAS older than the CPU falls
 * back to its generic pre-AVX kernels: Debian 12's 0.3.21 takes a Xeon of model 207 (Emerald
 * Rapids, AVX-512) for "Prescott", and torch.mm of 4096×64×576 on one thread then runs at 8.9
 * GMAC/s where its SkylakeX kernels run at 61; the MLP peer took 2.2 ms/step instead of 0.86. A
 * peer slowed down like that would flatter every ratio against it. So {@link peerBlas}, once per
 * process, asks OpenBLAS which core it found (OPENBLAS_VERBOSE=2); when that is one of the
 * pre-AVX cores and the CPU has AVX2 and FMA, it times torch.mm (scripts/peers/torch_gemm.py) as
 * detected and with OPENBLAS_CORETYPE set to the best core the CPU's flags allow (SkylakeX,
 * Haswell), and the peers run with the faster of the two. An OPENBLAS_CORETYPE already in the
 * environment is left as it is. The report says what was chosen and the two rates.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { onOneCore } from './cores';

export const PYTHON = '/usr/bin/python3';

/** OpenBLAS's core types without AVX: what its dynamic build falls back to for a CPU it does not know. */
const PRE_AVX_CORES = new Set(['Katmai', 'Coppermine', 'Northwood', 'Prescott', 'Banias', 'Atom', 'Core2', 'Penryn', 'Dunnington', 'Nehalem']); // prettier-ignore

/** The shape torch.mm is timed on to choose the peer's OpenBLAS kernels (M×N×K). */
const BLAS_CHECK_SHAPE = '4096x64x576';

/** What the peers' OpenBLAS uses: the core it detected, and OPENBLAS_CORETYPE when set for it. */
export interface PeerBlas {
  /** the core OpenBLAS reported (null: not reported, e.g. torch on another BLAS) */
  detected: string | null;
  /** OPENBLAS_CORETYPE for the peers (null: as detected, or as the environment sets it) */
  coretype: string | null;
  /** what was done and why, for the report (null: nothing to say) */
  note: string | null;
}

/**
 * The best OpenBLAS core type the CPU's flags (/proc/cpuinfo's, Linux) allow, of those that
 * matter for float32 GEMM: SkylakeX (AVX-512 F, CD, BW, DQ, VL), Haswell (AVX2, FMA); else null.
 */
export function bestCoreType(flags: ReadonlySet<string>): string | null {
  if (['avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl'].every((f) => flags.has(f))) {
    return 'SkylakeX';
  }
  return flags.has('avx2') && flags.has('fma') ? 'Haswell' : null;
}

/** The CPU's flags (the first processor's in /proc/cpuinfo); empty where there is none. */
function cpuFlags(): Set<string> {
  try {
    const line = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return new Set((line?.[1] ?? '').trim().split(/\s+/));
  } catch {
    return new Set();
  }
}

const ONE_THREAD = { OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };

/**
 * torch.mm's best GMAC/s on `shape` ('MxNxK') over `reps` products and torch's version
 * (scripts/peers/torch_gemm.py of `root`, one thread, on the pinned core, `env` added to the
 * environment), or why it gave none.
 */
export function torchMmRate(root: string, shape: string, reps: number, env: Record<string, string> = {}): { best: number; version: string } | string { // prettier-ignore
  const [command, argv] = onOneCore(PYTHON, [join(root, 'scripts', 'peers', 'torch_gemm.py'), '--shapes', shape, '--reps', String(reps)]); // prettier-ignore
  const r = spawnSync(command, argv, { encoding: 'utf8', cwd: root, env: { ...process.env, ...ONE_THREAD, ...env } }); // prettier-ignore
  try {
    const j = JSON.parse((r.stdout ?? '').trim().split('\n').pop() ?? '') as { version: string; rates: { best: number }[] }; // prettier-ignore
    if (r.status === 0 && Number.isFinite(j.rates[0].best)) {
      return { best: j.rates[0].best, version: j.version };
    }
  } catch {
    // (said below)
  }
  return `peer failed: ${(r.stderr ?? '').trim().split('\n').pop()}`;
}

/** The peers' OPENBLAS_CORETYPE, when {@link peerBlas} chose one, as environment variables. */
export function peerBlasEnv(root: string): Record<string, string> {
  const { coretype } = peerBlas(root);
  return coretype ? { OPENBLAS_CORETYPE: coretype } : {};
}

let blas: PeerBlas | undefined;

/** Forgets the choice, so that the next {@link peerBlas} decides again (tests). */
export function forgetPeerBlas(): void {
  blas = undefined;
}

/** The peers' OpenBLAS choice (see the header); decided on first use, with the peer's own repository `root`. */
export function peerBlas(root: string): PeerBlas {
  if (blas !== undefined) {
    return blas;
  }
  blas = { detected: null, coretype: null, note: null };
  if (process.env.OPENBLAS_CORETYPE !== undefined) {
    blas.note = `the peers' OpenBLAS runs with OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE}, as the environment sets it`; // prettier-ignore
    return blas;
  }
  const probe = spawnSync(PYTHON, ['-c', 'import torch; torch.ones(64, 64) @ torch.ones(64, 64)'], { encoding: 'utf8', env: { ...process.env, ...ONE_THREAD, OPENBLAS_VERBOSE: '2' } }); // prettier-ignore
  blas.detected = /Core: (\S+)/.exec(`${probe.stdout}${probe.stderr}`)?.[1] ?? null;
  const best = bestCoreType(cpuFlags());
  if (blas.detected === null || !PRE_AVX_CORES.has(blas.detected) || best === null) {
    return blas;
  }
  const rateOf = (env: Record<string, string>): number | null => {
    const r = torchMmRate(root, BLAS_CHECK_SHAPE, 9, env);
    return typeof r === 'string' ? null : r.best;
  };
  const asDetected = rateOf({});
  const chosen = rateOf({ OPENBLAS_CORETYPE: best });
  const rate = (x: number | null): string => (x === null ? 'failed' : `${x.toFixed(1)} GMAC/s`);
  const rates = `torch.mm ${BLAS_CHECK_SHAPE} on one thread: ${rate(asDetected)} as detected, ${rate(chosen)} with ${best}`; // prettier-ignore
  if (chosen !== null && (asDetected === null || chosen > asDetected)) {
    blas.coretype = best;
    blas.note = `the peers' OpenBLAS took this CPU for ${blas.detected} (kernels without AVX) though it has ${best === 'SkylakeX' ? 'AVX-512' : 'AVX2 and FMA'}: the peers run with OPENBLAS_CORETYPE=${best} (${rates})`; // prettier-ignore
  } else {
    blas.note = `the peers' OpenBLAS took this CPU for ${blas.detected}; ${best} was no faster, so it is left as detected (${rates})`; // prettier-ignore
  }
  return blas;
}

/** Why the peers cannot run here, or null when python3 imports torch and numpy. */
export function peerUnavailable(): string | null {
  if (!existsSync(PYTHON)) {
    return `${PYTHON} not found`;
  }
  if (spawnSync(PYTHON, ['-c', 'import torch, numpy']).status !== 0) {
    return 'python3-torch is not installed (apt-get install -y python3-torch libopenblas0-pthread)';
  }
  return null;
}

/** What a peer script printed: the JSON of its last line of output, or why there is none. */
export function peerOutput<T>(r: SpawnSyncReturns<string>): T | string {
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !last.startsWith('{')) {
    return `peer failed: ${(r.stderr ?? '').trim().split('\n').pop()}`;
  }
  return JSON.parse(last) as T;
}

/**
 * Runs a peer script with its BLAS and OpenMP pools held to one thread (on the pinned core), and
 * OpenBLAS's kernels chosen by {@link peerBlas} (`cwd`: the repository, whose peers those are).
 * `threads` > 1 (the script's own `--threads` says the same to torch): torch's intra-op (OpenMP)
 * pool gets that many threads, on any core, and OpenBLAS stays on one thread inside each — its
 * best here: with OpenBLAS's own pool of 2 as well, the MLP ran 3.8–4.8 ms a step against
 * 0.93–1.34 (lenet5 11.6–13.2 against 4.9–6.1), the two pools fighting over the two cores.
 */
export function runPeerScript(args: string[], cwd: string, threads = 1): SpawnSyncReturns<string> {
  const [command, argv] = threads === 1 ? onOneCore(PYTHON, args) : [PYTHON, args];
  const pools = threads === 1 ? ONE_THREAD : { ...ONE_THREAD, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) }; // prettier-ignore
  return spawnSync(command, argv, {
    encoding: 'utf8',
    cwd,
    env: { ...process.env, ...pools, ...peerBlasEnv(cwd) },
  });
}
