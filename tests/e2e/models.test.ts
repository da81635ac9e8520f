/// <reference lib="dom" />
/**
 * Conv models in the GUI (issue 13's GUI part, issue 17), in Chromium against `lockstep serve`
 * with real training on fake data: the new-run form offers every dataset and model (lenet5,
 * resnet20 and a custom `--layers` stack, whose spec is required and checked by the service), and
 * the inspector shows a histogram of every named parameter grouped by layer.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { screenshot, settled, useApp, waitForJobState } from './helpers';

const app = useApp('lockstep-e2e-models-', { page: true });

/** Opens New run and fills the common fields for a short fake-data run of `model`. */
async function fillRun(page: Page, model: string, branch: string) {
  await page.getByRole('button', { name: /New run/ }).click();
  const dialog = page.getByRole('dialog', { name: 'New run' });
  await dialog.getByLabel('Dataset').selectOption('fake');
  await dialog.getByLabel('Model').selectOption(model);
  await dialog.getByLabel('Learning rate').fill('0.05');
  await dialog.getByLabel('Batch size').fill('8');
  await dialog.getByLabel('Steps', { exact: true }).fill('20');
  await dialog.getByLabel('Checkpoint every').fill('10');
  await dialog.getByLabel('Evaluate every').fill('20');
  await dialog.getByLabel('Explicit').check();
  await dialog.getByLabel('Seed value').fill('3');
  await dialog.getByLabel('Branch name').fill(branch);
  return dialog;
}

async function layerGroups(page: Page): Promise<{ layer: string; hists: number }[]> {
  await page.getByTestId('hist-layer').first().waitFor({ timeout: 60_000 });
  return page.getByTestId('hist-layer').evaluateAll((ls) =>
    ls.map((l) => ({
      layer: l.getAttribute('data-layer') ?? '',
      hists: l.querySelectorAll('.hists > *').length,
    })),
  );
}

test('the new-run form offers every dataset and model', async () => {
  const { page } = app;
  await page.getByRole('button', { name: /New run/ }).click();
  const dialog = page.getByRole('dialog', { name: 'New run' });
  const values = (sel: string) =>
    dialog
      .getByLabel(sel)
      .locator('option')
      .evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  const datasets = await values('Dataset');
  for (const d of ['mnist', 'fake', 'fashion-mnist', 'cifar10']) {
    assert.ok(datasets.includes(d), `dataset ${d} in ${datasets.join(', ')}`);
  }
  const models = await values('Model');
  for (const m of ['mlp', 'softmax', 'lenet5', 'resnet20', 'layers']) {
    assert.ok(models.includes(m), `model ${m} in ${models.join(', ')}`);
  }
  await dialog.getByRole('button', { name: 'Cancel' }).click();
});

test('a custom --layers stack: the spec is required, then it trains', async () => {
  const { page } = app;
  const dialog = await fillRun(page, 'layers', 'custom');
  await dialog.getByRole('button', { name: 'Start training' }).click();
  await dialog
    .locator('[data-field-error="rf-layers"]')
    .filter({ hasText: 'Enter a layer stack' })
    .waitFor();
  await dialog.getByLabel('Layers', { exact: true }).fill('conv:4x3,relu,maxpool:2,dense:16,relu');
  await dialog.getByRole('button', { name: 'Start training' }).click();
  await dialog.waitFor({ state: 'detached' });
  await waitForJobState(page, 'done');
  const groups = await layerGroups(page);
  assert.ok(groups.length >= 3, JSON.stringify(groups));
  assert.equal(groups.at(-1)?.layer, 'logits');
});

test('lenet5: a histogram of every named parameter, grouped by layer', async () => {
  const { page } = app;
  await page.keyboard.press('r');
  const dialog = await fillRun(page, 'lenet5', 'lenet');
  await dialog.getByRole('button', { name: 'Start training' }).click();
  await dialog.waitFor({ state: 'detached' });
  await page.getByTestId('live-panel').filter({ hasText: 'lenet' }).waitFor();
  await waitForJobState(page, 'done');
  await page.getByTestId('checkpoint-panel').filter({ hasText: 'lenet5' }).waitFor();
  const groups = await layerGroups(page);
  assert.deepEqual(groups, [
    { layer: 'conv1', hists: 2 },
    { layer: 'conv2', hists: 2 },
    { layer: 'dense1', hists: 2 },
    { layer: 'dense2', hists: 2 },
    { layer: 'logits', hists: 2 },
  ]);
  await page.getByTestId('hist-layer').first().scrollIntoViewIfNeeded();
  await settled(page);
  await screenshot(page, '68-lenet5-histograms-by-layer');
});
