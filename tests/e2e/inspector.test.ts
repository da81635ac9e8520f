/// <reference lib="dom" />
/**
 * The inspector and the Branch/continue form (review findings 24, 26, 28 and 33, issue 17), in
 * Chromium against `lockstep serve` with real training on fake data:
 * - 28: the form from a middle checkpoint starts from the branch's own schedule and says what an
 *   unchanged continue will do (retrace and store nothing, keep a new branch, or extend);
 * - 24: a branch job's title says where it starts and what it changes;
 * - 33: while a job trains, the inspector's place explains itself; when it ends, its final
 *   checkpoint opens there without a click;
 * - 26: Verify in the inspector shows that it is running (and cannot be started twice), then its
 *   outcome in place.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StartRunRequest } from '../../src/shared/contract';
import {
  runJobToDone,
  screenshot,
  startFakeRun,
  useApp,
  waitForJobState,
  FAKE_REQUEST,
} from './helpers';

const app = useApp('lockstep-e2e-inspector-', { page: true, client: true });

const FAKE: StartRunRequest = FAKE_REQUEST;

async function press(key: string): Promise<void> {
  const before = await app.page.getByTestId('ckpt-step').textContent();
  await app.page.keyboard.press(key);
  await app.page.waitForFunction(
    (prev) => document.querySelector('[data-testid="ckpt-step"]')?.textContent !== prev,
    before,
    { timeout: 10_000 },
  );
}

test('populate: fake-base, 600 steps, checkpoints every 100, evaluations every 200', async () => {
  const info = await app.client.startRun(FAKE);
  for (let i = 0; i < 600; i++) {
    const j = (await app.client.listJobs({})).find((x) => x.id === info.id);
    if (j?.state === 'done') {
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await app.page.reload();
  await app.page.locator('button[data-branch="fake-base"]').waitFor();
});

test('finding 28: the form from step 300 uses the branch schedule and says what continuing does', async () => {
  const { page } = app;
  await page.locator('button[data-branch="fake-base"]').click();
  await page.keyboard.press('t');
  await press('Home');
  for (let i = 0; i < 3; i++) {
    await press('ArrowRight');
  }
  await page.keyboard.press('b');
  const dialog = page.getByRole('dialog');
  assert.equal(await dialog.getByLabel('Steps to train').inputValue(), '300', 'to the tip');
  assert.equal(await dialog.getByLabel('Checkpoint every').inputValue(), '100');
  assert.equal(await dialog.getByLabel('Evaluate every').inputValue(), '200');
  const note = dialog.getByTestId('continue-note');
  assert.match(
    (await note.textContent()) ?? '',
    /retraces fake-base's stored checkpoints bit for bit up to step 600; nothing new is stored/,
  );
  await dialog.getByLabel('Steps to train').fill('250');
  await note.filter({ hasText: 'step 550 is not stored on it' }).waitFor();
  assert.match((await note.textContent()) ?? '', /new branch fake-base-from300/);
  await dialog.getByLabel('Steps to train').fill('400');
  await note.filter({ hasText: 'to its tip at step 600, then extends it to step 700' }).waitFor();
  await screenshot(page, '65-branch-form-middle-checkpoint');
  // a changed learning rate starts a branch: the job's title says from where and what changed
  await dialog.getByLabel('Steps to train').fill('300');
  await dialog.getByLabel('Learning rate').fill('0.3');
  await dialog.getByLabel('Branch name').fill('fake-lr0.3');
  await runJobToDone(page, () => dialog.getByRole('button', { name: 'Start branch' }).click());
  await page
    .getByTestId('live-panel')
    .getByRole('heading', { name: 'Branch fake-lr0.3 from step 300 (lr 0.1 → 0.3)' })
    .waitFor();
});

test('finding 33 and 26: the inspector explains itself during a run, opens its result, verifies in place', async () => {
  const { page } = app;
  await page.reload();
  await page.locator('button[data-branch="fake-lr0.3"]').waitFor();
  await startFakeRun(page, { steps: '3000', branch: 'fresh', seed: '5' });
  const waiting = page.getByTestId('inspector-waiting');
  await waiting.waitFor();
  assert.match((await waiting.textContent()) ?? '', /opens here when it ends/);
  await screenshot(page, '66-inspector-while-training');
  await waitForJobState(page, 'done');
  // no click: the job's final checkpoint is in the inspector
  await page.getByTestId('ckpt-step').filter({ hasText: '3,000' }).waitFor();
  assert.equal(await waiting.count(), 0);
  const panel = page.getByTestId('checkpoint-panel');
  await panel.getByRole('button', { name: 'Verify this checkpoint by replaying it' }).click();
  const busy = panel.getByRole('button', { name: 'Verifying this checkpoint…' });
  const status = panel.getByTestId('inspector-verify');
  // either still running (then the button cannot start a second verify) or already done
  await status.waitFor();
  if ((await busy.count()) > 0) {
    assert.ok(await busy.isDisabled(), 'no second verify while one runs');
  }
  await status
    .getByRole('status')
    .filter({ hasText: /✓ Verified: \d+ checkpoints over 3,000 steps replayed bit for bit/ })
    .waitFor({ timeout: 180_000 });
  await panel.getByRole('button', { name: 'Verify this checkpoint by replaying it' }).waitFor();
  await screenshot(page, '67-inspector-verified');
});
