/// <reference lib="dom" />
/**
 * Forms and the seed study through the real UI, in Chromium, against `lockstep serve`:
 * - bad input in the New run form (learning rate 0, a batch larger than the fake training set,
 *   hidden "12,x", steps -1, seed 2^32) is explained next to each field before anything starts;
 *   submitting does nothing (no job on the page or in the service); fixing a value clears its
 *   message, and the fixed form starts a run;
 * - a small seed study (fake, mlp 16,8, 2 runs per group) shows both groups' final precision
 *   with mean and spread, and the same-seed spread as exactly 0.
 * Screenshots go to artifacts/screenshots/.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Locator } from 'playwright-core';
import { screenshot, settled, useApp, waitForJobState } from './helpers';

const app = useApp('lockstep-e2e-forms-', { page: true, client: true });

/** The error shown for field `id`, checked to sit right below its control and to describe it. */
async function fieldError(dialog: Locator, id: string, control: Locator): Promise<string> {
  const error = dialog.locator(`[data-field-error="${id}"]`);
  await error.waitFor();
  assert.ok(await error.isVisible(), `${id}: error visible`);
  const described = (await control.getAttribute('aria-describedby')) ?? '';
  assert.ok(described.split(' ').includes(`${id}-error`), `${id}: aria-describedby the error`);
  assert.equal(await control.getAttribute('aria-invalid'), 'true', `${id}: aria-invalid`);
  const c = await control.boundingBox();
  const e = await error.boundingBox();
  assert.ok(c && e, `${id}: laid out`);
  // right below the control, starting at its left edge
  assert.ok(e.y >= c.y + c.height - 1 && e.y - (c.y + c.height) < 12, `${id}: error below field`);
  assert.ok(Math.abs(e.x - c.x) < 4, `${id}: error aligned with the field`);
  return (await error.textContent()) ?? '';
}

test('bad form input is explained next to each field, and nothing starts', async () => {
  await app.page.getByRole('heading', { name: 'The same inputs give the same bits.' }).waitFor();
  await app.page.keyboard.press('n');
  const dialog = app.page.getByRole('dialog', { name: 'New run' });
  await dialog.waitFor();
  await dialog.getByLabel('Dataset').selectOption('fake');
  await dialog.getByLabel('Backend').selectOption('wasm');

  const hidden = dialog.getByLabel('Hidden layer sizes');
  const lr = dialog.getByLabel('Learning rate');
  const batch = dialog.getByLabel('Batch size');
  const steps = dialog.getByLabel('Steps', { exact: true });
  const seed = dialog.getByLabel('Seed value');

  await hidden.fill('12,x');
  assert.match(await fieldError(dialog, 'rf-hidden', hidden), /"x" is not a whole number/);
  await lr.fill('0');
  assert.match(await fieldError(dialog, 'rf-lr', lr), /greater than 0/);
  await batch.fill('2001');
  assert.match(
    await fieldError(dialog, 'rf-batchSize', batch),
    /fake training set has 2,000 examples/,
  );
  await steps.fill('-1');
  assert.match(await fieldError(dialog, 'rf-steps', steps), /from 1 to 100,000,000 \(got -1\)/);
  await dialog.getByLabel('Explicit').check();
  await seed.fill(String(2 ** 32));
  assert.match(
    await fieldError(dialog, 'rf-seed', seed),
    /from 0 to 4,294,967,295 \(got 4294967296\)/,
  );

  // submitting does nothing but point at the first bad field
  await dialog.getByRole('button', { name: 'Start training' }).click();
  await dialog.getByText('Fix the 5 fields marked in red before starting.').waitFor();
  assert.ok(await hidden.evaluate((el) => el === document.activeElement), 'focus on hidden');
  // not synchronisation: a window in which nothing may be submitted (an absence is asserted)
  await app.page.waitForTimeout(500);
  assert.ok(await dialog.isVisible(), 'the form stays open');
  assert.equal(await app.page.getByTestId('live-panel').count(), 0, 'no job on the page');
  assert.deepEqual(await app.client.listJobs({}), [], 'no job in the service');
  assert.deepEqual(await app.client.listGraph({}), [], 'no run in the store');
  await screenshot(app.page, '15-form-errors');

  // fixing each value clears its message (and shows the hint again)
  const fixes: [string, Locator, string][] = [
    ['rf-hidden', hidden, '12,8'],
    ['rf-lr', lr, '0.1'],
    ['rf-batchSize', batch, '2000'],
    ['rf-steps', steps, '200'],
    ['rf-seed', seed, String(2 ** 32 - 1)],
  ];
  for (const [id, control, value] of fixes) {
    await control.fill(value);
    await dialog.locator(`[data-field-error="${id}"]`).waitFor({ state: 'detached' });
    assert.equal(await control.getAttribute('aria-invalid'), 'false', `${id}: valid again`);
  }
  await dialog.getByText(/Fix the .* marked in red/).waitFor({ state: 'detached' });

  // and the fixed form starts
  await dialog.getByLabel('Checkpoint every').fill('100');
  await dialog.getByLabel('Evaluate every').fill('100');
  await dialog.getByRole('button', { name: 'Start training' }).click();
  await dialog.waitFor({ state: 'detached' });
  await waitForJobState(app.page, 'done');
  assert.equal(await app.page.getByTestId('job-seed').textContent(), '4294967295');
  const jobs = await app.client.listJobs({});
  assert.equal(jobs.length, 1);
  assert.equal(jobs[0].state, 'done');
});

test('the seed study shows both groups with mean and spread, same-seed spread exactly 0', async () => {
  await app.page.keyboard.press('s');
  const view = app.page.getByRole('region', { name: 'Seed study' });
  await view.getByLabel('Runs per group').fill('2');
  await view.getByLabel('Dataset').selectOption('fake');
  await view.getByLabel('Hidden layers').fill('16,8');
  await view.getByLabel('Learning rate').fill('0.05');
  await view.getByLabel('Steps').fill('40');
  await view.getByRole('button', { name: 'Run study' }).click();
  await view.getByRole('progressbar', { name: 'Study progress' }).waitFor();
  const report = view.getByTestId('study-report');
  await report.waitFor({ timeout: 120_000 });

  const same = report.getByTestId('study-same');
  const different = report.getByTestId('study-different');
  assert.match((await same.textContent()) ?? '', /2 runs/);
  assert.match((await different.textContent()) ?? '', /2 runs/);
  // the same-seed spread is exactly zero: every run gave the same bits
  assert.equal(await report.getByTestId('same-seed-spread').textContent(), '0 (exactly)');
  // the chart shows both groups: points, mean and spread, labelled in its legend
  const legend = (await report.getByTestId('study-chart-legend').textContent()) ?? '';
  assert.match(legend, /same seed: mean \d+\.\d\d%, spread ±0 \(exactly\)/);
  assert.match(legend, /different seeds: mean \d+\.\d\d%, spread ±\d+\.\d\d%/);
  const painted = await report
    .locator('canvas')
    .evaluate((c: HTMLCanvasElement) => c.width > 0 && c.height > 0);
  assert.ok(painted);
  await settled(app.page);
  await screenshot(app.page, '16-study');
});

test('no app.page errors', () => {
  assert.deepEqual(app.errors, []);
});
