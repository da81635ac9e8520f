/// <reference lib="dom" />
/**
 * Review findings 10–13 (issue 17) through the real UI in Chromium against `lockstep serve`,
 * with real training on fake data:
 * - 10: an identical continue from a middle checkpoint says so and writes nothing to the store;
 * - 13: the reproduced checkpoints' badge names the job that reproduced them, never the
 *   checkpoint's own id;
 * - 11: a branch with a finer checkpoint interval than an identical existing branch shows every
 *   checkpoint it reports on its own lane (step 500 is a dot you can select, not an orphan);
 * - 12: a checkpoint shared by several branches has its selection ring on the lane whose label
 *   is highlighted, whichever way it was selected (result link, label, Home key).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StartRunRequest } from '../../src/shared/contract';
import { treeDigest } from '../helpers/cli';
import { runJobToDone, screenshot, settled, useApp, FAKE_REQUEST } from './helpers';

const app = useApp('lockstep-e2e-selection-', { page: true, client: true });

const FAKE: StartRunRequest = FAKE_REQUEST;

/** Waits until the job `id` has ended (polling the client behind the UI). */
async function ended(id: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const j = (await app.client.listJobs({})).find((x) => x.id === id);
    if (j && !['queued', 'running', 'paused'].includes(j.state)) {
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`job ${id} did not end`);
}

async function ckptStep(): Promise<number> {
  return Number((await app.page.getByTestId('ckpt-step').textContent())?.replace(/,/g, ''));
}

/** Presses `key` on the focused timeline and waits for the inspector to show another step. */
async function press(key: string): Promise<void> {
  const before = await app.page.getByTestId('ckpt-step').textContent();
  await app.page.keyboard.press(key);
  await app.page.waitForFunction(
    (prev) => document.querySelector('[data-testid="ckpt-step"]')?.textContent !== prev,
    before,
    { timeout: 10_000 },
  );
}

/** The timeline row of the selection ring and of the highlighted label (as numbers). */
async function ringAndLabel(): Promise<{ ring: string; label: string; branch: string }> {
  return app.page.evaluate(() => {
    const canvas = document.querySelector<HTMLCanvasElement>('.timeline canvas');
    const label = document.querySelector<HTMLElement>('.timeline button.lane.current');
    return {
      ring: canvas?.dataset.ringRow ?? 'none',
      label: label?.dataset.row ?? 'none',
      branch: label?.dataset.branch ?? 'none',
    };
  });
}

/** Waits until the ring and the highlighted label agree, then returns them. */
async function ringOn(branch: string): Promise<void> {
  await app.page.waitForFunction(
    (b) => {
      const canvas = document.querySelector<HTMLCanvasElement>('.timeline canvas');
      const label = document.querySelector<HTMLElement>('.timeline button.lane.current');
      return label?.dataset.branch === b && canvas?.dataset.ringRow === label.dataset.row;
    },
    branch,
    { timeout: 10_000 },
  );
  const at = await ringAndLabel();
  assert.equal(at.ring, at.label, `the ring is on the highlighted row (${at.branch})`);
}

test('populate: fake-base (600 steps) and fake-lr0.3 from its step 300, checkpoints every 200', async () => {
  const c = app.client;
  await ended((await c.startRun(FAKE)).id);
  await ended(
    (
      await c.continueRun({
        ref: 'fake-base@300',
        steps: 300,
        lr: 0.3,
        checkpointEvery: 200,
        evalEvery: 200,
        branch: 'fake-lr0.3',
      })
    ).id,
  );
  await app.page.reload();
  await app.page.locator('button[data-branch="fake-lr0.3"]').waitFor();
});

test('finding 10: an identical continue from step 300 says "identical" and writes nothing', async () => {
  const { page } = app;
  await page.locator('button[data-branch="fake-base"]').click();
  await page.keyboard.press('t');
  await press('Home');
  for (let i = 0; i < 3; i++) {
    await press('ArrowRight');
  }
  assert.equal(await ckptStep(), 300);
  const before = treeDigest(app.server.store);
  await page.getByLabel('Continue for').fill('300');
  await runJobToDone(page, () =>
    page
      .getByRole('button', { name: 'Continue from this checkpoint with the same config' })
      .click(),
  );
  const result = (await page.getByTestId('job-result').textContent()) ?? '';
  assert.match(result, /Identical\./);
  assert.match(result, /The 3 checkpoints this job reached already existed/);
  assert.match(result, /Nothing new was written to the store/);
  assert.deepEqual(treeDigest(app.server.store), before, 'the store is byte-identical');
});

test('finding 13: the badge names the job that reproduced the checkpoint, not its own id', async () => {
  const { page } = app;
  await page.locator('button[data-branch="fake-base"]').click();
  await page.getByTestId('ckpt-step').filter({ hasText: '600' }).waitFor();
  const id = (await page.getByTestId('ckpt-hash').textContent())!.trim();
  const badge = page.getByTestId('badge-identical');
  await badge.waitFor();
  const text = (await badge.textContent()) ?? '';
  assert.match(
    text,
    /reproduced bit for bit by Continue fake-base from step 300 to 600 at \d\d:\d\d/,
  );
  assert.ok(
    !text.includes(id.slice(0, 12)),
    `the badge does not name the checkpoint itself: ${text}`,
  );
  await screenshot(page, '60-reproduced-badge');
});

test('finding 11: a branch with a finer checkpoint interval shows its new step-500 checkpoint on its lane', async () => {
  const { page } = app;
  await page.locator('button[data-branch="fake-base"]').click();
  await page.keyboard.press('t');
  await press('Home');
  for (let i = 0; i < 3; i++) {
    await press('ArrowRight');
  }
  assert.equal(await ckptStep(), 300);
  await page.keyboard.press('b');
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Learning rate').fill('0.3');
  await dialog.getByLabel('Steps to train').fill('300');
  await dialog.getByLabel('Checkpoint every').fill('100');
  await dialog.getByLabel('Evaluate every').fill('200');
  await dialog.getByLabel('Branch name').fill('fake-lr0.3-fine');
  await runJobToDone(page, () => dialog.getByRole('button', { name: 'Start branch' }).click());
  const result = (await page.getByTestId('job-result').textContent()) ?? '';
  assert.match(result, /3 checkpoints: 1 new, 2 reproduced identically/, result);
  // every checkpoint the job reported is on the new branch's lane (fake-lr0.3 had 400 and 600;
  // its chain now passes through the new 500 too: the same states)
  const graph = await app.client.listGraph({});
  const fine = graph.flatMap((r) => r.branches).find((b) => b.name === 'fake-lr0.3-fine');
  assert.deepEqual(
    fine?.checkpoints.map((c) => c.step).sort((a, b) => a - b),
    [400, 500, 600],
  );
  // and selectable there: its tip, then two steps left along its own lane
  await page.locator('button[data-branch="fake-lr0.3-fine"]').click();
  await page.getByTestId('ckpt-step').filter({ hasText: '600' }).waitFor();
  await page.keyboard.press('t');
  await press('ArrowLeft');
  assert.equal(await ckptStep(), 500, 'step 500 is a checkpoint of the new branch');
  await press('ArrowLeft');
  assert.equal(await ckptStep(), 400);
  const shown = await app.client.showCheckpoint({ ref: 'fake-lr0.3-fine@500' });
  assert.equal(shown.step, 500);
});

test('finding 12: the ring and the highlighted row agree for a checkpoint on several branches', async () => {
  const { page } = app;
  // the job's result link: the new branch's tip (also fake-lr0.3's tip, the same state)
  await page.getByRole('button', { name: /^Show [0-9a-f]{12}$/ }).click();
  await page.getByTestId('ckpt-step').filter({ hasText: '600' }).waitFor();
  await page.getByText('identical in 2 branches').waitFor();
  await ringOn('fake-lr0.3-fine');
  // Home on the focused timeline: the first checkpoint of that same lane
  await page.keyboard.press('t');
  await press('Home');
  assert.equal(await ckptStep(), 400);
  await ringOn('fake-lr0.3-fine');
  await press('End');
  await ringOn('fake-lr0.3-fine');
  // the other branch's label: the same checkpoint, now ringed on fake-lr0.3's lane
  await page.locator('button[data-branch="fake-lr0.3"]').click();
  await ringOn('fake-lr0.3');
  await page.keyboard.press('t');
  await press('ArrowLeft');
  assert.equal(await ckptStep(), 500);
  await ringOn('fake-lr0.3');
  await settled(page);
  await screenshot(page, '61-shared-checkpoint-selection');
});
