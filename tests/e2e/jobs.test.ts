/// <reference lib="dom" />
/**
 * Jobs survive a reload (review findings 1, 2 and 15, issue 17): reloading mid-training
 * re-attaches to the job with its whole loss curve (from step 1), its evaluations and its
 * checkpoint count, and the counts agree at the end (panel, result, timeline); two concurrent
 * jobs are both listed and controllable after a reload; a job longer than the loss curve's bound
 * keeps a bounded live curve, the same as its history's; a lost connection shows the job as lost,
 * not live. Real training on fake data in `lockstep serve`, driven in Chromium.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { MAX_LOSS_POINTS } from '../../src/shared/loss-curve';
import { screenshot, startFakeRun, useApp, waitForJobState } from './helpers';

const app = useApp('lockstep-e2e-jobs-', { page: true, client: true });

interface PanelData {
  job: string | null;
  state: string | null;
  losses: number;
  firstStep: number;
  evals: number;
  checkpoints: number;
  step: number;
}

async function panel(page: Page): Promise<PanelData> {
  const raw = await page.evaluate(() => {
    const el = document.querySelector('[data-testid="live-panel"]');
    return {
      job: el?.getAttribute('data-job') ?? null,
      state: el?.getAttribute('data-state') ?? null,
      losses: el?.getAttribute('data-losses'),
      firstStep: el?.getAttribute('data-first-step'),
      evals: el?.getAttribute('data-evals'),
      checkpoints: el?.querySelector('[data-testid="live-checkpoints"]')?.textContent,
      step: el?.querySelector('[data-testid="live-step"]')?.textContent,
    };
  });
  const num = (s: string | null | undefined): number => Number((s ?? '').replace(/[^0-9.]/g, ''));
  return {
    job: raw.job,
    state: raw.state,
    losses: num(raw.losses),
    firstStep: num(raw.firstStep),
    evals: num(raw.evals),
    checkpoints: num(raw.checkpoints),
    step: num(raw.step),
  };
}

/**
 * The app page, opened anew (each test after the first starts from a fresh load, so that one
 * that fails leaves the next its own page, not a broken one).
 */
async function freshPage(): Promise<Page> {
  await app.page.goto(app.server.url);
  await app.page.getByRole('button', { name: /New run/ }).waitFor();
  return app.page;
}

function row(page: Page, branch: string) {
  return page.locator('[data-testid="job-row"]', { hasText: branch });
}

test('reload mid-training keeps the loss curve from step 1, the evaluations and the checkpoint count', async () => {
  const { page } = app;
  await startFakeRun(page, {
    steps: '60000',
    checkpointEvery: '200',
    evalEvery: '200',
    branch: 'long',
    seed: '3',
  });
  // wait for two evaluations and a few checkpoints
  await page.waitForFunction(
    () =>
      Number(document.querySelector('[data-testid="live-panel"]')?.getAttribute('data-evals')) >= 3,
    undefined,
    { timeout: 120_000 },
  );
  const before = await panel(page);
  assert.equal(before.firstStep, 1);
  assert.ok(before.checkpoints >= 3, `${before.checkpoints} checkpoints before the reload`);
  await page.reload();
  await page.getByTestId('live-panel').waitFor();
  await page.waitForFunction(
    () =>
      Number(document.querySelector('[data-testid="live-panel"]')?.getAttribute('data-losses')) > 0,
  );
  const after = await panel(page);
  assert.equal(after.job, before.job, 'the same job');
  assert.equal(after.state, 'running');
  assert.equal(after.firstStep, 1, 'the curve starts at step 1, not at the reload step');
  assert.ok(
    after.losses >= before.losses,
    `${after.losses} loss points after, ${before.losses} before`,
  );
  assert.ok(
    after.evals >= before.evals,
    `${after.evals} evaluations after, ${before.evals} before`,
  );
  assert.ok(after.checkpoints >= before.checkpoints, 'no checkpoint forgotten');
  await screenshot(page, '30-after-reload-mid-training');
  // counts agree at the end: stop it, then panel = result = timeline lane
  await page.getByRole('button', { name: 'Stop training' }).click();
  await waitForJobState(page, 'stopped');
  const end = await panel(page);
  const result = (await page.getByTestId('job-result').textContent()) ?? '';
  assert.match(result, new RegExp(`${end.checkpoints} checkpoints:`), result);
  const graph = await app.client.listGraph({});
  const lane = graph.flatMap((r) => r.branches).find((b) => b.name === 'long');
  assert.equal(lane?.checkpoints.length, end.checkpoints, 'the timeline has as many checkpoints');
  assert.equal(
    (await app.client.jobHistory({ job: end.job! })).checkpoints.length,
    end.checkpoints,
  );
});

test('two concurrent jobs are both listed and controllable, also after a reload', async () => {
  const page = await freshPage();
  await startFakeRun(page, { steps: '60000', branch: 'job-one', seed: '1' });
  await startFakeRun(page, { steps: '60000', branch: 'job-two', seed: '2' });
  await row(page, 'job-one').waitFor();
  await row(page, 'job-two').waitFor();
  await page.waitForFunction(() =>
    Array.from(document.querySelectorAll('[data-testid="job-row"]')).every(
      (r) =>
        !/job-(one|two)/.test(r.textContent ?? '') || r.getAttribute('data-state') === 'running',
    ),
  );
  await row(page, 'job-two')
    .getByRole('button', { name: /^Pause/ })
    .click();
  await row(page, 'job-two').and(page.locator('[data-state="paused"]')).waitFor();
  await page.reload();
  await row(page, 'job-one').and(page.locator('[data-state="running"]')).waitFor();
  await row(page, 'job-two').and(page.locator('[data-state="paused"]')).waitFor();
  await screenshot(page, '31-two-jobs-after-reload');
  // control each from its own row
  await row(page, 'job-two')
    .getByRole('button', { name: /^Resume/ })
    .click();
  await row(page, 'job-two').and(page.locator('[data-state="running"]')).waitFor();
  await row(page, 'job-one')
    .getByRole('button', { name: /^Pause/ })
    .click();
  await row(page, 'job-one').and(page.locator('[data-state="paused"]')).waitFor();
  const jobs = await app.client.listJobs({});
  // a job paused before its process said which branch it trains has only its label
  const state = (b: string): string | undefined =>
    jobs.find((j) => j.branch === b || j.label === `train ${b}`)?.state;
  assert.equal(state('job-one'), 'paused');
  assert.equal(state('job-two'), 'running');
  // focus a job from the list: the live panel follows it
  await row(page, 'job-one')
    .getByRole('button', { name: /^Show job/ })
    .click();
  await page.locator('[data-testid="live-panel"][data-state="paused"]').waitFor();
  assert.match((await page.getByTestId('live-panel').textContent()) ?? '', /job-one/);
  for (const b of ['job-one', 'job-two']) {
    await row(page, b).getByRole('button', { name: /^Stop/ }).click();
    await row(page, b).and(page.locator('[data-state="stopped"]')).waitFor({ timeout: 60_000 });
  }
});

test('a job longer than the curve bound: the live curve stays bounded, spans the job and ends at its last step', async () => {
  const page = await freshPage();
  const steps = MAX_LOSS_POINTS + 5000;
  await startFakeRun(page, {
    steps: String(steps),
    checkpointEvery: String(steps),
    evalEvery: String(steps),
    branch: 'bounded',
    seed: '5',
  });
  await page.getByTestId('live-panel').filter({ hasText: 'bounded' }).waitFor();
  await waitForJobState(page, 'done');
  const end = await panel(page);
  assert.equal(end.step, steps);
  assert.equal(end.firstStep, 1);
  assert.ok(end.losses <= MAX_LOSS_POINTS + 1, `${end.losses} points in the page`);
  assert.ok(end.losses >= MAX_LOSS_POINTS / 2, `${end.losses} points in the page`);
  const last = await page
    .getByTestId('live-panel')
    .evaluate((el) => el.querySelector('[data-testid="live-step"]')?.textContent ?? '');
  assert.match(last.replace(/[^0-9]/g, ''), new RegExp(`^${steps}`));
  await screenshot(page, '70-bounded-live-curve');
  // the service's history of the job has the same points (one rule, src/shared/loss-curve.ts)
  const history = await app.client.jobHistory({ job: end.job! });
  assert.equal(history.losses.length, end.losses);
});

test('a lost connection shows the job as lost, with no controls and no New run', async () => {
  const page = await freshPage();
  await startFakeRun(page, { steps: '60000', branch: 'orphan', seed: '4' });
  await page.getByTestId('live-panel').filter({ hasText: 'orphan' }).waitFor();
  await page
    .locator('[data-testid="live-panel"][data-state="running"]')
    .waitFor({ timeout: 120_000 });
  await app.server.proc.kill('SIGKILL');
  await page
    .getByRole('alert')
    .filter({ hasText: 'Connection to the Lockstep service lost' })
    .waitFor();
  await page.locator('[data-testid="live-panel"][data-state="lost"]').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Pause training (p)' }).count(), 0);
  assert.equal(await page.getByRole('button', { name: 'Stop training' }).count(), 0);
  assert.ok(await page.getByRole('button', { name: /New run/ }).isDisabled());
  await page.getByRole('button', { name: 'Reconnect' }).waitFor();
  await screenshot(page, '32-connection-lost');
});
