/**
 * F5: on an engine without wasm SIMD (V8 with SSE4.1 and AVX switched off) our kernel module does
 * not compile; the wasm backend then runs the JS twins on its heap and trains to the same bits,
 * instead of dying with a CompileError after writing a half run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { BIN, FAKE_TRAIN, ROOT, tempDir } from '../helpers/cli';

const NO_SIMD = ['--no-enable-sse4-1', '--no-enable-sse4-2', '--no-enable-avx', '--no-enable-avx2'];

function train(nodeFlags: string[]): {
  code: number | null;
  json: { stateHash: string } | null;
  stderr: string;
} {
  const args = [...FAKE_TRAIN, '--steps', '12', '--seed', '4', '--checkpoint-every', '6'];
  const r = spawnSync(
    process.execPath,
    [...nodeFlags, BIN, 'train', ...args, '--backend', 'wasm', '--store', tempDir(), '--json'],
    { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CI: '1' }, timeout: 300_000 },
  );
  const last = r.stdout.trim().split('\n').pop() ?? '';
  let json: { stateHash: string } | null = null;
  try {
    json = JSON.parse(last) as { stateHash: string };
  } catch {
    json = null;
  }
  return { code: r.status, json, stderr: r.stderr };
}

test('wasm without SIMD falls back to the JS kernels with identical bits', (t) => {
  const probe = spawnSync(process.execPath, [
    ...NO_SIMD,
    '-e',
    // a module with one v128.const: compiles only where wasm SIMD is available
    'try{new WebAssembly.Module(new Uint8Array([0,97,115,109,1,0,0,0,1,5,1,96,0,1,123,3,2,1,0,10,22,1,20,0,253,12,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,11]));process.exit(3)}catch{process.exit(0)}',
  ]);
  if (probe.status !== 0) {
    t.skip('these V8 flags do not switch wasm SIMD off on this machine');
    return;
  }
  const plain = train([]);
  assert.equal(plain.code, 0, plain.stderr);
  const scalar = train(NO_SIMD);
  assert.equal(scalar.code, 0, scalar.stderr);
  assert.doesNotMatch(scalar.stderr, /CompileError/);
  assert.equal(scalar.json?.stateHash, plain.json?.stateHash);
});
