/**
 * Backend selection: the `tensorflow` fallback notice (always runs), and determinism on the
 * native `tensorflow` backend, which runs when @tensorflow/tfjs-node and its library are
 * installed and is reported as skipped, with the reason, when they are not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  fingerprint,
  nativeAvailable,
  NATIVE_THREADS,
  resolveBackend,
} from '../../src/main/engine/backend';
import { stateHash } from '../../src/main/engine/state';
import { Trainer } from '../../src/main/engine/trainer';
import { fakeConfig, hashesOf, optimizerOf, trainFrom } from '../helpers/engine';

const native = nativeAvailable();
const SKIP_NATIVE = native
  ? false
  : '@tensorflow/tfjs-node (optional dependency) or its native libtensorflow is not installed on this machine';

test('tensorflow falls back to wasm with one notice when the native library is missing', async () => {
  const notices: string[] = [];
  const warn = (m: string): void => {
    notices.push(m);
  };
  if (native) {
    assert.equal(resolveBackend('tensorflow', warn), 'tensorflow');
    assert.deepEqual(notices, []);
    return;
  }
  assert.equal(resolveBackend('tensorflow', warn), 'wasm');
  assert.equal(resolveBackend('tensorflow', warn), 'wasm');
  const t = await Trainer.create(fakeConfig({ backend: 'tensorflow' }), warn);
  try {
    assert.equal(t.config.backend, 'wasm', 'the run records the backend that actually ran');
    assert.equal(t.snapshot().backend.backend, 'wasm');
  } finally {
    t.dispose();
  }
  assert.equal(notices.length, 1, 'said once per process');
  assert.match(notices[0], /tensorflow is not available.*using wasm/);
  assert.equal(resolveBackend('wasm', warn), 'wasm');
  assert.equal(resolveBackend('cpu', warn), 'cpu');
});

test(
  'tensorflow backend: deterministic (I1, I2) with fixed threads',
  { skip: SKIP_NATIVE },
  async () => {
    for (const kind of ['sgd', 'adam'] as const) {
      const config = fakeConfig({ backend: 'tensorflow', optimizer: optimizerOf(kind) });
      const a = await hashesOf(config, 8);
      const b = await hashesOf(config, 8);
      assert.deepEqual(a, b, `I1 ${kind}`);
      const straight = await trainFrom(config, 70);
      const half = await trainFrom(config, 31);
      assert.equal(stateHash(await trainFrom(half, 39)), stateHash(straight), `I2 ${kind}`);
    }
    const fp = fingerprint('tensorflow');
    assert.equal(fp.threads, NATIVE_THREADS);
    assert.ok(fp.library && fp.cpu, 'the fingerprint records the library version and the CPU');
    assert.equal(process.env.TF_DETERMINISTIC_OPS, '1');
  },
);
