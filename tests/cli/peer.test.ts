/**
 * CLI review finding 4: `bench --peer` runs a PyTorch peer the repository itself holds, so a
 * clone (without the shared folder next to it) can run it; nothing at run time reads outside the
 * repository. On 2 threads (the threads section's yardstick), the peer's own pools are set so.
 * The kernel-only ratio comes from rounds of ours and the peer back to back.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { formatBenchTable, kernelOnlyRounds, PEER_SCRIPT, REPO_ROOT } from '../../src/main/bench/bench'; // prettier-ignore
import { bestCoreType, forgetPeerBlas, peerBlas, peerOutput, runPeerScript } from '../../src/main/bench/peer'; // prettier-ignore
import { threadsSection } from '../../src/main/bench/threads-speed';
import { torchOrSkip } from '../helpers/torch';

test('the PyTorch peer script is part of the repository', () => {
  const rel = relative(REPO_ROOT, PEER_SCRIPT);
  assert.equal(rel, 'scripts/peers/torch_mlp.py');
  assert.ok(existsSync(PEER_SCRIPT), PEER_SCRIPT);
  assert.match(readFileSync(PEER_SCRIPT, 'utf8'), /import torch/);
});

test('the peers run with their BLAS and OpenMP pools held to one thread', () => {
  // torch.set_num_threads(1) alone leaves OpenBLAS's own threads running (src/main/bench/peer.ts)
  const r = runPeerScript(
    ['-c', 'import os; print(*(os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")))'], // prettier-ignore
    REPO_ROOT,
  );
  assert.equal(r.status, 0, String(r.stderr));
  assert.equal(r.stdout.trim(), '1 1 1');
});

test('a peer run gives the JSON of its last line, or why it gave none', () => {
  const ok = runPeerScript(['-c', 'print("warming up"); print(\'{"msPerStep": 1.5}\')'], REPO_ROOT);
  assert.deepEqual(peerOutput(ok), { msPerStep: 1.5 });
  const failed = runPeerScript(['-c', 'import sys; print("no torch here", file=sys.stderr); sys.exit(3)'], REPO_ROOT); // prettier-ignore
  assert.equal(peerOutput(failed), 'peer failed: no torch here');
  const silent = runPeerScript(['-c', 'print("done")'], REPO_ROOT);
  assert.equal(peerOutput(silent), 'peer failed: ');
});

test("a peer on 2 threads: torch's pool of 2 on any core, OpenBLAS on one thread inside it", () => {
  const r = runPeerScript(
    ['-c', 'import os; print(*(os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")), len(os.sched_getaffinity(0)))'], // prettier-ignore
    REPO_ROOT,
    2,
  );
  assert.equal(r.status, 0, String(r.stderr));
  assert.equal(r.stdout.trim(), `1 2 2 ${availableParallelism()}`);
});

test("bench --peer: the threads section gives the peer's own speed-up on each model", async (t) => {
  if (!torchOrSkip(t)) {
    return;
  }
  const s = await threadsSection({ quick: true, peer: true, repoRoot: REPO_ROOT, log: () => {} });
  for (const model of ['mlp 128,32 sgd, batch 100', 'lenet5, batch 64']) {
    const row = s.rows.find((r) => r.label === `${model}, peer speed-up`);
    assert.ok(row, s.rows.map((r) => r.label).join('; '));
    // (a real ratio of two whole peer runs: one pair with --quick)
    assert.ok(row.value > 0.2 && row.value < 4, `${model}: ${row.value} ${row.note}`);
    assert.match(row.note ?? '', /^PyTorch, the same model and batch: .*median of 1 alternating pair \([0-9.]+\)$/); // prettier-ignore
  }
});

test('the best OpenBLAS core type the CPU flags allow', () => {
  const avx512 = ['avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl'];
  assert.equal(bestCoreType(new Set(['sse4_2', 'avx', 'avx2', 'fma', ...avx512])), 'SkylakeX');
  assert.equal(bestCoreType(new Set(['avx', 'avx2', 'fma', 'avx512f'])), 'Haswell');
  assert.equal(bestCoreType(new Set(['avx', 'avx2'])), null);
  assert.equal(bestCoreType(new Set(['sse4_2'])), null);
});

test("the peers run with the OpenBLAS kernels peerBlas chose, and the environment's own choice is kept", (t) => {
  if (!torchOrSkip(t)) {
    return;
  }
  const coretype = () =>
    runPeerScript(['-c', 'import os; print(os.environ.get("OPENBLAS_CORETYPE", "-"))'], REPO_ROOT);
  const saved = process.env.OPENBLAS_CORETYPE;
  t.after(() => {
    if (saved === undefined) {
      delete process.env.OPENBLAS_CORETYPE;
    } else {
      process.env.OPENBLAS_CORETYPE = saved;
    }
    forgetPeerBlas();
  });
  delete process.env.OPENBLAS_CORETYPE;
  forgetPeerBlas();
  const b = peerBlas(REPO_ROOT);
  // torch's OpenBLAS says which core it found (Debian's torch links OpenBLAS)
  assert.ok(b.detected !== null, 'OpenBLAS did not say which core it found');
  assert.equal(coretype().stdout.trim(), b.coretype ?? '-');
  if (b.coretype !== null) {
    // chosen only after torch.mm measured faster with it
    const m = /([\d.]+) GMAC\/s as detected, ([\d.]+) GMAC\/s with (\w+)/.exec(b.note ?? '');
    assert.ok(m, b.note ?? 'no note');
    assert.ok(Number(m[2]) > Number(m[1]), b.note ?? '');
    assert.equal(m[3], b.coretype);
  }
  process.env.OPENBLAS_CORETYPE = 'Haswell';
  forgetPeerBlas();
  const kept = peerBlas(REPO_ROOT);
  assert.equal(kept.coretype, null);
  assert.match(kept.note ?? '', /OPENBLAS_CORETYPE=Haswell, as the environment sets it/);
  assert.equal(coretype().stdout.trim(), 'Haswell');
});

test('torch_gemm.py times torch.mm on the shapes it is given', (t) => {
  if (!torchOrSkip(t)) {
    return;
  }
  const r = runPeerScript([join(REPO_ROOT, 'scripts', 'peers', 'torch_gemm.py'), '--shapes', '64x16x48,33x7x5', '--reps', '3'], REPO_ROOT); // prettier-ignore
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as {
    threads: number;
    rates: { shape: number[]; best: number; median: number }[];
  };
  assert.equal(j.threads, 1);
  assert.deepEqual(
    j.rates.map((x) => x.shape),
    [
      [64, 16, 48],
      [33, 7, 5],
    ],
  );
  for (const x of j.rates) {
    assert.ok(x.best > 0 && x.best >= x.median && Number.isFinite(x.best), JSON.stringify(x));
  }
});

test("the kernel-only ratio: ours and the peer back to back, the median of the rounds' ratios", async (t) => {
  if (!torchOrSkip(t)) {
    return;
  }
  const r = await kernelOnlyRounds(true, () => {});
  assert.equal(r.available, true, r.reason);
  assert.equal(r.rounds?.length, 1);
  const [round] = r.rounds!;
  assert.ok(round.ours > 0 && round.peer > 0, JSON.stringify(round));
  assert.equal(r.msPerStep, round.peer);
  assert.equal(r.ratio, round.ours / round.peer);
  // three rounds are printed with the ratio (one is the ratio itself)
  const report = { date: '', quick: false, machine: { cpu: '', cores: 2, platform: '', arch: '', node: '', tfjs: '' }, training: [], checkpoint: undefined, cores: [], extra: [], goals: [{ goal: 'g', value: 1, limit: 1, ok: true }], notes: [] }; // prettier-ignore
  const rounds = [
    { ours: 0.6, peer: 1 },
    { ours: 0.9, peer: 1 },
    { ours: 0.7, peer: 0.5 },
  ];
  const text = formatBenchTable({ ...report, peer: { ...r, ratio: 0.9, rounds } } as unknown as Parameters<typeof formatBenchTable>[0]); // prettier-ignore
  assert.match(text, /ours \(wasm mlp sgd\) \/ peer = 0\.90× \(medians of 3 rounds, ours then the peer: 0\.60\/1\.00, 0\.90\/1\.00, 0\.70\/0\.50 ms\)/); // prettier-ignore
});
