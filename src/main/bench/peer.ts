/**
 * How the bench runs its PyTorch peers (scripts/peers/*.py): Debian's interpreter, a probe for
 * torch, and the environment that makes "one thread" mean one thread. `torch.set_num_threads(1)`
 * (the scripts' --threads 1) does not hold back OpenBLAS's own thread pool: measured here, the
 * MLP peer then used 1.9 ms of CPU per 0.85 ms step (more than one core) and its ms/step swung
 * from 0.85 to 2.8 between runs as its spinning threads met other work. With OPENBLAS_NUM_THREADS
 * (and OMP_NUM_THREADS, MKL_NUM_THREADS) = 1 it runs on one core as the issue's goals state — and
 * faster (0.78–0.80 ms/step), so the comparison is the stricter one for us. Like our one-thread
 * runs, it runs on the core ./cores.ts pinned, if any.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { onOneCore } from './cores';

export const PYTHON = '/usr/bin/python3';

/** Why the peers cannot run here, or null when python3 imports torch and numpy. */
export function peerUnavailable(): string | null {
  if (!existsSync(PYTHON)) {
    return `${PYTHON} not found`;
  }
  if (spawnSync(PYTHON, ['-c', 'import torch, numpy']).status !== 0) {
    return 'python3-torch is not installed (apt-get install -y python3-torch libopenblas0-pthread)';
  }
  return null;
}

/** Runs a peer script with its BLAS and OpenMP pools held to one thread (on the pinned core). */
export function runPeerScript(args: string[], cwd: string): SpawnSyncReturns<string> {
  const [command, argv] = onOneCore(PYTHON, args);
  return spawnSync(command, argv, {
    encoding: 'utf8',
    cwd,
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
  });
}
