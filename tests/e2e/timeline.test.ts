/// <reference lib="dom" />
/**
 * The timeline with study runs and runs of different lengths (review findings 16–19, issue 17),
 * in Chromium against `lockstep serve` with real training on fake data:
 * - 19: a seed study's runs are one collapsed row (expand to see its lanes); in Charts its
 *   branches are one collapsed group and not chosen by default;
 * - 18: the newest run is on top (a checkbox restores creation order);
 * - 16: the label column is resizable, and a wider column shows long names whole;
 * - 17: a run header fits the step axis to that run (a 300-step run next to a 900-step one).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StartRunRequest } from '../../src/shared/contract';
import { screenshot, settled, useApp, FAKE_REQUEST } from './helpers';

const LONG = 'long-run-with-a-much-longer-descriptive-name-lr0.1';
const app = useApp('lockstep-e2e-timeline-', { page: true, client: true });

const FAKE: StartRunRequest = { ...FAKE_REQUEST, steps: 300, evalEvery: 100 };

async function ended(id: string): Promise<void> {
  for (let i = 0; i < 900; i++) {
    const j = (await app.client.listJobs({})).find((x) => x.id === id);
    if (j && !['queued', 'running', 'paused'].includes(j.state)) {
      assert.equal(j.state, 'done');
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`job ${id} did not end`);
}

/** Branch names of the lane labels, top to bottom. */
async function lanes(): Promise<string[]> {
  return app.page
    .locator('.timeline button.lane')
    .evaluateAll((ls) => ls.map((l) => l.getAttribute('data-branch') ?? ''));
}

test('populate: a 300-step run, a 2 + 2 seed study, then a 900-step run', async () => {
  const c = app.client;
  await ended((await c.startRun({ ...FAKE, branch: 'short-run' })).id);
  const { seed, branch: _b, ...train } = FAKE;
  void _b;
  await ended(
    (
      await c.study({
        runs: 2,
        train: { ...train, seed: seed as number, steps: 100, checkpointEvery: 50, evalEvery: 50 },
      })
    ).id,
  );
  await ended((await c.startRun({ ...FAKE, steps: 900, seed: 8, branch: LONG })).id);
  await app.page.reload();
  await app.page.locator(`button[data-branch="${LONG}"]`).waitFor();
});

test('finding 18: the newest run is on top; creation order on request', async () => {
  const names = await lanes();
  assert.equal(names[0], LONG, names.join(', '));
  assert.equal(names.at(-1), 'short-run');
  await app.page.getByLabel('Newest first').uncheck();
  await app.page.waitForFunction(
    () =>
      document.querySelector('.timeline button.lane')?.getAttribute('data-branch') === 'short-run',
  );
  await app.page.getByLabel('Newest first').check();
});

test('finding 19: a seed study is one collapsed row on the timeline, expandable', async () => {
  const { page } = app;
  const group = page.locator('.timeline button[data-group]');
  await group.waitFor();
  assert.equal(await group.getAttribute('aria-expanded'), 'false');
  assert.match((await group.textContent()) ?? '', /Seed study · fake · mlp 16,8\s*4 runs/);
  assert.deepEqual(await lanes(), [LONG, 'short-run'], 'no study lane while collapsed');
  await group.click();
  await page.waitForFunction(
    () => document.querySelectorAll('.timeline button.lane[data-branch^="study-"]').length === 4,
  );
  assert.equal(await group.getAttribute('aria-expanded'), 'true');
  await settled(page);
  await screenshot(page, '62-timeline-study-expanded');
});

test('finding 16: the label column can be widened; long names then show whole', async () => {
  const { page } = app;
  // inside the study group, lanes are named without the study's id
  const study = page.locator('.timeline button.lane[data-branch^="study-"]').first();
  assert.match((await study.locator('.name').textContent()) ?? '', /^(same-\d|seed-\d+)$/);
  const long = page.locator(`.timeline button.lane[data-branch="${LONG}"]`);
  const full = LONG;
  const before = (await long.locator('.name').textContent()) ?? '';
  assert.ok(before.includes('…') && before.length < full.length, `cut in the middle: ${before}`);
  const handle = page.getByRole('separator', { name: 'Resize the label column' });
  const box = (await handle.boundingBox())!;
  const labels = page.locator('.timeline .labels');
  const w0 = (await labels.boundingBox())!.width;
  await page.mouse.move(box.x + box.width / 2, box.y + 40);
  await page.mouse.down();
  await page.mouse.move(box.x + 200, box.y + 40, { steps: 5 });
  await page.mouse.up();
  const w1 = (await labels.boundingBox())!.width;
  assert.ok(w1 > w0 + 150, `the column grew from ${w0} to ${w1} px`);
  assert.equal(await long.locator('.name').textContent(), full);
  // collapse the study again for the next tests
  await page.locator('.timeline button[data-group]').click();
});

test('finding 17: a run header fits the step axis to that run', async () => {
  const { page } = app;
  const fit = page.getByRole('button', { name: 'Fit all steps' });
  assert.ok(await fit.isDisabled(), 'everything is in view at first');
  const header = page.getByRole('button', { name: /^Fit the step axis to run/ }).last();
  await header.click();
  await page.waitForFunction(
    () =>
      !(document.querySelector('button[aria-label="Fit all steps"]') as HTMLButtonElement | null)
        ?.disabled,
  );
  await settled(page);
  await screenshot(page, '63-timeline-fit-short-run');
  await fit.click();
});

test('finding 19: in Charts a study is one collapsed group, not chosen by default', async () => {
  const { page } = app;
  await page.keyboard.press('g');
  const group = page.locator('.charts-view details[data-group]');
  await group.waitFor();
  assert.match((await group.locator('summary').textContent()) ?? '', /4 branches/);
  assert.equal(await group.getAttribute('open'), null, 'collapsed');
  const chosen = await page
    .locator('.pick input[type="checkbox"]:checked')
    .evaluateAll((ls) => ls.map((l) => l.closest('label')?.getAttribute('title')));
  assert.ok(chosen.length > 0);
  assert.ok(
    chosen.every((n) => !n?.startsWith('study-')),
    `no study branch by default: ${chosen.join(', ')}`,
  );
  await group.locator('summary').click();
  await group.getByRole('button', { name: 'Select all 4' }).click();
  assert.equal(await group.locator('input:checked').count(), 4);
  await settled(page);
  await screenshot(page, '64-charts-study-group');
  await page.keyboard.press('r');
});

test('finding 27: zooming keeps the selected checkpoint in view, and so do the arrow keys', async () => {
  const { page } = app;
  await page.keyboard.press('r');
  const ring = (): Promise<string> =>
    page.locator('.timeline canvas').evaluate((c: HTMLCanvasElement) => c.dataset.ringRow ?? '');
  // the tip at step 900: far from the middle of the 0–900 view
  await page.locator(`button[data-branch="${LONG}"]`).click();
  await page.getByTestId('ckpt-step').filter({ hasText: '900' }).waitFor();
  await page.waitForFunction(
    () => (document.querySelector('.timeline canvas') as HTMLCanvasElement).dataset.ringRow !== '',
  );
  for (let i = 0; i < 3; i++) {
    await page.getByRole('button', { name: 'Zoom in on steps' }).click();
    assert.notEqual(await ring(), '', `the selected dot is drawn after zoom ${i + 1}`);
  }
  // walk left past the zoomed window: the view follows the selection
  await page.keyboard.press('t');
  for (const step of ['800', '700', '600', '500', '400']) {
    await page.keyboard.press('ArrowLeft');
    await page.getByTestId('ckpt-step').filter({ hasText: step }).waitFor();
    assert.notEqual(await ring(), '', `step ${step} is in view`);
  }
  await settled(page);
  await screenshot(page, '69-timeline-zoomed-selection');
  await page.getByRole('button', { name: 'Fit all steps' }).click();
});
