/**
 * The fixtures every kind of test shares, defined once: the small fake-data training config
 * (MLP 16,8 on `fake`, sgd 0.05, batch 32, seed 7, wasm) and temporary folders.
 *
 * - {@link fakeConfig} returns a fresh copy with `over` applied, so a test may change it freely.
 * - {@link tempDir} makes a folder under the OS temp dir; {@link removeDir} removes it (missing is
 *   fine); {@link useTempDir} ties one to a test and removes it when the test ends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { TrainingConfig } from '../../src/main/engine/types';

/** The fake-data training config of the tests (a fresh copy; `over` replaces whole fields). */
export function fakeConfig(over: Partial<TrainingConfig> = {}): TrainingConfig {
  return {
    dataset: 'fake',
    model: { kind: 'mlp', hidden: [16, 8] },
    optimizer: { kind: 'sgd', lr: 0.05 },
    batchSize: 32,
    seed: 7,
    backend: 'wasm',
    ...over,
  };
}

/** A fresh, empty folder under the OS temp dir. */
export function tempDir(prefix = 'lockstep-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Removes a folder and everything in it (nothing happens when it is gone already). */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A fresh folder that is removed when the test `t` ends. */
export function useTempDir(t: TestContext, prefix?: string): string {
  const dir = tempDir(prefix);
  t.after(() => removeDir(dir));
  return dir;
}
