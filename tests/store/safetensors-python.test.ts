/**
 * Our safetensors bytes, read by an independent reader: a python3 script that parses the 8-byte
 * header length, the JSON header and the data with numpy.frombuffer(dtype='<f4').
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { encodeSafetensors } from '../../src/main/engine/safetensors';
import type { NamedTensor } from '../../src/main/engine/types';
import { cleanup, tempDir } from './helpers';

const probe = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
const skip =
  probe.error !== undefined
    ? 'python3 is not installed'
    : probe.status !== 0
      ? 'numpy is not installed for python3'
      : false;

const READER = String.raw`
import json, struct, sys
import numpy as np
path = sys.argv[1]
with open(path, 'rb') as f:
    raw = f.read()
(n,) = struct.unpack('<Q', raw[:8])
header = json.loads(raw[8:8 + n].decode('utf-8'))
data = raw[8 + n:]
out = {'metadata': header.pop('__metadata__', None), 'tensors': {}}
end_max = 0
for name, e in header.items():
    assert e['dtype'] == 'F32', e['dtype']
    b, t = e['data_offsets']
    arr = np.frombuffer(data[b:t], dtype='<f4').reshape(e['shape'])
    end_max = max(end_max, t)
    out['tensors'][name] = {'shape': list(arr.shape), 'bits': arr.reshape(-1).view('<u4').tolist()}
assert end_max == len(data), 'data section has trailing bytes'
assert n % 8 == 0, 'header is padded to 8 bytes'
print(json.dumps(out))
`;

test(
  'safetensors written by encodeSafetensors are read bit-exactly by python/numpy',
  { skip },
  () => {
    const dir = tempDir('lockstep-st-');
    try {
      const specials = [
        0,
        -0,
        1.5,
        -2.25,
        3.4028234663852886e38,
        1.401298464324817e-45,
        Math.PI,
        NaN,
        Infinity,
        -Infinity,
      ];
      const tensors: Record<string, NamedTensor> = {
        'hidden1/weights': {
          shape: [3, 4],
          data: Float32Array.from({ length: 12 }, (_, i) => Math.sin(i) * 1e3),
        },
        'hidden1/biases': { shape: [4], data: Float32Array.from([0.1, 0.2, 0.3, 0.4]) },
        'softmax_linear/weights/m': { shape: [2, 5], data: Float32Array.from(specials) },
        scalar: { shape: [], data: Float32Array.from([42]) },
        empty: { shape: [0, 3], data: new Float32Array(0) },
      };
      const file = path.join(dir, 'model.safetensors');
      writeFileSync(file, encodeSafetensors(tensors, { format: 'pt', producer: 'lockstep' }));
      const r = spawnSync('python3', ['-c', READER, file], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const got = JSON.parse(r.stdout) as {
        metadata: Record<string, string>;
        tensors: Record<string, { shape: number[]; bits: number[] }>;
      };
      assert.deepEqual(got.metadata, { format: 'pt', producer: 'lockstep' });
      assert.deepEqual(Object.keys(got.tensors).sort(), Object.keys(tensors).sort());
      for (const [name, t] of Object.entries(tensors)) {
        assert.deepEqual(got.tensors[name].shape, t.shape, name);
        assert.deepEqual(got.tensors[name].bits, Array.from(new Uint32Array(t.data.buffer)), name);
      }
    } finally {
      cleanup(dir);
    }
  },
);
