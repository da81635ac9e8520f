/**
 * The new-run form offers the gan and the example order: field errors for a bad noise size or
 * shuffle spec, and the start request carries `gan` and `shuffle` (the default epoch order is
 * left out, so the config stays what it always was).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  MECHANICS_101,
  toStartRequest,
  validateRunForm,
} from '../../src/renderer/src/lib/validate';

test('form: gan noise size and shuffle spec are validated and sent', () => {
  const gan = { ...MECHANICS_101, model: 'gan' as const, optimizer: 'adam' as const, lr: '0.0002', noiseDims: '32', shuffle: 'buffer:1000' }; // prettier-ignore
  assert.deepEqual(validateRunForm(gan, 'new'), {});
  const req = toStartRequest(gan);
  assert.deepEqual(req.gan, { noiseDims: 32, generator: [256], discriminator: [256] });
  assert.deepEqual(req.shuffle, { kind: 'buffer', size: 1000 });
  assert.deepEqual(req.hidden, []);
  const plain = toStartRequest({ ...MECHANICS_101, shuffle: 'epoch' });
  assert.equal('shuffle' in plain, false);
  assert.equal('gan' in plain, false);
  const e = validateRunForm({ ...gan, noiseDims: '0', shuffle: 'buffer:0' }, 'new');
  assert.match(e.noiseDims ?? '', /noise size/i);
  assert.match(e.shuffle ?? '', /shuffle buffer holds 1 to/);
  assert.match(validateRunForm({ ...gan, shuffle: 'random' }, 'new').shuffle ?? '', /'epoch' or 'buffer:N'/); // prettier-ignore
});
