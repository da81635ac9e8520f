/// <reference lib="dom" />
/**
 * The app opens on a store it can only partly read: when the service answers but one of the
 * requests the app starts with fails (here the store's counts: its objects folder is a link to
 * itself), the app shows the runs and says what failed in a notice — not "Cannot reach the
 * Lockstep service" with nothing else to use.
 */
import assert from 'node:assert/strict';
import { renameSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  FAKE_REQUEST,
  connectClient,
  launchBrowser,
  openApp,
  screenshot,
  startServer,
  tempDir,
  type Server,
} from './helpers';

let tmp: ReturnType<typeof tempDir>;
let server: Server;
let browser: Browser;

before(async () => {
  tmp = tempDir('lockstep-e2e-store-trouble-');
  server = await startServer(join(tmp.dir, 'store'));
  const client = await connectClient(server);
  try {
    const info = await client.startRun({ ...FAKE_REQUEST, steps: 200, branch: 'readable' });
    let state: string | undefined;
    for (let i = 0; i < 600 && state !== 'done'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      state = (await client.listJobs({})).find((x) => x.id === info.id)?.state;
    }
    assert.equal(state, 'done', 'the run the store holds has trained');
  } finally {
    client.close();
  }
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  tmp?.cleanup();
});

test('a store whose counts cannot be read: the app opens with its runs and a notice', async () => {
  const objects = join(server.store, 'objects');
  renameSync(objects, `${objects}.real`);
  symlinkSync('objects', objects);
  let page: Page | undefined;
  try {
    let errors: string[];
    ({ page, errors } = await openApp(browser, server.url));
    await page.getByRole('button', { name: /New run/ }).waitFor();
    assert.equal(await page.getByRole('button', { name: /New run/ }).isDisabled(), false);
    await page.locator('button[data-branch="readable"]').first().waitFor();
    await page.getByRole('status').filter({ hasText: 'Could not read the store' }).waitFor();
    assert.match(
      (await page
        .getByRole('status')
        .filter({ hasText: 'Could not read the store' })
        .textContent()) ?? '',
      /Could not read the store: ELOOP/,
    );
    assert.equal(await page.getByText('Cannot reach the Lockstep service').count(), 0);
    await screenshot(page, '71-store-counts-unreadable');
    assert.deepEqual(
      errors.filter((e) => !/ELOOP|store/i.test(e)),
      [],
      'no other page errors',
    );
  } finally {
    await page?.context().close();
    unlinkSync(objects);
    renameSync(`${objects}.real`, objects);
  }
});
