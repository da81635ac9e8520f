/// <reference lib="dom" />
/**
 * Handing a run over through the UI, in Chromium, against two real `lockstep serve` processes:
 * train a small run on store A, export it as a bundle from the Bundles view (with progress), start
 * a second server on a fresh empty store B, import the bundle there through its UI, see the
 * imported branch in B's timeline, then verify it from the UI and see "verified" both in the
 * verify result and as a badge in the checkpoint inspector. Screenshots go to
 * artifacts/screenshots/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  launchBrowser,
  openApp,
  screenshot,
  startFakeRun,
  startServer,
  tempDir,
  waitForJobState,
  type Server,
} from './helpers';

const BRANCH = 'handover';

let tmp: ReturnType<typeof tempDir>;
let serverA: Server;
let serverB: Server | undefined;
let browser: Browser;
let pageA: Page;
let pageB: Page;
const errors: Record<string, string[]> = {};
let bundlePath: string;

before(async () => {
  tmp = tempDir('lockstep-e2e-bundles-');
  // a directory with a space in its name: paths are passed through as typed
  mkdirSync(join(tmp.dir, 'hand over'));
  bundlePath = join(tmp.dir, 'hand over', `${BRANCH}.lockstep`);
  serverA = await startServer(join(tmp.dir, 'store-a'));
  browser = await launchBrowser();
  const a = await openApp(browser, serverA.url);
  pageA = a.page;
  errors.A = a.errors;
});

after(async () => {
  await browser?.close();
  await serverA?.stop();
  await serverB?.stop();
  tmp?.cleanup();
});

test('train a small run on store A', async () => {
  await startFakeRun(pageA, {
    steps: '400',
    branch: BRANCH,
    seed: '11',
    checkpointEvery: '100',
  });
  await waitForJobState(pageA, 'done');
  await pageA.locator(`button[data-branch="${BRANCH}"]`).waitFor();
});

test('export the branch from the Bundles view, with progress', async () => {
  await pageA.keyboard.press('e');
  const card = pageA.getByRole('form', { name: 'Export a bundle' });
  await card.getByLabel('Ref to export').fill(BRANCH);
  await card.getByLabel('Bundle file').fill(bundlePath);
  await card.getByRole('button', { name: 'Export' }).click();
  await card.getByRole('progressbar', { name: 'Export progress' }).waitFor();
  const result = pageA.getByTestId('export-result');
  await result.waitFor({ timeout: 60_000 });
  assert.match((await result.textContent()) ?? '', /Wrote .+ to/);
  assert.equal(
    await card.getByRole('progressbar', { name: 'Export progress' }).getAttribute('aria-valuenow'),
    '100',
  );
  assert.ok(existsSync(bundlePath), `${bundlePath} exists`);
  assert.ok(statSync(bundlePath).size > 0);
  await screenshot(pageA, '10-bundles-export');
});

test('import the bundle into a fresh store through the second server', async () => {
  serverB = await startServer(join(tmp.dir, 'store-b'));
  const b = await openApp(browser, serverB.url);
  pageB = b.page;
  errors.B = b.errors;
  // the fresh store starts empty
  await pageB.getByRole('heading', { name: 'The same inputs give the same bits.' }).waitFor();
  await pageB.getByRole('button', { name: 'Bundles' }).click();
  const card = pageB.getByRole('form', { name: 'Import a bundle' });
  await card.getByLabel('Bundle file').fill(bundlePath);
  await card.getByRole('button', { name: 'Import' }).click();
  const result = pageB.getByTestId('import-result');
  await result.waitFor({ timeout: 60_000 });
  assert.match((await result.textContent()) ?? '', new RegExp(`Imported 1 branch:\\s*${BRANCH}`));
  // the store line follows the import
  await pageB.getByText(/1\s+run\s+·\s+1\s+branch\s+·/).waitFor();
  await screenshot(pageB, '11-bundles-import');

  // the imported branch is in B's timeline, with every checkpoint
  await pageB.getByRole('button', { name: 'Runs' }).click();
  const lane = pageB.locator(`button[data-branch="${BRANCH}"]`);
  await lane.waitFor();
  assert.match((await lane.textContent()) ?? '', /400/);
  assert.match(
    (await pageB.getByTestId('timeline-summary').textContent()) ?? '',
    /1 branch\s*·\s*5 checkpoints/,
  );
  await screenshot(pageB, '12-imported-timeline');
});

test('verify the imported branch from the UI', async () => {
  await pageB.getByRole('button', { name: 'Bundles' }).click();
  const card = pageB.getByRole('form', { name: 'Verify' });
  await card.getByLabel('Ref or bundle file').fill(BRANCH);
  await card.getByRole('button', { name: 'Verify' }).click();
  const result = pageB.getByTestId('verify-result');
  await result.waitFor({ timeout: 60_000 });
  const text = (await result.textContent()) ?? '';
  assert.match(text, /✓ Verified/);
  assert.match(text, /5 checkpoints over\s*400 steps/);
  await screenshot(pageB, '13-bundles-verify');

  // the inspector of the imported tip shows the "verified" badge
  await pageB.getByRole('button', { name: 'Runs' }).click();
  await pageB.locator(`button[data-branch="${BRANCH}"]`).click();
  const panel = pageB.getByTestId('checkpoint-panel');
  await panel.getByTestId('ckpt-step').waitFor();
  assert.equal(await panel.getByTestId('ckpt-step').textContent(), '400');
  await panel.getByText('✓ verified').waitFor();
  await pageB.locator('figure').first().waitFor();
  await screenshot(pageB, '14-imported-verified-inspector');
});

test('no page errors on either server', () => {
  assert.deepEqual(errors, { A: [], B: [] });
});
