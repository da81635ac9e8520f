/// <reference lib="dom" />
/**
 * The Bundles view's "Include the dataset" checkbox reaches the service (issue 13): on a store
 * whose run was trained on a dataset added with `lockstep data add`, the export card writes a
 * bundle that carries the data when the box is ticked — it verifies in an empty store of another
 * process, where the dataset is absent — and one that does not when the box is clear (verify
 * there answers no, naming the dataset).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { cli } from '../bundle/helpers';
import { writeCsv } from '../data/helpers';
import { launchBrowser, openApp, screenshot, startServer, tempDir, type Server } from './helpers';

const BRANCH = 'on-digits';

let tmp: ReturnType<typeof tempDir>;
let server: Server;
let browser: Browser;
let page: Page;
let errors: string[];

before(async () => {
  tmp = tempDir('lockstep-e2e-export-data-');
  const store = join(tmp.dir, 'store');
  for (const args of [
    ['data', 'add', 'digits', writeCsv(join(tmp.dir, 'csv'))],
    ['train', '--dataset', 'digits', '--model', 'softmax', '--batch-size', '20', '--steps', '10'],
  ]) {
    const r = await cli([
      '--store',
      store,
      ...args,
      ...(args[0] === 'train' ? ['--seed', '2', '--branch', BRANCH] : []),
    ]);
    assert.equal(r.code, 0, r.stderr);
  }
  server = await startServer(store);
  browser = await launchBrowser();
  ({ page, errors } = await openApp(browser, server.url));
});

after(async () => {
  await browser?.close();
  await server?.stop();
  tmp?.cleanup();
});

/** Exports BRANCH from the Bundles view to `file`, with the dataset box as `withData`. */
async function exportFromUi(file: string, withData: boolean): Promise<void> {
  await page.getByRole('button', { name: 'Bundles' }).click();
  const card = page.getByRole('form', { name: 'Export a bundle' });
  await card.getByLabel('Ref to export').fill(BRANCH);
  await card.getByLabel('Bundle file').fill(file);
  const box = card.getByLabel(/Include the dataset/);
  await box.setChecked(withData);
  await card.getByRole('button', { name: 'Export' }).click();
  const result = page.getByTestId('export-result');
  await result.waitFor({ timeout: 60_000 });
  assert.match((await result.textContent()) ?? '', new RegExp(`Wrote .+ to\\s*${file}`));
  assert.ok(existsSync(file));
}

test('the ticked box exports the dataset with the run: it replays where the data is absent', async () => {
  const file = join(tmp.dir, 'with-data.lockstep');
  await exportFromUi(file, true);
  await screenshot(page, '13-bundles-export-with-data');
  const empty = join(tmp.dir, 'empty');
  const v = await cli(['--store', empty, '--json', 'verify', file]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.equal(
    (JSON.parse(v.stdout.trim().split('\n').pop()!) as { verified: boolean }).verified,
    true,
  );
});

test('the clear box exports the run alone: verify where the data is absent answers no', async () => {
  const file = join(tmp.dir, 'plain.lockstep');
  await exportFromUi(file, false);
  const v = await cli(['--store', join(tmp.dir, 'empty2'), 'verify', file]);
  assert.equal(v.code, 1, v.stdout + v.stderr);
  assert.match(v.stdout + v.stderr, /dataset 'digits' .* is not available here/);
  assert.deepEqual(errors, []);
});
