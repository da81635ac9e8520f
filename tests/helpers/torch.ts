/**
 * For tests that run the PyTorch peer: whether python3 imports torch here. Where it does not, the
 * test is skipped with the reason — except in CI, which installs python3-torch (.ci/run): there a
 * missing peer fails the test instead of passing it unseen.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { peerUnavailable } from '../../src/main/bench/peer';

export function torchOrSkip(t: TestContext): boolean {
  const why = peerUnavailable();
  if (why === null) {
    return true;
  }
  assert.ok(process.env.CI === undefined, why);
  t.skip(why);
  return false;
}
