/**
 * `lockstep bench`: how fast training is, measured the same way every time.
 *
 * - ms/step for the default MLP (128,32; sgd and adam) and softmax regression (sgd), batch 100,
 *   MNIST, on every available backend: median of several repetitions after a warm-up (V8 needs
 *   many iterations to tier wasm and JS up). Each (backend, model, optimizer) runs in a fresh
 *   child process (./worker.ts), which also reports its peak RSS.
 * - checkpoint save (snapshot + encode + store) and read (verified) time, bytes per checkpoint;
 *   resume time (Trainer.restore + the first step) at step 10 and at step 1,000,000 (I6).
 * - with `peer`, the PyTorch peer (scripts/peers/torch_mlp.py, one thread) in the same
 *   invocation, and the ratio ours/peer: the median of 3 rounds of ours and the peer back to back
 *   (`kernelOnlyRounds`).
 * - `BENCH_SECTIONS`: further measurements (trace overhead, verify speed, ./trace-verify.ts);
 *   each returns a titled list of rows for the table and the JSON.
 * - One-thread runs (ours and the peers') are pinned to the core that was fastest a moment
 *   before when the cores are not alike (./cores.ts: the cores of a shared virtual machine need
 *   not be); the report keeps every check of the cores.
 */
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { bundleImportSection } from './bundle-import';
import { cnnSection } from './cnn';
import { decaySection } from './decay';
import { coreChecks, pinToFastestCore, type CoreCheck } from './cores';
import { runWorkerProgram } from './run-worker';
import { gemmRateSection } from './gemm-rate';
import { STARTUP_GOALS, STARTUP_TITLE, startupSection, UNSET_CA_SUFFIX } from './startup';
import { marginalTrainSection } from './marginal';
import { peerBlas, peerOutput, peerUnavailable, PYTHON, runPeerScript } from './peer';
import { threadsSection } from './threads-speed';
import { traceOverheadSection, verifySpeedSection } from './trace-verify';
import { nativeAvailable } from '../engine/backend';
import { nativeStatus } from '../engine/kernels/native';
import { mnistDir } from '../engine/data';
import { repoRoot } from '../entry-points';
import type { BackendName, OptimizerKind } from '../engine/types';
import { median, type BenchJob, type CheckpointResult, type TrainResult } from './worker';

export interface BenchOptions {
  /** fewer and shorter repetitions */
  quick?: boolean;
  /** also run the PyTorch peer */
  peer?: boolean;
  /** progress lines (stderr in the CLI) */
  log?: (line: string) => void;
  /** backends to measure (default: every available one) */
  backends?: BackendName[];
}

export interface TrainRow {
  backend: BackendName;
  model: 'mlp' | 'softmax';
  hidden: number[];
  optimizer: OptimizerKind;
  batchSize: number;
  msPerStep: number;
  repsMs: number[];
  warmupSteps: number;
  stepsPerRep: number;
  peakRssMB: number;
}

export interface PeerResult {
  available: boolean;
  reason?: string;
  name?: string;
  version?: string;
  threads?: number;
  steps?: number;
  msPerStep?: number;
  /** ours (wasm, default MLP, sgd) / peer: the median of the rounds' ratios */
  ratio?: number;
  /** each round's ms/step, ours then the peer back to back (the host drifts within minutes) */
  rounds?: { ours: number; peer: number }[];
}

export interface ExtraRow {
  label: string;
  value: number;
  unit: string;
  note?: string;
}

export interface ExtraSection {
  title: string;
  rows: ExtraRow[];
  /** goals this section checks (added to the report's goal table) */
  goals?: GoalCheck[];
}

export interface BenchContext {
  quick: boolean;
  /** run the peers too (`bench --peer`) */
  peer: boolean;
  repoRoot: string;
  log: (line: string) => void;
}

/** A further measurement: a titled list of rows. */
export type BenchSection = (ctx: BenchContext) => Promise<ExtraSection>;

/** The further measurements, in table order. */
const BENCH_SECTIONS: readonly BenchSection[] = [
  marginalTrainSection,
  traceOverheadSection,
  decaySection,
  verifySpeedSection,
  bundleImportSection,
  cnnSection,
  gemmRateSection,
  threadsSection,
  startupSection,
];

export interface GoalCheck {
  goal: string;
  value: number | null;
  limit: number;
  ok: boolean | null;
}

export interface BenchReport {
  date: string;
  quick: boolean;
  machine: {
    cpu: string;
    cores: number;
    platform: string;
    arch: string;
    node: string;
    tfjs: string;
  };
  training: TrainRow[];
  checkpoint: ({ model: string } & Omit<CheckpointResult, 'peakRssMB'>) | null;
  /** each measurement of the cores' speeds; empty where they could not be measured */
  cores: CoreCheck[];
  peer: PeerResult | null;
  extra: ExtraSection[];
  goals: GoalCheck[];
  notes: string[];
}

/** The repository root. */
export const REPO_ROOT = repoRoot();
/** The PyTorch peer, kept in the repository (a clone has it): scripts/peers/torch_mlp.py */
export const PEER_SCRIPT = resolve(REPO_ROOT, 'scripts', 'peers', 'torch_mlp.py');

/** Runs one job of ./worker.ts in a fresh Node process (./run-worker.ts) and returns its result. */
export function runWorker<T>(job: BenchJob, threads = 1): Promise<T> {
  return runWorkerProgram<T>('bench-worker', job, threads);
}

/** Runs the PyTorch peer when python3 can import torch. */
function runPeer(steps: number, log: (l: string) => void): PeerResult {
  if (!existsSync(PEER_SCRIPT)) {
    return { available: false, reason: `peer script not found at ${PEER_SCRIPT}` };
  }
  const why = peerUnavailable();
  if (why !== null) {
    return { available: false, reason: why };
  }
  log(`peer: ${PYTHON} ${PEER_SCRIPT} --steps ${steps} --threads 1 (BLAS on one thread)`);
  const r = runPeerScript([PEER_SCRIPT, '--data', mnistDir(), '--steps', String(steps), '--threads', '1'], REPO_ROOT); // prettier-ignore
  const j = peerOutput<{
    peer: string;
    version: string;
    threads: number;
    steps: number;
    msPerStep: number;
  }>(r);
  if (typeof j === 'string') {
    return { available: false, reason: j };
  }
  return {
    available: true,
    name: j.peer,
    version: j.version,
    threads: j.threads,
    steps: j.steps,
    msPerStep: j.msPerStep,
  };
}

/**
 * The kernel-only comparison: the default MLP on wasm (a bench worker, as in the training table)
 * and the peer, back to back on the pinned core, 3 rounds (1 with --quick); the ratio is the median
 * of the rounds' ratios. One pair measured minutes apart is not a ratio here: the peer alone ran
 * 1.28, 1.00 and 0.82 ms a step in three benches of one day.
 */
export async function kernelOnlyRounds(
  quick: boolean,
  log: (l: string) => void,
): Promise<PeerResult> {
  // prettier-ignore
  const rounds: { ours: number; peer: number }[] = [];
  let last: PeerResult = { available: false, reason: 'no round ran' };
  for (let round = 0; round < (quick ? 1 : 3); round++) {
    await pinToFastestCore(`peer, round ${round + 1}`, log);
    log(`peer: round ${round + 1}: ours (wasm mlp sgd), then the peer`);
    const ours = await runWorker<TrainResult>({ kind: 'train', backend: 'wasm', model: 'mlp', optimizer: 'sgd', ...plan('wasm', quick) }); // prettier-ignore
    last = runPeer(quick ? 1000 : 2000, log);
    if (!last.available || last.msPerStep === undefined) {
      return last;
    }
    rounds.push({ ours: ours.msPerStep, peer: last.msPerStep });
  }
  return {
    ...last,
    msPerStep: median(rounds.map((r) => r.peer)),
    ratio: median(rounds.map((r) => r.ours / r.peer)),
    rounds,
  };
}

const CASES: { model: 'mlp' | 'softmax'; optimizer: OptimizerKind }[] = [
  { model: 'mlp', optimizer: 'sgd' },
  { model: 'mlp', optimizer: 'adam' },
  { model: 'softmax', optimizer: 'sgd' },
];

/** Warm-up and repetition plan per backend (cpu is ~10x slower per step). */
export function plan(
  backend: BackendName,
  quick: boolean,
): { warmup: number; reps: number; steps: number } {
  if (backend === 'cpu') {
    return quick ? { warmup: 10, reps: 3, steps: 10 } : { warmup: 30, reps: 5, steps: 30 };
  }
  return quick ? { warmup: 150, reps: 3, steps: 100 } : { warmup: 400, reps: 7, steps: 200 };
}

export async function runBench(options: BenchOptions = {}): Promise<BenchReport> {
  const quick = options.quick === true;
  const log = options.log ?? ((): void => {});
  const backends: BackendName[] =
    options.backends ?? (['wasm', 'cpu', 'tensorflow'] as BackendName[]);
  const notes: string[] = [];
  // which kernels every wasm figure below ran on (./worker.ts's processes load the same)
  notes.push(`kernels: ${nativeStatus().detail}`);
  const available = backends.filter((b) => b !== 'tensorflow' || nativeAvailable());
  if (backends.includes('tensorflow') && !available.includes('tensorflow')) {
    notes.push(
      'backend tensorflow not measured: @tensorflow/tfjs-node or its native library is not installed',
    );
  }
  const training: TrainRow[] = [];
  for (const backend of available) {
    const p = plan(backend, quick);
    for (const c of CASES) {
      log(
        `training: ${backend} ${c.model} ${c.optimizer} (${p.warmup} warm-up steps, ${p.reps}×${p.steps})`,
      );
      await pinToFastestCore(`training ${backend} ${c.model} ${c.optimizer}`, log);
      const r = await runWorker<TrainResult>({ kind: 'train', backend, ...c, ...p });
      training.push({
        backend: r.backend,
        model: c.model,
        hidden: c.model === 'mlp' ? [128, 32] : [],
        optimizer: c.optimizer,
        batchSize: 100,
        msPerStep: r.msPerStep,
        repsMs: r.repsMs,
        warmupSteps: p.warmup,
        stepsPerRep: p.steps,
        peakRssMB: r.peakRssMB,
      });
    }
  }
  log('checkpoints: save, read, resume at step 10 and 1,000,000');
  const ck = await runWorker<CheckpointResult>({ kind: 'checkpoint', reps: quick ? 3 : 7 });
  const checkpoint = { model: 'mlp 128,32 sgd (wasm)', ...ck };
  const peer = options.peer ? await kernelOnlyRounds(quick, log) : null;
  if (peer?.available) {
    // which kernels the peers' OpenBLAS runs (./peer.ts): said whenever it was not left alone
    const blasNote = peerBlas(REPO_ROOT).note;
    if (blasNote !== null) {
      notes.push(blasNote);
    }
  }
  const ours = training.find(
    (r) => r.backend === 'wasm' && r.model === 'mlp' && r.optimizer === 'sgd',
  );
  const extra: ExtraSection[] = [];
  for (const section of BENCH_SECTIONS) {
    extra.push(await section({ quick, peer: options.peer === true, repoRoot: REPO_ROOT, log }));
  }
  const find = (b: BackendName, m: string, o: string): TrainRow | undefined =>
    training.find((r) => r.backend === b && r.model === m && r.optimizer === o);
  const startupRow = (label: string): ExtraRow | undefined =>
    extra.find((s) => s.title === STARTUP_TITLE)?.rows.find((r) => r.label === label);
  const check = (goal: string, value: number | null | undefined, limit: number): GoalCheck => ({
    goal,
    value: value ?? null,
    limit,
    ok: value === null || value === undefined ? null : value <= limit,
  });
  const goals = [
    // issue 16's budgets (the marginal `lockstep train` ≤ 1.0× goal is in its own section)
    check('wasm MLP sgd kernel-only ms/step ≤ 0.8× the PyTorch peer', peer?.ratio, 0.8),
    check('softmax (wasm) ms/step ≤ 0.4', find('wasm', 'softmax', 'sgd')?.msPerStep, 0.4),
    check('cpu MLP sgd ms/step ≤ 30', find('cpu', 'mlp', 'sgd')?.msPerStep, 30),
    check('peak RSS of a training process (wasm MLP) ≤ 400 MB', ours?.peakRssMB, 400),
    ...STARTUP_GOALS.map((g) =>
      check(`${g.label}: median wall ms ≤ ${g.limitMs}`, startupRow(g.label)?.value, g.limitMs),
    ),
    // the same goals for a start without the certificates the environment makes every Node
    // process read (./startup.ts), where the section measured that
    ...STARTUP_GOALS.flatMap((g) => {
      const r = startupRow(`${g.label}${UNSET_CA_SUFFIX}`);
      return r ? [check(`${r.label}: median wall ms ≤ ${g.limitMs}`, r.value, g.limitMs)] : [];
    }),
    ...extra.flatMap((s) => s.goals ?? []),
  ];
  return {
    date: new Date().toISOString(),
    quick,
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      platform: process.platform,
      arch: process.arch,
      node: process.version,
      tfjs: tf.version_core,
    },
    training,
    checkpoint,
    cores: [...coreChecks()],
    peer,
    extra,
    goals,
    notes,
  };
}

const fmt = (x: number, digits = 2): string => x.toFixed(digits);

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map(
    (r) =>
      '  ' +
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
  );
}

/**
 * How the cores measured ("cores (ms for a fixed GEMM loop, 31 checks): alone cpu0 62–150, cpu1
 * 64–290; all at once …", then how many checks pinned), or why they were not.
 */
function coresLine(checks: CoreCheck[]): string[] {
  if (checks.length === 0) {
    return ['cores: not measured (not Linux, no taskset, or one core): one-thread runs not pinned'];
  }
  const ids = checks[0].ids;
  const range = (ms: number[]): string => `${Math.min(...ms).toFixed(0)}–${Math.max(...ms).toFixed(0)}`; // prettier-ignore
  const alone = ids.map((id, i) => `cpu${id} ${range(checks.map((c) => c.loopMs[i]))}`);
  const together = ids.map((_, i) => range(checks.map((c) => c.togetherMs[i])));
  const pinned = checks.filter((c) => c.pinned !== null).length;
  return [
    `cores (ms for a fixed GEMM loop, ${checks.length} checks): alone ${alone.join(', ')}; all at once ${together.join(', ')}`, // prettier-ignore
    `one-thread runs pinned to the fastest core after ${pinned} of the checks (the others found the cores alike)`, // prettier-ignore
  ];
}

/** The human-readable table of a report. */
export function formatBenchTable(r: BenchReport): string {
  const lines: string[] = [];
  lines.push(
    `lockstep bench${r.quick ? ' (quick)' : ''} — ${r.date}`,
    `${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.platform}/${r.machine.arch}, node ${r.machine.node}, tfjs ${r.machine.tfjs}`,
    ...coresLine(r.cores),
    '',
    'training, MNIST, batch 100 (ms/step: median of repetitions after warm-up; one process each)',
  );
  const rows = [['backend', 'model', 'optimizer', 'ms/step', 'min–max', 'peak RSS']];
  for (const t of r.training) {
    rows.push([
      t.backend,
      t.model === 'mlp' ? `mlp ${t.hidden.join(',')}` : 'softmax',
      t.optimizer,
      fmt(t.msPerStep),
      `${fmt(Math.min(...t.repsMs))}–${fmt(Math.max(...t.repsMs))}`,
      `${fmt(t.peakRssMB, 0)} MB`,
    ]);
  }
  lines.push(...table(rows));
  if (r.peer) {
    lines.push('');
    if (r.peer.available) {
      lines.push(
        `peer: ${r.peer.name} ${r.peer.version} (${r.peer.threads} thread, ${r.peer.steps} steps): ${fmt(r.peer.msPerStep ?? NaN)} ms/step` +
          (r.peer.ratio !== undefined
            ? `; ours (wasm mlp sgd) / peer = ${fmt(r.peer.ratio)}×`
            : '') +
          (r.peer.rounds && r.peer.rounds.length > 1
            ? ` (medians of ${r.peer.rounds.length} rounds, ours then the peer: ${r.peer.rounds.map((x) => `${fmt(x.ours)}/${fmt(x.peer)}`).join(', ')} ms)` // prettier-ignore
            : ''),
      );
    } else {
      lines.push(`peer: not run — ${r.peer.reason}`);
    }
  }
  if (r.checkpoint) {
    const c = r.checkpoint;
    lines.push(
      '',
      `checkpoints (${c.model}): save ${fmt(c.saveMs)} ms, read+verify ${fmt(c.readMs)} ms, ${fmt(c.bytes / 1024, 0)} KiB each`,
      `resume (restore + first step): at step 10 ${fmt(c.resumeStep10Ms)} ms, at step ${c.farStep.toLocaleString('en-US')} ${fmt(c.resumeFarMs)} ms`,
    );
  }
  for (const s of r.extra) {
    lines.push('', s.title);
    lines.push(...table(s.rows.map((x) => [x.label, `${fmt(x.value)} ${x.unit}`, x.note ?? ''])));
  }
  lines.push('', 'goals');
  lines.push(
    ...table(
      r.goals.map((g) => [
        g.ok === null ? 'n/a' : g.ok ? 'ok' : 'MISSED',
        g.goal,
        g.value === null ? '(not measured)' : fmt(g.value),
      ]),
    ),
  );
  for (const n of r.notes) {
    lines.push(`note: ${n}`);
  }
  return lines.join('\n');
}
