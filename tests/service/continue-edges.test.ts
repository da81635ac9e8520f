/**
 * Issue 19, continue semantics on real training: every reported checkpoint is reachable, the
 * "nothing new" path writes nothing, a branch keeps its config and schedule, re-running a
 * command does not duplicate a branch, an explicit taken name is refused, and continuing onto
 * other data or another backend fingerprint is refused or branched (F1, F3, F4, F5).
 * Every refusal leaves the store byte-identical.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fingerprint, nativeAvailable } from '../../src/main/engine/backend';
import { encodeState } from '../../src/main/engine/state';
import { Trainer } from '../../src/main/engine/trainer';
import type { TrainingState } from '../../src/main/engine/types';
import { verifyRef } from '../../src/main/service/verify';
import { continueFrom, startRun } from '../../src/main/service/train';
import type { TrainResult as JobResult } from '../../src/shared/contract';
import { Store } from '../../src/main/store/store';
import { cli, tempDir, treeDigest } from '../helpers/cli';
import { fakeConfig } from '../helpers/engine';

async function freshStore(): Promise<Store> {
  return Store.open(tempDir());
}

async function run(store: Store, steps: number, every = 10, branch = 'main'): Promise<JobResult> {
  return startRun(store, {
    config: fakeConfig(),
    steps,
    checkpointEvery: every,
    evalEvery: every,
    branch,
  });
}

async function lineageSteps(store: Store, ref: string): Promise<number[]> {
  return (await store.lineage(await store.resolveRef(ref))).map((n) => n.step);
}

async function refused(store: Store, fn: () => Promise<unknown>, re: RegExp): Promise<void> {
  const before = treeDigest(store.dir);
  await assert.rejects(fn, re);
  assert.deepEqual(treeDigest(store.dir), before, 'the store changed after a refusal');
}

/** Stores a forged root state as a run with one branch `name` (for F1/F3 probes). */
async function forgedRun(store: Store, name: string, edit: (s: TrainingState) => void) {
  const t = await Trainer.create(fakeConfig());
  const state = t.snapshot();
  t.dispose();
  edit(state);
  const enc = encodeState(state);
  await store.putCheckpoint(enc, { parent: null, step: 0 });
  const now = new Date().toISOString();
  const runId = `run-forged-${name}`;
  await store.createRun({
    id: runId,
    createdAt: now,
    seed: state.config.seed,
    seedSource: 'explicit',
    root: enc.id,
    config: state.config,
  });
  await store.createBranch({
    name,
    run: runId,
    tip: enc.id,
    base: null,
    config: state.config,
    status: 'done',
    createdAt: now,
    updatedAt: now,
  });
  return enc.id;
}

describe('continue from a middle checkpoint', () => {
  test('a result between stored checkpoints is kept on a new branch named after its origin', async () => {
    const store = await freshStore();
    await run(store, 40);
    const r = await continueFrom(store, { from: 'main@20', steps: 5 });
    assert.equal(r.step, 25);
    assert.equal(r.branch, 'main-from20');
    const b = await store.getBranch('main-from20');
    assert.equal(b.tip, r.checkpoint);
    assert.equal(b.origin, 'reachable');
    assert.deepEqual(await lineageSteps(store, 'main-from20'), [0, 10, 20, 25]);
    // main is untouched and gc keeps the new checkpoint
    assert.deepEqual(await lineageSteps(store, 'main'), [0, 10, 20, 30, 40]);
    await store.gc({ graceMs: 0 });
    assert.equal((await store.getNode(r.checkpoint)).step, 25);
  });

  test('reproducing stored checkpoints writes nothing at all', async () => {
    const store = await freshStore();
    await run(store, 40);
    const before = treeDigest(store.dir);
    const r = await continueFrom(store, { from: 'main@10', steps: 20 });
    assert.equal(r.branch, 'main');
    assert.equal(r.step, 30);
    assert.equal(r.created, 0);
    assert.equal(r.reproduced, 2);
    assert.deepEqual(treeDigest(store.dir), before);
  });
});

describe('a branch keeps its config and schedule', () => {
  test('F4: a branch whose first job stored nothing keeps its hyperparameters', async () => {
    const store = await freshStore();
    await run(store, 20);
    // a job stopped before its first update: the branch exists, its tip is still the base
    const stop = new AbortController();
    stop.abort();
    const big = await continueFrom(
      store,
      { from: 'main@10', steps: 5, lr: 0.2, branch: 'big' },
      { signal: stop.signal },
    );
    assert.equal(big.status, 'stopped');
    assert.equal((await store.getBranch('big')).tip, await store.resolveRef('main@10'));
    const r = await continueFrom(store, { from: 'big', steps: 10 });
    assert.equal(r.branch, 'big');
    assert.equal(r.status, 'done');
    // trained with lr 0.2, so not the parent's step-20 checkpoint
    assert.notEqual(r.checkpoint, await store.resolveRef('main@20'));
    const state = await store.readState(r.checkpoint);
    assert.equal(state.config.optimizer.lr, 0.2);
    assert.equal((await store.getBranch('big')).tip, r.checkpoint);
  });

  test('continue keeps the branch’s --checkpoint-every and --eval-every', async () => {
    const store = await freshStore();
    await startRun(store, {
      config: fakeConfig(),
      steps: 30,
      checkpointEvery: 15,
      evalEvery: 15,
      branch: 'main',
    });
    await continueFrom(store, { from: 'main', steps: 30 });
    const nodes = await store.lineage(await store.resolveRef('main'));
    assert.deepEqual(
      nodes.map((n) => n.step),
      [0, 15, 30, 45, 60],
    );
    assert.ok(nodes.find((n) => n.step === 45)?.eval, 'evaluated at step 45');
    // an override applies to that job
    await continueFrom(store, { from: 'main', steps: 10, checkpointEvery: 5 });
    assert.deepEqual((await lineageSteps(store, 'main')).slice(-2), [65, 70]);
  });
});

describe('branch names', () => {
  test('an explicit --branch that exists is refused with a suggestion; nothing written', async () => {
    const store = await freshStore();
    await run(store, 20);
    await continueFrom(store, { from: 'main@10', steps: 5, lr: 0.2, branch: 'mine' });
    await refused(
      store,
      () => continueFrom(store, { from: 'main', steps: 5, branch: 'mine' }),
      /branch 'mine' already exists: pick another name with --branch \(e\.g\. 'mine-2'\)/,
    );
    await refused(
      store,
      () => startRun(store, { config: fakeConfig({ seed: 99 }), steps: 5, branch: 'main' }),
      /branch 'main' already exists/,
    );
  });

  test('re-running the same branching continue retraces its branch, no duplicate', async () => {
    const store = await freshStore();
    await run(store, 20);
    const a = await continueFrom(store, { from: 'main@10', steps: 10, lr: 0.2 });
    const before = treeDigest(store.dir);
    const b = await continueFrom(store, { from: 'main@10', steps: 10, lr: 0.2 });
    assert.equal(b.branch, a.branch);
    assert.equal(b.checkpoint, a.checkpoint);
    assert.equal(b.created, 0);
    assert.deepEqual(treeDigest(store.dir), before);
    assert.deepEqual(await store.listBranchNames(), ['main', a.branch].sort());
  });

  test('re-running the same train retraces the identical run', async () => {
    const store = await freshStore();
    const a = await startRun(store, { config: fakeConfig(), steps: 20, checkpointEvery: 10 });
    const before = treeDigest(store.dir);
    const b = await startRun(store, { config: fakeConfig(), steps: 20, checkpointEvery: 10 });
    assert.equal(b.branch, a.branch);
    assert.equal(b.run, a.run);
    assert.equal(b.reproduced, 2);
    assert.deepEqual(treeDigest(store.dir), before);
  });
});

describe('data and fingerprint checks (F1, F3, F5)', () => {
  test('F3: continue refuses a checkpoint recorded on other data, naming both digests', async () => {
    const store = await freshStore();
    await forgedRun(store, 'other-data', (s) => {
      s.datasetDigest = 'ab'.repeat(32);
    });
    await refused(
      store,
      () => continueFrom(store, { from: 'other-data', steps: 5 }),
      /dataset 'fake' here has digest [0-9a-f]{12}, but checkpoint [0-9a-f]{12} was trained on data with digest abababababab/,
    );
  });

  test('F1: another fingerprint starts a new branch named for it; --same-branch refuses', async () => {
    const store = await freshStore();
    await forgedRun(store, 'old-kernels', (s) => {
      s.backend = { ...s.backend, kernels: 'lockstep-kernels@0' };
    });
    await refused(
      store,
      () => continueFrom(store, { from: 'old-kernels', steps: 5, sameBranch: true }),
      /recorded on wasm · tfjs .* kernels lockstep-kernels@0 .*--same-branch refuses/,
    );
    const notices: string[] = [];
    const r = await continueFrom(
      store,
      { from: 'old-kernels', steps: 5 },
      { emit: (e) => (e.type === 'notice' ? notices.push(e.message) : undefined) },
    );
    assert.match(r.branch, /^old-kernels-kernels-lockstep-kernels-1$/);
    const b = await store.getBranch(r.branch);
    assert.equal(b.origin, 'fingerprint');
    assert.match(b.fingerprintFrom ?? '', /lockstep-kernels@0/);
    assert.ok(notices.some((n) => n.includes(`new branch '${r.branch}'`)));
    // the original branch did not move
    assert.equal((await store.getBranch('old-kernels')).tip, (await store.lineage(b.base!))[0].id);
  });

  test('F5: records with the legacy wasmFeatures field still verify and continue bit-exactly', async () => {
    const store = await freshStore();
    const fp = fingerprint('wasm');
    assert.equal(fp.wasmFeatures, undefined, 'new fingerprints carry no wasmFeatures');
    await forgedRun(store, 'legacy', (s) => {
      s.backend = { ...s.backend, wasmFeatures: 'simd' };
    });
    await forgedRun(store, 'legacy-scalar', (s) => {
      s.backend = { ...s.backend, wasmFeatures: 'scalar' };
    });
    const r1 = await continueFrom(store, { from: 'legacy', steps: 10 });
    assert.equal(r1.branch, 'legacy', 'same bits: the same branch');
    assert.equal((await store.readState(r1.checkpoint)).backend.wasmFeatures, 'simd');
    const v = await verifyRef(store, 'legacy');
    assert.equal(v.verified, true, v.firstMismatch?.detail);
    // a scalar-recorded run continued here stays on its branch too (the flag never changed bits)
    const r2 = await continueFrom(store, { from: 'legacy-scalar', steps: 10 });
    assert.equal(r2.branch, 'legacy-scalar');
  });

  test(
    'F2: verify of a run recorded on a backend not available here is a clean negative answer',
    {
      skip: nativeAvailable() ? 'tfjs-node is installed here' : false,
    },
    async () => {
      const store = await freshStore();
      await forgedRun(store, 'tf', (s) => {
        s.config = { ...s.config, backend: 'tensorflow' };
        s.backend = {
          backend: 'tensorflow',
          tfjs: s.backend.tfjs,
          platform: s.backend.platform,
          arch: s.backend.arch,
          library: s.backend.tfjs,
          cpu: 'a CPU elsewhere',
          threads: 1,
        };
      });
      const before = treeDigest(store.dir);
      const v = await verifyRef(store, 'tf');
      assert.equal(v.verified, false);
      assert.match(
        v.firstMismatch?.detail ?? '',
        /^cannot replay: backend tensorflow not available here/,
      );
      const r = cli(['verify', 'tf', '--store', store.dir]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stdout, /cannot replay: backend tensorflow not available here/);
      assert.doesNotMatch(r.stderr, /Cannot find module/);
      assert.deepEqual(treeDigest(store.dir), before);
    },
  );
});
