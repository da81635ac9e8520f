/// <reference lib="dom" />
/**
 * The main workflow through the real UI, in Chromium, against `lockstep serve` with real training
 * on the `fake` dataset: start a run and watch it progress (pause / resume), branch from a middle
 * checkpoint with a new learning rate, continue a tip, continue a middle checkpoint unchanged and
 * see it reproduced identically, compare the two branches and see the divergence step, and look
 * at the charts and the checkpoint inspector. Screenshots go to artifacts/screenshots/.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  launchBrowser,
  openApp,
  runJobToDone,
  screenshot,
  startFakeRun,
  startServer,
  tempDir,
  waitForJobState,
  type Server,
} from './helpers';

let server: Server;
let browser: Browser;
let page: Page;
let errors: string[];
let tmp: ReturnType<typeof tempDir>;

before(async () => {
  tmp = tempDir('lockstep-e2e-workflow-');
  server = await startServer(`${tmp.dir}/store`);
  browser = await launchBrowser();
  ({ page, errors } = await openApp(browser, server.url));
});

after(async () => {
  await browser?.close();
  await server?.stop();
  tmp?.cleanup();
});

/** Selects the checkpoint at `step` on `branch`: its lane label, then arrow keys on the canvas. */
async function selectCheckpoint(branch: string, step: number): Promise<void> {
  await page.locator(`button[data-branch="${branch}"]`).click();
  await page.keyboard.press('t');
  const stepText = page.getByTestId('ckpt-step');
  for (let i = 0; i < 100; i++) {
    await stepText.waitFor();
    const now = Number((await stepText.textContent())?.replace(/,/g, ''));
    if (now === step) {
      return;
    }
    await page.keyboard.press(now > step ? 'ArrowLeft' : 'ArrowRight');
    await page.waitForFunction(
      (prev) => document.querySelector('[data-testid="ckpt-step"]')?.textContent !== prev,
      String(now),
      { timeout: 5000 },
    );
  }
  assert.fail(`could not reach step ${step} on ${branch}`);
}

async function stepOf(): Promise<number> {
  return Number((await page.getByTestId('live-step').textContent())?.replace(/,/g, ''));
}

test('the empty store shows the first-launch screen', async () => {
  await page.getByRole('heading', { name: 'The same inputs give the same bits.' }).waitFor();
  await page.getByRole('button', { name: 'Train Mechanics 101 on MNIST' }).waitFor();
  await screenshot(page, '01-empty-state');
});

test('create a run and watch it progress, with pause and resume', async () => {
  await startFakeRun(page, { steps: '3000', branch: 'main', seed: '7' });
  await page.getByTestId('live-panel').waitFor();
  // progress arrives while the job runs
  await page.waitForFunction(
    () => Number(document.querySelector('[data-testid="live-step"]')?.textContent) > 0,
  );
  await page.getByRole('button', { name: 'Pause training (p)' }).click();
  await waitForJobState(page, 'paused', 30_000);
  const paused = await stepOf();
  assert.ok(paused > 0 && paused < 3000, `paused at step ${paused}`);
  await page.waitForTimeout(500);
  assert.equal(await stepOf(), paused, 'no progress while paused');
  await screenshot(page, '02-live-training-paused');
  await page.getByRole('button', { name: 'Resume training (p)' }).click();
  await waitForJobState(page, 'done');
  assert.equal(await stepOf(), 3000);
  assert.equal(await page.getByTestId('job-seed').textContent(), '7');
  await page.locator('button[data-branch="main"]').waitFor();
  await page.waitForFunction(() =>
    document
      .querySelector('[data-testid="timeline-summary"]')
      ?.textContent?.includes('31 checkpoints'),
  );
  await screenshot(page, '03-run-done-timeline');
});

test('branch from a middle checkpoint with a new learning rate', async () => {
  await selectCheckpoint('main', 1000);
  await page.getByRole('button', { name: 'Branch from this checkpoint (opens the form)' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Learning rate').fill('0.5');
  await dialog.getByLabel('Steps to train').fill('1000');
  await dialog.getByLabel('Checkpoint every').fill('250');
  await dialog.getByLabel('Evaluate every').fill('500');
  await screenshot(page, '04-branch-form');
  await runJobToDone(page, async () => {
    await dialog.getByRole('button', { name: 'Start branch' }).click();
    await dialog.waitFor({ state: 'detached' });
  });
  const lane = page.locator('button[data-branch="main-lr0.5"]');
  await lane.waitFor();
  await page.waitForFunction(() =>
    document.querySelector('button[data-branch="main-lr0.5"]')?.textContent?.includes('2,000'),
  );
  await lane.click();
  await page.getByTestId('checkpoint-panel').getByText('lr 0.5').waitFor();
  await page.locator('figure').first().waitFor(); // histograms of the weights
  await screenshot(page, '05-branch-inspector');
});

test('continue a tip', async () => {
  await page.locator('button[data-branch="main"]').click();
  await page.getByLabel('Continue for').fill('500');
  await runJobToDone(page, () =>
    page
      .getByRole('button', { name: 'Continue from this checkpoint with the same config' })
      .click(),
  );
  assert.equal(await stepOf(), 3500);
  await page.waitForFunction(() =>
    document.querySelector('button[data-branch="main"]')?.textContent?.includes('3,500'),
  );
});

test('continuing a middle checkpoint unchanged reproduces the existing checkpoints', async () => {
  await selectCheckpoint('main', 2000);
  await page.getByLabel('Continue for').fill('1000');
  await runJobToDone(page, () =>
    page
      .getByRole('button', { name: 'Continue from this checkpoint with the same config' })
      .click(),
  );
  const result = page.getByTestId('job-result');
  await result.waitFor();
  assert.match((await result.textContent()) ?? '', /Identical\./);
  await screenshot(page, '06-identical-continue');
});

test('compare the two branches and see the divergence step', async () => {
  await page.keyboard.press('c');
  await page.getByLabel('Ref A').fill('main');
  await page.getByLabel('Ref B').fill('main-lr0.5');
  await page
    .getByRole('region', { name: 'Compare' })
    .getByRole('button', { name: 'Compare' })
    .click();
  const step = page.getByTestId('divergent-step');
  await step.waitFor();
  assert.equal(await step.textContent(), '1,001');
  const report = (await page.getByTestId('compare-report').textContent()) ?? '';
  assert.match(report, /Same data/);
  assert.match(report, /Same batches up to step/);
  await page.waitForTimeout(300);
  await screenshot(page, '07-compare');
});

test('charts overlay the branches', async () => {
  await page.keyboard.press('g');
  await page.getByRole('checkbox', { name: 'main-lr0.5' }).waitFor();
  assert.ok(await page.getByRole('checkbox', { name: 'main-lr0.5' }).isChecked());
  await page.waitForTimeout(800);
  await screenshot(page, '08-charts');
});

test('the help dialog lists the shortcuts and Esc closes it', async () => {
  await page.keyboard.press('r');
  await page.keyboard.press('?');
  const dialog = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await dialog.waitFor();
  await screenshot(page, '09-help');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
});

test('light and dark follow the system: the same store in the dark theme', async () => {
  const dark = await openApp(browser, server.url, { colorScheme: 'dark' });
  const p = dark.page;
  await p.locator('button[data-branch="main-lr0.5"]').click();
  await p.getByTestId('checkpoint-panel').getByText('lr 0.5').waitFor();
  await p.locator('figure').first().waitFor();
  await screenshot(p, '21-dark-runs');
  await p.keyboard.press('g');
  await p.getByRole('checkbox', { name: 'main-lr0.5' }).waitFor();
  await p.waitForTimeout(500);
  await screenshot(p, '22-dark-charts');
  await p.keyboard.press('c');
  await p.getByLabel('Ref A').fill('main');
  await p.getByLabel('Ref B').fill('main-lr0.5');
  await p.getByRole('region', { name: 'Compare' }).getByRole('button', { name: 'Compare' }).click();
  await p.getByTestId('divergent-step').waitFor();
  await p.waitForTimeout(300);
  await screenshot(p, '23-dark-compare');
  assert.deepEqual(dark.errors, []);
  await p.context().close();
});

test('no page errors', () => {
  assert.deepEqual(errors, []);
});
