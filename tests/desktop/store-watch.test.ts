/**
 * One store, seen live: a run trained with the CLI into the store an open UI shows appears in
 * that UI without a restart, within 2 s of its branch landing on disk — for a client over web
 * mode's WebSocket (the `graphChanged` event, then listGraph) and for the real UI in Chromium
 * (/usr/bin/chromium, as the e2e tests).
 * Also the watcher's own contract (../../src/main/store/watch.ts) on a bare folder.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { graphSignature, watchStore } from '../../src/main/store/watch';
import type { LockstepClient } from '../../src/shared/contract';
import {
  connectClient,
  launchBrowser,
  openApp,
  startServer,
  tempDir,
  type Server,
} from '../e2e/helpers';
import { ensureBuilt, ROOT } from './helpers';

test('watchStore: silent while nothing changes, one call per change', async () => {
  const t = tempDir('lockstep-watch-');
  try {
    const heads = path.join(t.dir, 'refs', 'heads');
    let calls = 0;
    const stop = watchStore(t.dir, () => calls++, 50);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(calls, 0, 'a missing or unchanged store is quiet');
    const before = await graphSignature(t.dir);
    mkdirSync(path.join(heads, 'team'), { recursive: true });
    writeFileSync(path.join(heads, 'team', 'a'), '{}');
    assert.notEqual(await graphSignature(t.dir), before, 'a new branch record changes it');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(calls, 1);
    stop();
    writeFileSync(path.join(heads, 'b'), '{}');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(calls, 1, 'nothing after the disposer');
  } finally {
    t.cleanup();
  }
});

let t: { dir: string; cleanup(): void };
let server: Server;
let client: LockstepClient & { close(): void };
let browser: Browser | null = null;
let page: Page | null = null;

before(async () => {
  ensureBuilt();
  t = tempDir('lockstep-onestore-');
  server = await startServer(path.join(t.dir, 'store'));
  client = await connectClient(server);
  browser = await launchBrowser();
  page = (await openApp(browser, server.url)).page;
  await page
    .getByRole('button', { name: /New run/ })
    .first()
    .waitFor({ timeout: 60_000 });
});

after(async () => {
  client?.close();
  await browser?.close();
  await server?.stop();
  t?.cleanup();
});

test('a CLI run into the open store shows up within 2 s', async (ctx) => {
  const branch = 'from-the-cli';
  const changed: number[] = [];
  const off = client.on('graphChanged', () => changed.push(Date.now()));
  const branchFile = path.join(server.store, 'refs', 'heads', branch);

  const cli = spawn(
    process.execPath,
    [
      path.join(ROOT, 'bin', 'lockstep.mjs'),
      'train',
      '--dataset',
      'fake',
      '--model',
      'mlp',
      '--hidden',
      '16,8',
      '--optimizer',
      'sgd',
      '--lr',
      '0.1',
      '--batch-size',
      '32',
      '--steps',
      '40',
      '--seed',
      '3',
      '--checkpoint-every',
      '20',
      '--eval-every',
      '40',
      '--backend',
      'cpu',
      '--branch',
      branch,
      '--store',
      server.store,
      '--json',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  cli.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => cli.once('exit', (code) => r(code)));

  // t0: the moment the branch exists on disk
  const deadline = Date.now() + 120_000;
  while (!existsSync(branchFile) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const t0 = Date.now();
  assert.ok(existsSync(branchFile), `the CLI wrote its branch; stderr:\n${stderr}`);

  // a client over the WebSocket: graphChanged, and the branch in listGraph
  let seen = 0;
  while (Date.now() - t0 < 2000) {
    const graph = await client.listGraph({});
    if (graph.some((r) => r.branches.some((b) => b.name === branch)) && changed.length > 0) {
      seen = Date.now();
      break;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.ok(seen > 0, 'graphChanged fired and listGraph has the branch within 2 s');
  ctx.diagnostic(`WebSocket client: graphChanged ${changed[0] - t0} ms after the branch landed`);
  off();

  assert.ok(page !== null);
  await page
    .getByText(branch)
    .first()
    .waitFor({ timeout: Math.max(1, t0 + 2000 - Date.now()) });
  ctx.diagnostic(`Chromium UI: the branch shown ${Date.now() - t0} ms after it landed`);
  assert.equal(await exited, 0, `the CLI run succeeded; stderr:\n${stderr}`);
});
