/**
 * Our ARC4 twin (src/main/engine/arc4.ts) against seedrandom 3.0.5, the generator every stored
 * run was trained with (the oracle, kept as a dev dependency for this test): the same doubles,
 * int32s and bytes for many seed strings — the engine's own `lockstep/v1/<root>/<name>` streams,
 * the empty string, keys longer than 256 characters (mixkey's wrap-around), non-ASCII code units —
 * over long sequences and with the methods interleaved. Then the engine's streams (./rng.ts) on
 * top of it, and the fake dataset's digest, which hashes ~2 M draws.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import seedrandom from 'seedrandom';
import { arc4, mixKey } from '../../src/main/engine/arc4';
import { makeFake } from '../../src/main/engine/data';
import { stream } from '../../src/main/engine/rng';

const SEEDS: string[] = [
  '',
  '0',
  'a',
  'lockstep/v1/0/init/dense1/kernel',
  'lockstep/v1/4294967295/shuffle/0',
  'lockstep/v1/1234/fake/train',
  'lockstep/v1/7/dropout/12345/conv2d_3',
  'x'.repeat(255),
  'x'.repeat(256),
  'abc'.repeat(200), // 600 characters: mixkey wraps around its 256-byte key twice
  'héllo wörld ✓ 雪', // code units above 255 (mixkey masks their sum)
  '\u0000\u00ff\uffff',
];
for (let i = 0; i < 40; i++) {
  SEEDS.push(`lockstep/v1/${(i * 2654435761) % 2 ** 32}/noise/${i}`);
}

test('double() equals seedrandom for 5,000 draws on every seed', () => {
  for (const seed of SEEDS) {
    const oracle = seedrandom(seed);
    const twin = arc4(seed);
    for (let k = 0; k < 5000; k++) {
      const want = oracle.double();
      const got = twin.double();
      assert.ok(Object.is(got, want), `seed ${JSON.stringify(seed)} draw ${k}: ${got} ≠ ${want}`);
    }
  }
});

test('int32() and uint32() equal seedrandom for 5,000 draws on every seed', () => {
  for (const seed of SEEDS) {
    const oracle = seedrandom(seed);
    const twin = arc4(seed);
    const twin2 = arc4(seed);
    for (let k = 0; k < 5000; k++) {
      const want = oracle.int32();
      assert.equal(twin.int32(), want, `seed ${JSON.stringify(seed)} draw ${k}`);
      assert.equal(twin2.uint32(), want >>> 0, `seed ${JSON.stringify(seed)} draw ${k}`);
    }
  }
});

test('the methods interleaved keep the same byte stream as seedrandom, over 200,000 draws', () => {
  for (const seed of SEEDS.slice(0, 8)) {
    const oracle = seedrandom(seed);
    const twin = arc4(seed);
    for (let k = 0; k < 200_000; k++) {
      const pick = k % 7;
      if (pick < 4) {
        assert.ok(Object.is(twin.double(), oracle.double()), `seed ${seed} draw ${k}`);
      } else if (pick < 6) {
        assert.equal(twin.int32(), oracle.int32(), `seed ${seed} draw ${k}`);
      } else {
        // seedrandom's quick() is one 4-byte output over 2^32: the same bytes as uint32()
        assert.equal(twin.uint32() / 0x100000000, oracle.quick(), `seed ${seed} draw ${k}`);
      }
    }
  }
});

test('byte() walks the raw output after the 256-byte drop', () => {
  // seedrandom's int32 is four bytes big-endian: the bytes can be read back from it
  const oracle = seedrandom('bytes');
  const twin = arc4('bytes');
  for (let k = 0; k < 10_000; k++) {
    const v = oracle.int32() >>> 0;
    const bytes = [twin.byte(), twin.byte(), twin.byte(), twin.byte()];
    assert.deepEqual(bytes, [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255], `word ${k}`);
  }
});

test('mixKey: one byte per code unit up to 256, [0] for the empty seed', () => {
  assert.deepEqual(mixKey(''), [0]);
  assert.equal(mixKey('abc').length, 3);
  assert.equal(mixKey('x'.repeat(1000)).length, 256);
  assert.ok(mixKey('héllo ✓ 雪').every((b) => Number.isInteger(b) && b >= 0 && b <= 255));
});

test('a different seed gives a different stream (the test can tell streams apart)', () => {
  const a = arc4('lockstep/v1/1/x');
  const b = seedrandom('lockstep/v1/2/x');
  let same = 0;
  for (let k = 0; k < 100; k++) {
    same += Object.is(a.double(), b.double()) ? 1 : 0;
  }
  assert.ok(same < 5);
});

test("the engine's streams (rng.ts) are seedrandom's: uniform, uint32 and int(n)", () => {
  for (const [root, name] of [
    [0, 'init/w'],
    [42, 'shuffle/3'],
    [2 ** 32 - 1, 'fake/train'],
  ] as const) {
    const s = stream(root, name);
    const oracle = seedrandom(`lockstep/v1/${root}/${name}`);
    for (let k = 0; k < 3000; k++) {
      assert.ok(Object.is(s.uniform(), oracle.double()));
      assert.equal(s.uint32(), oracle.int32() >>> 0);
    }
    // int(n) by rejection over seedrandom's uint32s
    const t = stream(root, name);
    const o2 = seedrandom(`lockstep/v1/${root}/${name}`);
    for (const n of [1, 2, 3, 10, 1000, 2 ** 31 + 7, 2 ** 32]) {
      for (let k = 0; k < 200; k++) {
        const limit = 2 ** 32 - (2 ** 32 % n);
        let v = o2.int32() >>> 0;
        while (v >= limit) {
          v = o2.int32() >>> 0;
        }
        assert.equal(t.int(n), v % n, `int(${n}) draw ${k}`);
      }
    }
  }
});

test('the fake dataset is the one seedrandom made (its digest covers ~2 M draws)', () => {
  // recorded from seedrandom before the twin replaced it; every fake-data golden hash and fixture
  // store depends on it
  assert.equal(
    makeFake(1234).digest,
    'e061d21b29bb16a98eaab8db9909c52d06427e477a9dbf442e59dff15b95aced',
  );
});

test('fill() writes the doubles seedrandom draws, in order, into any range', () => {
  for (const seed of SEEDS.slice(0, 20)) {
    const oracle = seedrandom(seed);
    const twin = arc4(seed);
    const out = new Float64Array(1000).fill(-1);
    for (const [from, to] of [
      [0, 1000],
      [3, 3],
      [10, 11],
      [500, 784],
    ]) {
      twin.fill(out, from, to);
      for (let k = from; k < to; k++) {
        assert.ok(Object.is(out[k], oracle.double()), `seed ${JSON.stringify(seed)} [${k}]`);
      }
      // and a single draw in between keeps the streams together
      assert.ok(Object.is(twin.double(), oracle.double()));
    }
  }
});
