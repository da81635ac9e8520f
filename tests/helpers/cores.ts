/**
 * Whether this machine lets the bench measure its cores (src/main/bench/cores.ts): Linux with at
 * least two allowed CPUs and a working `taskset`. Tests that need a real check skip otherwise.
 */
import { spawnSync } from 'node:child_process';
import { allowedCpus } from '../../src/main/bench/cores';

export const CPUS = allowedCpus();

export const CAN_PIN =
  CPUS !== null &&
  CPUS.length >= 2 &&
  spawnSync('taskset', ['-c', String(CPUS[0]), 'true']).status === 0;
