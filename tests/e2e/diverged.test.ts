/// <reference lib="dom" />
/**
 * A diverged run explains itself (review finding 14, issue 17): the result says "Diverged." with
 * the step where the loss became non-finite and what to try, instead of "diverged. Step 0, loss
 * 7e+21, —."; a notice says it too, and the progress bar turns red.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startFakeRun, useApp, waitForJobState, screenshot } from './helpers';

const app = useApp('lockstep-e2e-diverged-', { page: true });

test('a run with learning rate 100 diverges and says so, with advice', async () => {
  const { page } = app;
  await startFakeRun(page, {
    lr: '100',
    hidden: '128,32',
    steps: '200',
    branch: 'lr100',
    seed: '7',
  });
  await waitForJobState(page, 'diverged');
  const result = (await page.getByTestId('job-result').textContent()) ?? '';
  assert.match(result, /Diverged\./);
  assert.match(result, /(at|by) step \d+/, 'names the step where it happened');
  assert.match(result, /lower learning rate/);
  assert.doesNotMatch(result, /—\./, 'no dangling dash');
  await page.getByRole('status').filter({ hasText: 'lr100 diverged' }).waitFor();
  const fill = page.getByTestId('live-panel').locator('[role="progressbar"] .fill');
  assert.ok(await fill.evaluate((el) => el.classList.contains('diverged')));
  await screenshot(page, '33-diverged');
  assert.deepEqual(app.errors, []);
});
