/**
 * Our XXH64 (src/main/engine/kernels/wasm-hash.ts, heap-hash.ts), which hashes the wasm heap in
 * place for the trace's state digest, gives hash-wasm's XXH64 — the digest every stored trace was
 * written with — for every length from 0 to 100 bytes and long inputs, however the input is split
 * into updates (pieces of 1 byte, pieces across the 32-byte stripes, at odd addresses), and the
 * specification's value for the empty input. A wasm Trainer's state digest takes the in-place
 * path and equals hash-wasm's over copies of the same tensors, a shuffle buffer's contents (not in
 * the heap) included.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createXXHash64 } from 'hash-wasm';
import { heapHasherFor, HeapXxh64 } from '../../src/main/engine/kernels/heap-hash';
import { createDigester } from '../../src/main/engine/trace';
import { Trainer } from '../../src/main/engine/trainer';
import { fakeConfig } from '../helpers/fixtures';
import { wasmSandbox } from '../helpers/wasm-sandbox';
import { lcg } from '../helpers/random';

test('XXH64 on the heap = hash-wasm, any length, any split into updates', async () => {
  const sb = wasmSandbox(64);
  const ours = new HeapXxh64(sb.k, sb.memory, (b) => sb.alloc(b));
  const theirs = await createXXHash64();
  const rnd = lcg(61);
  const bytes = Uint8Array.from({ length: 100_003 }, () => Math.floor(rnd() * 256));
  const at = sb.put(bytes); // (an odd address: the sandbox's allocations are not aligned)
  const heapView = (from: number, to: number): Uint8Array =>
    new Uint8Array(sb.buffer(), at + from, to - from);
  ours.init();
  assert.equal(ours.hex(), 'ef46db3751d8e999', 'XXH64 of nothing, seed 0 (the specification)');
  const lengths = [...Array.from({ length: 101 }, (_, i) => i), 1000, 4099, 100_003];
  for (const len of lengths) {
    theirs.init();
    theirs.update(bytes.subarray(0, len));
    const want = theirs.digest('hex');
    // one update; pieces of 1, 7 and 33 bytes; random pieces; from outside the heap (copied)
    const splits: [string, number[]][] = [
      ['whole', [len]],
      ['bytes', Array.from({ length: Math.min(len, 100) }, () => 1)],
      ['7s', Array.from({ length: Math.ceil(len / 7) }, () => 7)],
      ['33s', Array.from({ length: Math.ceil(len / 33) }, () => 33)],
      ['random', Array.from({ length: 20 }, () => Math.floor(rnd() * 40))],
    ];
    for (const [what, pieces] of splits) {
      if (pieces.reduce((a, b) => a + b, 0) < len) {
        pieces.push(len);
      }
      ours.init();
      let from = 0;
      for (const p of pieces) {
        const to = Math.min(len, from + p);
        ours.updateInPlace(heapView(from, to));
        from = to;
      }
      assert.equal(ours.hex(), want, `${len} bytes, in place, pieces: ${what}`);
    }
    ours.init();
    ours.updateCopied(bytes.subarray(0, len));
    assert.equal(ours.hex(), want, `${len} bytes, copied in`);
  }
});

test("a wasm Trainer's state digest is hashed in place and equals hash-wasm's over copies", async () => {
  const digester = await createDigester();
  const theirs = await createXXHash64();
  for (const shuffle of [undefined, { kind: 'buffer', size: 50 } as const]) {
    const t = await Trainer.create(fakeConfig({ backend: 'wasm', seed: 3, ...(shuffle ? { shuffle } : {}) })); // prettier-ignore
    try {
      for (let s = 0; s < 3; s++) {
        t.trainStep();
      }
      const tensors = t.readTensors();
      assert.ok(
        tensors.some(([, d]) => heapHasherFor(d.buffer) !== undefined),
        'the parameters lie in a heap with a hasher',
      );
      theirs.init();
      const enc = new TextEncoder();
      for (const [name, d] of tensors) {
        theirs.update(enc.encode(name));
        theirs.update(new Uint8Array([0]));
        theirs.update(new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength)));
      }
      assert.equal(digester.state(tensors), theirs.digest('hex'), `shuffle ${shuffle?.kind ?? 'epoch'}`); // prettier-ignore
      // and the same through the digester's own copied path (views outside any heap)
      const copies = tensors.map(([n, d]) => [n, Float32Array.from(d)] as [string, Float32Array]);
      assert.equal(digester.state(copies), digester.state(t.readTensors()));
    } finally {
      t.dispose();
    }
  }
});
