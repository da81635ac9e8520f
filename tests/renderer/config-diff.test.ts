/**
 * The timeline's lane label and a branch job's title say what a branch changes from its parent
 * (review finding 16, issue 17), including a GAN's discriminator optimizer, which a branch made
 * with `continue --d-lr` changes alone (it read "same config").
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configDiff } from '../../src/renderer/src/lib/format';
import { ganConfig } from '../gan/helpers';
import { fakeConfig } from '../helpers/fixtures';

test('a branch that changes only the discriminator lr says so', () => {
  const parent = ganConfig();
  const child = ganConfig({ discriminatorOptimizer: { kind: 'adam', lr: 0.02, beta1: 0.5 } });
  assert.equal(configDiff(parent, child, 200), 'D lr 0.002 → 0.02 @ 200');
  const sgd = ganConfig({ discriminatorOptimizer: { kind: 'sgd', lr: 0.002 } });
  assert.equal(configDiff(parent, sgd, null), 'D adam → sgd');
  assert.equal(configDiff(parent, ganConfig(), 5), 'same config @ 5');
});

test('the generator / single optimizer and batch size as before', () => {
  const parent = fakeConfig({ optimizer: { kind: 'sgd', lr: 0.01 } });
  const child = fakeConfig({ optimizer: { kind: 'sgd', lr: 0.1 }, batchSize: 64 });
  assert.match(configDiff(parent, child, 1000), /^lr 0\.01 → 0\.1, batch \d+ → 64 @ 1,000$/);
});
