/**
 * Golden hashes per KERNELS_VERSION: a few fixed fake-data runs, trained for real, must reproduce
 * the digests recorded for the current kernels version. Every other determinism test compares two
 * runs of the same build, so a silent change to the numerics would pass them all; this one fails.
 *
 * - `tensors` (the SHA-256 of every weight and optimizer slot, safetensors-encoded) holds the
 *   numerics alone and is checked on every platform and on both JS-side backends (wasm, cpu).
 * - `stateHash` (the checkpoint id) also covers the step, cursor, counters, config, dataset digest
 *   and the backend fingerprint; it is checked where the fingerprint equals the recorded one.
 *
 * When this fails: a kernel's (or an optimizer's, an initializer's, the feeder's) bits changed.
 * If that was meant, bump KERNELS_VERSION (src/main/engine/kernels/register.ts) and add a table
 * for the new version, computed by real training (the failure message prints the new values).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KERNELS_VERSION } from '../../src/main/engine/kernels/register';
import { gatheredScansFound } from '../../src/main/engine/kernels/sparse';
import { canonicalJson } from '../../src/main/engine/canonical-json';
import { encodeState, stateHash } from '../../src/main/engine/state';
import type { BackendFingerprint, TrainingConfig } from '../../src/main/engine/types';
import { fakeConfig } from '../helpers/fixtures';
import { trainFrom } from '../helpers/engine';

const STEPS = 10;

/**
 * The fixed runs, 10 steps each: fake data, and MNIST, whose zeros (about 81 % of the pixels)
 * take the GEMM that skips them (kernels/sparse.ts) in the MLP's first layer; the MNIST and
 * batch-norm digests were recorded before the sparse GEMM and the wasm pooling and batch norm.
 */
const CONFIGS: Record<string, TrainingConfig> = {
  'mlp 16,8 sgd': fakeConfig(),
  'mlp 16,8 adam': fakeConfig({ optimizer: { kind: 'adam', lr: 0.001 }, seed: 11 }),
  'softmax momentum': fakeConfig({
    model: { kind: 'softmax', hidden: [] },
    optimizer: { kind: 'momentum', lr: 0.05, momentum: 0.9 },
    seed: 0,
  }),
  'mnist mlp 128,32 sgd': fakeConfig({
    dataset: 'mnist',
    model: { kind: 'mlp', hidden: [128, 32] },
    batchSize: 100,
    seed: 3,
  }),
  'mnist lenet5 adam': fakeConfig({
    dataset: 'mnist',
    model: { kind: 'lenet5', hidden: [] },
    optimizer: { kind: 'adam', lr: 0.001 },
    batchSize: 8,
    seed: 5,
  }),
  // batch norm (6 and 10 channels: SIMD groups and scalar tails), a residual block, global pooling
  'fake conv bn res momentum': fakeConfig({
    model: { kind: 'layers', hidden: [], layers: 'conv:6x3:1,bn,relu,res:10/2,gap' },
    optimizer: { kind: 'momentum', lr: 0.05, momentum: 0.9 },
    batchSize: 6,
    seed: 9,
  }),
};

interface Golden {
  tensors: string;
  stateHash: string;
}

/** KERNELS_VERSION → the wasm fingerprint its stateHashes were recorded on, and the digests. */
const GOLDEN: Record<string, { recordedOn: BackendFingerprint; runs: Record<string, Golden> }> = {
  'lockstep-kernels@1': {
    recordedOn: {
      arch: 'x64',
      backend: 'wasm',
      kernels: 'lockstep-kernels@1',
      platform: 'linux',
      tfjs: '4.22.0',
      wasmFeatures: 'simd',
    },
    runs: {
      'mlp 16,8 sgd': {
        tensors: '600e3cf4820325b19001b1c9b8e634ba087861986560711c991a2d9d084c3dc0',
        stateHash: 'd479c26cf76cdcfd6c1e0e36dc8a65eb491caee512c6b2e09f2ab05ff6308fc6',
      },
      'mlp 16,8 adam': {
        tensors: 'bc4a1f330199908caa944f11337e0523108ca609d39a09497743dab8ba530916',
        stateHash: 'f7d4d8af0fdaeaa7067a73089e6b62673fd342af2a87fa2afda3b29125cb8e23',
      },
      'softmax momentum': {
        tensors: '6a917be1cae1f80ba3eb8e0831d7399389f561946a2f387e359dc6a321d97a15',
        stateHash: '437b49cf2491abeceb0d72944a0d0a627a34ec290f57eedcc4b6dc6175091a35',
      },
      // recorded on lockstep-kernels@1 before kernels/sparse.ts, on the fingerprint without
      // wasmFeatures (so only their tensors are compared on this recordedOn)
      'mnist mlp 128,32 sgd': {
        tensors: '9fe9ddb3dbe8192f6c9bc644f90ae3c4a20afd9ff1504c0f8ef3fcf82427ffa3',
        stateHash: '9ed8cd3ec01cc7e3748308daa3b369e5f2eebf7dcd0b8a55f7c5bf2fdf357e2e',
      },
      'mnist lenet5 adam': {
        tensors: 'ea89bf2b833f7ca66078aadde57278bbe4b7614ce2034840bfbff14561c874eb',
        stateHash: 'e763cdacc99368a4a4baa484e9d07329fd0a3d3f2ec5c84be8bb43128e8143d8',
      },
      // recorded before batch norm ran in wasm
      'fake conv bn res momentum': {
        tensors: '9e71cad8e816fc5ebba6a7dd0c9c75330dc2cb84abf5c5cfc2e18265c8ffe5d5',
        stateHash: '0d088955fcba5a3a79967d0f354c46408dc6fa6d6ab26d3b6af0a5addb68557e',
      },
    },
  },
};

for (const backend of ['wasm', 'cpu'] as const) {
  test(`golden digests of ${KERNELS_VERSION} on ${backend}: real training reproduces them`, async () => {
    const golden = GOLDEN[KERNELS_VERSION];
    const got: Record<string, Golden> = {};
    let fp: BackendFingerprint | undefined;
    for (const [name, config] of Object.entries(CONFIGS)) {
      const found = gatheredScansFound();
      const s = await trainFrom({ ...config, backend }, STEPS);
      if (backend === 'wasm' && name === 'mnist mlp 128,32 sgd') {
        // its batches come with their compressed rows (gatherRowsCsr): these bits are that path's
        assert.ok(gatheredScansFound() >= found + STEPS, 'the MLP found its gathered scans');
      }
      got[name] = { tensors: encodeState(s).blobId, stateHash: stateHash(s) };
      fp = s.backend;
    }
    const report = `${JSON.stringify({ [KERNELS_VERSION]: got }, null, 2)}\non ${canonicalJson(fp)}`;
    assert.ok(golden !== undefined, `no golden digests for ${KERNELS_VERSION}: add\n${report}`);
    for (const name of Object.keys(CONFIGS)) {
      assert.equal(
        got[name].tensors,
        golden.runs[name]?.tensors,
        `${name}: the numerics changed under ${KERNELS_VERSION}; if meant, bump KERNELS_VERSION and add\n${report}`,
      );
    }
    if (canonicalJson(fp) === canonicalJson(golden.recordedOn)) {
      for (const name of Object.keys(CONFIGS)) {
        assert.equal(got[name].stateHash, golden.runs[name].stateHash, `${name}: stateHash`);
      }
    }
  });
}
