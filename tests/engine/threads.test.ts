/**
 * Deterministic threads (src/main/engine/kernels/threads.ts): a GEMM split across 2, 3 or 4
 * threads gives exactly the bits of the one-thread kernel on odd shapes (bias, ReLU, transposed
 * A, chunks of k, bands that end mid-tile), and real training gives the same stateHash at every
 * step for 1–4 threads on wasm, equal to the JS reference (cpu) — the thread count is not in the
 * config or the fingerprint because it cannot change a bit; the MNIST MLP's batch transposed
 * ahead in the background gives those bits too, and so does a dense layer's weight gradient
 * computed by a worker beside its input gradient; a kernel that throws on a thread, in a call or
 * in the background, fails with its error. An optimizer's update split across threads (sgd,
 * momentum, adam) notices a non-finite weight in any chunk, as one call does. The next step's
 * batch gathered ahead in the background is taken at every step with the bits of one thread,
 * and dropped, changing nothing, when another trainer or an evaluation gathers in between.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, after } from 'node:test';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../src/main/engine/backend';
import { gemmsRunAside, K, run } from '../../src/main/engine/kernels/register';
import { aheadGathersFound, aheadTransposesFound } from '../../src/main/engine/kernels/sparse';
import { gathersTakenAhead } from '../../src/main/engine/kernels/gather-ahead';
import { stateHash } from '../../src/main/engine/state';
import { Trainer } from '../../src/main/engine/trainer';
import { GemmPool, setKernelThreads, splitCsrGathers, threadedCalls } from '../../src/main/engine/kernels/threads'; // prettier-ignore
import { instantiateKernels, WA } from '../../src/main/engine/kernels/wasm-module';
import type { TrainingConfig } from '../../src/main/engine/types';
import { ROOT } from '../helpers/cli';
import { firstDifference } from '../helpers/wasm-sandbox';
import { fakeConfig, hashesOf, optimizerOf, trainFrom } from '../helpers/engine';

after(() => setKernelThreads(1));

function filler(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

test('a GEMM split over 2, 3 and 4 threads equals the one-thread kernel bit for bit', () => {
  const memory = new WA.Memory({ initial: 64 });
  const k = instantiateKernels(memory);
  const rnd = filler(5);
  const pools = [2, 3, 4].map((t) => new GemmPool(t, 0, true));
  try {
    // [m, n, k]: odd rows (bands end mid-tile), odd columns (SIMD tails), k over several chunks
    const shapes: [number, number, number][] = [
      [8, 1, 1],
      [9, 5, 3],
      [27, 13, 300],
      [70, 19, 600],
      [101, 40, 17],
    ];
    for (const [m, n, kk] of shapes) {
      for (const transA of [false, true]) {
        for (const [bias, relu] of [
          [false, false],
          [true, true],
        ] as const) {
          const f32 = new Float32Array(memory.buffer as ArrayBuffer);
          const u8 = new Uint8Array(memory.buffer as ArrayBuffer);
          const [pa, pb, pbias, pc1, pc2] = [1028, 300_000, 500_000, 600_000, 800_000];
          for (let i = 0; i < m * kk; i++) {
            f32[pa / 4 + i] = rnd();
          }
          for (let i = 0; i < kk * n; i++) {
            f32[pb / 4 + i] = rnd();
          }
          for (let i = 0; i < n; i++) {
            f32[pbias / 4 + i] = rnd();
          }
          const [rsA, ksA] = transA ? [1, m] : [kk, 1];
          k.gemm(pa, rsA * 4, ksA * 4, pb, n * 4, pc1, n * 4, m, n, kk, bias ? pbias : 0, relu ? 1 : 0, 1); // prettier-ignore
          const want = f32.slice(pc1 / 4, pc1 / 4 + m * n);
          for (const pool of pools) {
            f32.fill(7, pc2 / 4, pc2 / 4 + m * n);
            const before = pool.calls;
            assert.ok(pool.gemm(u8, pa, rsA, ksA, pb, n, pc2, n, m, n, kk, bias ? pbias : 0, relu)); // prettier-ignore
            assert.equal(pool.calls, before + 1);
            const got = f32.slice(pc2 / 4, pc2 / 4 + m * n);
            const what = `${pool.threads} threads m=${m} n=${n} k=${kk} transA=${transA} bias=${bias}`;
            assert.deepEqual(new Uint32Array(got.buffer), new Uint32Array(want.buffer), what);
          }
        }
      }
    }
  } finally {
    pools.forEach((p) => p.close());
  }
});

test('a kernel that throws on a thread fails the call with its error, and the pool works on', () => {
  // in a child process: before this, a worker's error left the caller waiting for its chunk
  // forever (Atomics.wait on the main thread, where no test timeout can fire)
  const src = (f: string): string => JSON.stringify(pathToFileURL(join(ROOT, 'src/main/engine/kernels', f)).href); // prettier-ignore
  const script = `
    import { GemmPool, Kernel } from ${src('threads.ts')};
    import { WA } from ${src('wasm-module.ts')};
    import { nativeKernels } from ${src('native.ts')};
    const memory = new WA.Memory({ initial: 64, maximum: 64, shared: true });
    const f32 = new Float32Array(memory.buffer);
    const heap = new Uint8Array(memory.buffer);
    const [m, n, k, a, b, c, want] = [40, 24, 30, 1024, 65536, 131072, 196608];
    for (let i = 0; i < m * k + k * n; i++) f32[256 + i] = Math.sin(i);
    const out = [];
    for (const native of nativeKernels() ? [null, nativeKernels()] : [null]) {
      for (const callerWorks of [false, true]) {
        const pool = new GemmPool(2, 0, true, memory, callerWorks, native);
        let error = 'none';
        try {
          pool.gemm(heap, a, k, 1, 64 * 65536 - 64, n, c, n, m, n, k, 0, false);
        } catch (e) {
          error = e.name + ': ' + e.message;
        }
        // then a good call, in place
        pool.gemm(heap, a, k, 1, b, n, c, n, m, n, k, 0, false);
        const ok = f32.slice(c / 4, c / 4 + m * n);
        f32.fill(0, want / 4, want / 4 + m * n);
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s = Math.fround(s + Math.fround(f32[a / 4 + i * k + p] * f32[b / 4 + p * n + j]));
          f32[want / 4 + i * n + j] = s;
        }
        const same = ok.every((v, i) => Object.is(v, f32[want / 4 + i]));
        // a job in the background that throws (its output past the memory's end): join throws
        // its error, and the next job is right
        const [rp, ix, vl, rpT, ixT, vlT] = [262144, 262208, 262272, 266240, 270336, 274432];
        const jobErrors = [0, 20].map((ms) => {
          // joined at once (the caller mostly runs it), or after 20 ms (a worker has run it)
          pool.post(Kernel.csrTranspose, [rp, ix, vl, 1, 3, 64 * 65536 - 4, ixT, vlT]);
          for (const t0 = Date.now(); Date.now() - t0 < ms; );
          try {
            pool.join();
            return 'none';
          } catch (e) {
            return e.name + ': ' + e.message;
          }
        });
        // the 2 × 3 matrix [[1, 0, 2], [0, 3, 0]] in compressed rows; its transpose's rows 2 apart
        const i32 = new Int32Array(memory.buffer);
        i32.set([0, 8, 8, 12], rp / 4);
        i32.set([0, 2, 1], ix / 4);
        f32.set([1, 2, 3], vl / 4);
        pool.post(Kernel.csrTranspose, [rp, ix, vl, 2, 3, rpT, ixT, vlT]);
        pool.join();
        const t = [...i32.slice(rpT / 4, rpT / 4 + 6), i32[ixT / 4], i32[ixT / 4 + 2], i32[ixT / 4 + 4], f32[vlT / 4], f32[vlT / 4 + 2], f32[vlT / 4 + 4]]; // prettier-ignore
        const jobSame = JSON.stringify(t) === JSON.stringify([0, 4, 8, 12, 16, 20, 0, 1, 0, 1, 3, 2]);
        out.push({ native: native !== null, callerWorks, error, same, jobErrors, jobSame });
        pool.close();
      }
    }
    console.log(JSON.stringify(out));
  `;
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-threads-'));
  const file = join(dir, 'throw.mts');
  writeFileSync(file, script);
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 }); // prettier-ignore
  assert.equal(r.signal, null, `the call hung (killed after 60 s): ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  const results = JSON.parse(r.stdout.trim().split('\n').pop()!) as { native: boolean; callerWorks: boolean; error: string; same: boolean; jobErrors: string[]; jobSame: boolean }[]; // prettier-ignore
  assert.ok(results.length >= 2);
  for (const x of results) {
    const what = `${x.native ? 'native' : 'wasm'} kernels, caller ${x.callerWorks ? 'works too' : 'waits'}`; // prettier-ignore
    // wasm traps (RuntimeError: memory access out of bounds); the native twins' bounds checks
    // throw a RangeError
    assert.match(x.error, x.native ? /^RangeError: / : /out of bounds/, what);
    if (!x.callerWorks) {
      assert.match(x.error, /in a kernel thread, running gemm/, what);
    }
    assert.ok(x.same, `${what}: the next call is right`);
    assert.match(x.jobErrors[0], /out of bounds/, `${what}: the job in the background`);
    assert.match(x.jobErrors[1], /out of bounds.*in a kernel thread, running csrTranspose/, `${what}: the job a worker ran`); // prettier-ignore
    assert.ok(x.jobSame, `${what}: the next job is right`);
  }
});

const MODELS: [string, TrainingConfig][] = [
  ['mlp 24, sgd, batch 9', fakeConfig({ model: { kind: 'mlp', hidden: [24] }, batchSize: 9 })],
  [
    'mlp 128,32, batch 37',
    fakeConfig({ model: { kind: 'mlp', hidden: [128, 32] }, batchSize: 37, optimizer: optimizerOf('adam') }), // prettier-ignore
  ],
  [
    'lenet5, batch 17',
    fakeConfig({ model: { kind: 'lenet5', hidden: [] }, batchSize: 17, optimizer: optimizerOf('momentum') }), // prettier-ignore
  ],
];

for (const [label, config] of MODELS) {
  test(`${label}: the same stateHash at every step for 1, 2, 3 and 4 threads (wasm), = cpu`, async () => {
    setKernelThreads(1);
    const one = await hashesOf({ ...config, backend: 'wasm' }, 3);
    for (const threads of [2, 3, 4]) {
      setKernelThreads(threads, true);
      const before = threadedCalls();
      const got = await hashesOf({ ...config, backend: 'wasm' }, 3);
      assert.ok(threadedCalls() > before, `${threads} threads really split GEMMs`);
      assert.deepEqual(got, one, `${threads} threads`);
    }
    // the JS reference (cpu; its own fingerprint, so compare the tensors) with threads set
    setKernelThreads(3, true);
    const wasm = await trainFrom({ ...config, backend: 'wasm' }, 3);
    const cpu = await trainFrom({ ...config, backend: 'cpu' }, 3);
    for (const [name, t] of Object.entries(wasm.tensors)) {
      const u = new Uint32Array(cpu.tensors[name].data.buffer, cpu.tensors[name].data.byteOffset, t.data.length); // prettier-ignore
      assert.deepEqual(u, new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length), `cpu = wasm (3 threads): ${name}`); // prettier-ignore
    }
    setKernelThreads(1);
  });
}

test('mnist mlp 128,32, batch 100: the batch transposed ahead on 2 threads, the same stateHash as 1', async () => {
  // MNIST's zeros take the sparse GEMM, whose weight gradient reads the batch's rows transposed
  const config = fakeConfig({ dataset: 'mnist', model: { kind: 'mlp', hidden: [128, 32] }, batchSize: 100, seed: 4 }); // prettier-ignore
  setKernelThreads(1);
  const found = aheadTransposesFound();
  const one = await hashesOf({ ...config, backend: 'wasm' }, 4);
  assert.equal(aheadTransposesFound(), found, 'nothing ahead on one thread');
  setKernelThreads(2, true);
  const two = await hashesOf({ ...config, backend: 'wasm' }, 4);
  // (the first step teaches the sparse GEMM that the batch is read transposed)
  assert.ok(aheadTransposesFound() >= found + 3, 'the later steps found their batch transposed ahead'); // prettier-ignore
  assert.deepEqual(two, one);
  setKernelThreads(1);
});

test("a dense layer's weight gradient computed by a worker beside its input gradient (the MLP's second layer): the bits of one thread", async () => {
  await useBackend('wasm');
  const rnd = filler(11);
  const make = (shape: number[]): tf.Tensor =>
    tf.tensor(Float32Array.from({ length: shape[0] * shape[1] }, rnd), shape);
  const [x, w, dy] = [make([100, 128]), make([128, 32]), make([100, 32])];
  const y = tf.relu(make([100, 32]));
  const grads = (): Float32Array[] =>
    run<tf.Tensor[]>(K.denseGrad, { x, w, y, dy }, { relu: true, wantDx: true }).map((t) => {
      const data = t.dataSync() as Float32Array;
      t.dispose();
      return data;
    });
  setKernelThreads(1);
  const before = gemmsRunAside();
  const one = grads();
  assert.equal(gemmsRunAside(), before, 'nothing aside on one thread');
  setKernelThreads(2, true);
  const two = grads();
  setKernelThreads(1);
  assert.equal(gemmsRunAside(), before + 1, 'dW computed aside');
  ['dW', 'db', 'dx'].forEach((name, i) => assert.equal(firstDifference(two[i], one[i]), -1, name));
  tf.dispose([x, w, dy, y]);
});

test('mnist mlp, batch 100, 2 threads as in training: a first batch gathered in bands with its compressed rows, the stateHash of 1', async () => {
  // (not the tests' blocking mode, which splits every call: there the plain gather splits first)
  const config = fakeConfig({ dataset: 'mnist', model: { kind: 'mlp', hidden: [128, 32] }, batchSize: 100, seed: 6 }); // prettier-ignore
  setKernelThreads(1);
  const one = await hashesOf({ ...config, backend: 'wasm' }, 4);
  setKernelThreads(2);
  // the workers boot in the background, one thread computing meanwhile: wait until they split
  const calls = threadedCalls();
  for (let i = 0; i < 100 && threadedCalls() === calls; i++) {
    await hashesOf({ ...config, backend: 'wasm' }, 1);
    await new Promise((done) => setTimeout(done, 50));
  }
  const before = splitCsrGathers();
  const two = await hashesOf({ ...config, backend: 'wasm' }, 4);
  // (a trainer's later steps take their batch gathered ahead, in the background: its first
  // gathers in bands)
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(await hashesOf({ ...config, backend: 'wasm' }, 1), one.slice(0, 2));
  }
  setKernelThreads(1);
  assert.ok(splitCsrGathers() >= before + 3, `the batches were gathered in bands (${splitCsrGathers() - before})`); // prettier-ignore
  assert.deepEqual(two, one);
});

test('the next batch gathered ahead on 2 threads (mlp: with its compressed rows; lenet5: the floats): taken at every step, the bits of 1 thread; another trainer between, an evaluation between, a dispose while one is pending', async () => {
  const mlp = fakeConfig({ dataset: 'mnist', model: { kind: 'mlp', hidden: [128, 32] }, batchSize: 100, seed: 5, backend: 'wasm' }); // prettier-ignore
  const lenet = fakeConfig({ dataset: 'mnist', model: { kind: 'lenet5', hidden: [] }, batchSize: 16, seed: 8, backend: 'wasm' }); // prettier-ignore
  setKernelThreads(1);
  const taken = gathersTakenAhead();
  const oneMlp = await hashesOf(mlp, 4);
  const oneLenet = await hashesOf(lenet, 3);
  assert.equal(gathersTakenAhead(), taken, 'nothing ahead on one thread');
  setKernelThreads(2, true);
  const rows = aheadGathersFound();
  assert.deepEqual(await hashesOf(mlp, 4), oneMlp, 'mlp, 2 threads');
  assert.equal(gathersTakenAhead(), taken + 3, 'every step after the first took its batch gathered ahead'); // prettier-ignore
  assert.equal(aheadGathersFound(), rows + 3, 'with its compressed rows');
  assert.deepEqual(await hashesOf(lenet, 3), oneLenet, 'lenet5, 2 threads');
  assert.equal(gathersTakenAhead(), taken + 5);
  // two trainers taking turns: each one's batch ahead is dropped by the other's gather (an
  // evaluation's gathers drop it too), and each ends with the bits it has alone
  const [a, b] = [await Trainer.create(mlp), await Trainer.create({ ...mlp, seed: 6 })];
  const alone = await hashesOf({ ...mlp, seed: 6 }, 3);
  for (let i = 0; i < 3; i++) {
    a.trainStep();
    b.trainStep();
    if (i === 1) {
      b.evaluate(['test']);
    }
  }
  assert.equal(stateHash(a.snapshot()), oneMlp[3]);
  assert.equal(stateHash(b.snapshot()), alone[3]);
  // disposed with a batch gathered ahead pending: the next trainer is not disturbed
  a.dispose();
  b.dispose();
  assert.deepEqual(await hashesOf(mlp, 4), oneMlp);
  setKernelThreads(1);
});

test('an update split across threads (sgd, momentum, adam) notices a non-finite weight in any chunk, as one call does', async () => {
  await useBackend('wasm');
  const [k, n] = [784, 128];
  // x: mostly zeros (the sparse GEMM's case), columns 0 and 783 all zero
  const xs = new Float32Array(64 * k);
  const rnd = filler(5);
  for (let i = 0; i < xs.length; i++) {
    const c = i % k;
    xs[i] = c !== 0 && c !== k - 1 && rnd() > 0.35 ? rnd() + 0.5 : 0;
  }
  const x = tf.tensor2d(xs, [64, k]);
  const g = tf.zeros([k, n]);
  const b = tf.zeros([n]);
  try {
    // an Inf in the first chunk's rows, in the last chunk's, at the last element
    for (const at of [5, (k - 1) * n + 7, k * n - 1]) {
      const ws = new Float32Array(k * n).map(() => rnd());
      ws[at] = Infinity;
      const out: Float32Array[] = [];
      for (const [threads, kind] of [
        [1, 'sgd'],
        [2, 'sgd'],
        [1, 'momentum'],
        [2, 'momentum'],
        [1, 'adam'],
        [2, 'adam'],
      ] as const) {
        setKernelThreads(threads, true);
        const w = tf.tensor2d(ws, [k, n]);
        const acc = tf.zeros([k, n]);
        const before = threadedCalls();
        const adam = { lr: 0.1, b1: 0.9, b2: 0.999, c1: 0.1, c2: 0.001, eps: 1e-7 };
        const [w1, acc1, v1] =
          kind === 'sgd'
            ? run<tf.Tensor[]>(K.sgd, { w, g }, { lr: 0.1 })
            : kind === 'momentum'
              ? run<tf.Tensor[]>(K.momentum, { w, g, acc }, { lr: 0.1, mu: 0.9 })
              : run<tf.Tensor[]>(K.adam, { w, g, m: acc, v: acc }, adam);
        if (threads > 1) {
          assert.ok(threadedCalls() > before, `${kind}: the update was split`);
        }
        // the next GEMM reads the new weights as B: a non-finite B must not take the sparse path,
        // which would skip the 0·Inf (= NaN) products of x's zero columns
        const y = run<tf.Tensor>(K.dense, { x, w: w1, b }, { relu: false });
        out.push(y.dataSync() as Float32Array);
        for (const t of [w, acc, w1, acc1, v1, y]) {
          t?.dispose();
        }
      }
      const col = at % n;
      assert.ok(Number.isNaN(out[0][col]), `element ${at}: 1 thread, 0·Inf in column ${col}`);
      for (let i = 1; i < out.length; i++) {
        assert.equal(
          firstDifference(out[i], out[0]),
          -1,
          `element ${at}, run ${i}: the bits of one call`,
        );
      }
    }
  } finally {
    setKernelThreads(1);
    for (const t of [x, g, b]) {
      t.dispose();
    }
  }
});
