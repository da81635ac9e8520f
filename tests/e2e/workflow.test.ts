/// <reference lib="dom" />
/**
 * The main workflow through the real UI, in Chromium, against `lockstep serve` with real training
 * on the `fake` dataset: start a run and watch it progress (pause / resume), branch from a middle
 * checkpoint with a new learning rate, continue a tip, continue a middle checkpoint unchanged and
 * see it reproduced identically, compare the two branches and see the divergence step, and look
 * at the charts and the checkpoint inspector. Screenshots go to artifacts/screenshots/.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  openApp,
  runJobToDone,
  screenshot,
  settled,
  startFakeRun,
  useApp,
  waitForJobState,
} from './helpers';

const app = useApp('lockstep-e2e-workflow-', { page: true });

/** Selects the checkpoint at `step` on `branch`: its lane label, then arrow keys on the canvas. */
async function selectCheckpoint(branch: string, step: number): Promise<void> {
  await app.page.locator(`button[data-branch="${branch}"]`).click();
  await app.page.keyboard.press('t');
  const stepText = app.page.getByTestId('ckpt-step');
  for (let i = 0; i < 100; i++) {
    await stepText.waitFor();
    const now = Number((await stepText.textContent())?.replace(/,/g, ''));
    if (now === step) {
      return;
    }
    await app.page.keyboard.press(now > step ? 'ArrowLeft' : 'ArrowRight');
    await app.page.waitForFunction(
      (prev) => document.querySelector('[data-testid="ckpt-step"]')?.textContent !== prev,
      String(now),
      { timeout: 5000 },
    );
  }
  assert.fail(`could not reach step ${step} on ${branch}`);
}

async function stepOf(): Promise<number> {
  return Number((await app.page.getByTestId('live-step').textContent())?.replace(/,/g, ''));
}

test('the empty store shows the first-launch screen', async () => {
  await app.page.getByRole('heading', { name: 'The same inputs give the same bits.' }).waitFor();
  await app.page.getByRole('button', { name: 'Train Mechanics 101 on MNIST' }).waitFor();
  await screenshot(app.page, '01-empty-state');
});

test('create a run and watch it progress, with pause and resume', async () => {
  await startFakeRun(app.page, { steps: '3000', branch: 'main', seed: '7' });
  await app.page.getByTestId('live-panel').waitFor();
  // progress arrives while the job runs
  await app.page.waitForFunction(
    () => Number(document.querySelector('[data-testid="live-step"]')?.textContent) > 0,
  );
  await app.page.getByRole('button', { name: 'Pause training (p)' }).click();
  await waitForJobState(app.page, 'paused', 30_000);
  const paused = await stepOf();
  assert.ok(paused > 0 && paused < 3000, `paused at step ${paused}`);
  // not synchronisation: a window in which no step may arrive (an absence is asserted)
  await app.page.waitForTimeout(500);
  assert.equal(await stepOf(), paused, 'no progress while paused');
  await screenshot(app.page, '02-live-training-paused');
  await app.page.getByRole('button', { name: 'Resume training (p)' }).click();
  await waitForJobState(app.page, 'done');
  assert.equal(await stepOf(), 3000);
  assert.equal(await app.page.getByTestId('job-seed').textContent(), '7');
  await app.page.locator('button[data-branch="main"]').waitFor();
  await app.page.waitForFunction(() =>
    document
      .querySelector('[data-testid="timeline-summary"]')
      ?.textContent?.includes('31 checkpoints'),
  );
  await screenshot(app.page, '03-run-done-timeline');
});

test('branch from a middle checkpoint with a new learning rate', async () => {
  await selectCheckpoint('main', 1000);
  await app.page
    .getByRole('button', { name: 'Branch from this checkpoint (opens the form)' })
    .click();
  const dialog = app.page.getByRole('dialog');
  await dialog.getByLabel('Learning rate').fill('0.5');
  await dialog.getByLabel('Steps to train').fill('1000');
  await dialog.getByLabel('Checkpoint every').fill('250');
  await dialog.getByLabel('Evaluate every').fill('500');
  await screenshot(app.page, '04-branch-form');
  await runJobToDone(app.page, async () => {
    await dialog.getByRole('button', { name: 'Start branch' }).click();
    await dialog.waitFor({ state: 'detached' });
  });
  const lane = app.page.locator('button[data-branch="main-lr0.5"]');
  await lane.waitFor();
  await app.page.waitForFunction(() =>
    document.querySelector('button[data-branch="main-lr0.5"]')?.textContent?.includes('2,000'),
  );
  await lane.click();
  await app.page.getByTestId('checkpoint-panel').getByText('lr 0.5').waitFor();
  await app.page.locator('figure').first().waitFor(); // histograms of the weights
  await screenshot(app.page, '05-branch-inspector');
});

test('continue a tip', async () => {
  await app.page.locator('button[data-branch="main"]').click();
  await app.page.getByLabel('Continue for').fill('500');
  await runJobToDone(app.page, () =>
    app.page
      .getByRole('button', { name: 'Continue from this checkpoint with the same config' })
      .click(),
  );
  assert.equal(await stepOf(), 3500);
  await app.page.waitForFunction(() =>
    document.querySelector('button[data-branch="main"]')?.textContent?.includes('3,500'),
  );
});

test('continuing a middle checkpoint unchanged reproduces the existing checkpoints', async () => {
  await selectCheckpoint('main', 2000);
  await app.page.getByLabel('Continue for').fill('1000');
  await runJobToDone(app.page, () =>
    app.page
      .getByRole('button', { name: 'Continue from this checkpoint with the same config' })
      .click(),
  );
  const result = app.page.getByTestId('job-result');
  await result.waitFor();
  assert.match((await result.textContent()) ?? '', /Identical\./);
  await screenshot(app.page, '06-identical-continue');
});

test('compare the two branches and see the divergence step', async () => {
  await app.page.keyboard.press('c');
  await app.page.getByLabel('Ref A').fill('main');
  await app.page.getByLabel('Ref B').fill('main-lr0.5');
  await app.page
    .getByRole('region', { name: 'Compare' })
    .getByRole('button', { name: 'Compare' })
    .click();
  const step = app.page.getByTestId('divergent-step');
  await step.waitFor();
  assert.equal(await step.textContent(), '1,001');
  const report = (await app.page.getByTestId('compare-report').textContent()) ?? '';
  assert.match(report, /Same data/);
  assert.match(report, /Same batches up to step/);
  await settled(app.page);
  await screenshot(app.page, '07-compare');
});

test('charts overlay the branches', async () => {
  await app.page.keyboard.press('g');
  await app.page.getByRole('checkbox', { name: 'main-lr0.5' }).waitFor();
  assert.ok(await app.page.getByRole('checkbox', { name: 'main-lr0.5' }).isChecked());
  await settled(app.page);
  await screenshot(app.page, '08-charts');
});

test('the help dialog lists the shortcuts and Esc closes it', async () => {
  await app.page.keyboard.press('r');
  await app.page.keyboard.press('?');
  const dialog = app.page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await dialog.waitFor();
  await screenshot(app.page, '09-help');
  await app.page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
});

test('light and dark follow the system: the same store in the dark theme', async () => {
  const dark = await openApp(app.browser, app.server.url, { colorScheme: 'dark' });
  const p = dark.page;
  await p.locator('button[data-branch="main-lr0.5"]').click();
  await p.getByTestId('checkpoint-panel').getByText('lr 0.5').waitFor();
  await p.locator('figure').first().waitFor();
  await screenshot(p, '21-dark-runs');
  await p.keyboard.press('g');
  await p.getByRole('checkbox', { name: 'main-lr0.5' }).waitFor();
  await settled(p);
  await screenshot(p, '22-dark-charts');
  await p.keyboard.press('c');
  await p.getByLabel('Ref A').fill('main');
  await p.getByLabel('Ref B').fill('main-lr0.5');
  await p.getByRole('region', { name: 'Compare' }).getByRole('button', { name: 'Compare' }).click();
  await p.getByTestId('divergent-step').waitFor();
  await settled(p);
  await screenshot(p, '23-dark-compare');
  assert.deepEqual(dark.errors, []);
  await p.context().close();
});

test('no app.page errors', () => {
  assert.deepEqual(app.errors, []);
});
