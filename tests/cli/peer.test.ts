/**
 * CLI review finding 4: `bench --peer` runs a PyTorch peer the repository itself holds, so a
 * clone (without the shared folder next to it) can run it; nothing at run time reads outside the
 * repository.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { test } from 'node:test';
import { PEER_SCRIPT, REPO_ROOT } from '../../src/main/bench/bench';
import { runPeerScript } from '../../src/main/bench/peer';

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
