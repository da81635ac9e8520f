/// <reference lib="dom" />
/**
 * End-to-end helpers: the real web mode (`lockstep serve` as a child process on a temp store)
 * and Debian's Chromium through playwright-core. No fakes: every test trains for real on the
 * `fake` dataset (small MLP, a few hundred steps).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir as makeTempDir } from '../helpers/fixtures';
import { after, afterEach, before } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import WebSocket from 'ws';
import type { LockstepClient, StartRunRequest } from '../../src/shared/contract';
import { connectWebSocket, type WebSocketConstructor } from '../../src/shared/rpc-websocket';

export const ROOT = join(import.meta.dirname, '..', '..');
export const SCREENSHOTS = join(ROOT, 'artifacts', 'screenshots');
const CHROMIUM = process.env.LOCKSTEP_CHROMIUM ?? '/usr/bin/chromium';

export interface Server {
  url: string;
  store: string;
  proc: ChildProcess;
  stop(): Promise<void>;
  /** what the server has printed on stderr so far */
  stderr(): string;
}

/** A fresh temp directory; removed by `cleanup`. */
export function tempDir(prefix: string): { dir: string; cleanup(): void } {
  const dir = makeTempDir(prefix);
  return { dir, cleanup: () => removeDir(dir) };
}

/** Starts `lockstep serve --port 0 --store <store>` and resolves with the URL it prints. */
export function startServer(store: string): Promise<Server> {
  const proc = spawn(
    process.execPath,
    [join(ROOT, 'bin', 'lockstep.mjs'), 'serve', '--port', '0', '--store', store],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const stop = async (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      return;
    }
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`lockstep serve printed no URL in 60 s; stderr:\n${stderr}`));
    }, 60_000);
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], store, proc, stop, stderr: () => stderr });
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`lockstep serve exited with ${code}; stderr:\n${stderr}`));
    });
  });
}

/** Launches Debian's Chromium headless. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** Opens the app page and fails the test on any page error or console error. */
export async function openApp(
  browser: Browser,
  url: string,
  opts: { colorScheme?: 'light' | 'dark' } = {},
): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({
    viewport: { width: 1360, height: 900 },
    colorScheme: opts.colorScheme ?? 'light',
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') {
      errors.push(`console: ${m.text()}`);
    }
  });
  await page.goto(url);
  return { page, errors };
}

/**
 * Waits until the page has drawn what it shows: every visible canvas has painted pixels, then two
 * animation frames pass (the charts do not animate). Use it before a screenshot or a pointer
 * interaction with a chart instead of a fixed sleep.
 */
export async function settled(page: Page, timeout = 30_000): Promise<void> {
  await page.waitForFunction(
    () =>
      Array.from(document.querySelectorAll('canvas'))
        .filter((c) => c.offsetParent !== null && c.width > 0 && c.height > 0)
        .every((c) => {
          const ctx = c.getContext('2d');
          if (ctx === null) {
            return true;
          }
          const px = ctx.getImageData(0, 0, c.width, c.height).data;
          for (let i = 3; i < px.length; i += 4) {
            if (px[i] !== 0) {
              return true;
            }
          }
          return false;
        }),
    undefined,
    { timeout },
  );
  await page.evaluate(
    () =>
      new Promise<void>((resolve) =>
        requestAnimationFrame(() => requestAnimationFrame(() => resolve())),
      ),
  );
}

/** Saves a full-page screenshot as artifacts/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** The `fake` run config the tests train (fast: ~2 ms per step). */
export const FAKE_RUN = {
  dataset: 'fake',
  hidden: '16,8',
  lr: '0.1',
  batchSize: '32',
  steps: '300',
  checkpointEvery: '100',
  evalEvery: '100',
  backend: 'wasm',
} as const;

/**
 * The `fake` run the tests start through the client behind the UI (600 steps, a checkpoint every
 * 100, an evaluation every 200, branch `fake-base`); spread it with overrides.
 */
export const FAKE_REQUEST: StartRunRequest = {
  dataset: 'fake',
  model: 'mlp',
  hidden: [16, 8],
  optimizer: 'sgd',
  lr: 0.1,
  batchSize: 32,
  steps: 600,
  seed: 7,
  checkpointEvery: 100,
  evalEvery: 200,
  backend: 'wasm',
  branch: 'fake-base',
};

/** Fills and submits the New run form with FAKE_RUN (plus overrides). */
export async function startFakeRun(
  page: Page,
  overrides: Partial<Record<keyof typeof FAKE_RUN | 'seed' | 'branch', string>> = {},
): Promise<void> {
  const v = { ...FAKE_RUN, ...overrides };
  await page.getByRole('button', { name: /New run/ }).click();
  const dialog = page.getByRole('dialog', { name: 'New run' });
  await dialog.getByLabel('Dataset').selectOption(v.dataset);
  await dialog.getByLabel('Hidden layer sizes').fill(v.hidden);
  await dialog.getByLabel('Learning rate').fill(v.lr);
  await dialog.getByLabel('Batch size').fill(v.batchSize);
  await dialog.getByLabel('Steps', { exact: true }).fill(v.steps);
  await dialog.getByLabel('Checkpoint every').fill(v.checkpointEvery);
  await dialog.getByLabel('Evaluate every').fill(v.evalEvery);
  await dialog.getByLabel('Backend').selectOption(v.backend);
  if (overrides.seed !== undefined) {
    await dialog.getByLabel('Explicit').check();
    await dialog.getByLabel('Seed value').fill(overrides.seed);
  }
  if (overrides.branch !== undefined) {
    await dialog.getByLabel('Branch name').fill(overrides.branch);
  }
  await dialog.getByRole('button', { name: 'Start training' }).click();
  await dialog.waitFor({ state: 'detached' });
}

/** Waits until the live panel's job reaches `state` (e.g. 'done'). */
export async function waitForJobState(page: Page, state: string, timeout = 120_000): Promise<void> {
  await page
    .locator(`[data-testid="live-panel"][data-state="${state}"]`)
    .waitFor({ state: 'visible', timeout });
}

/** The id of the job in the live panel, or null. */
export async function liveJobId(page: Page): Promise<string | null> {
  const panel = page.getByTestId('live-panel');
  return (await panel.count()) === 0 ? null : panel.getAttribute('data-job');
}

/** Runs `action`, then waits until a job other than the one shown before is `done`. */
export async function runJobToDone(page: Page, action: () => Promise<void>): Promise<void> {
  const before = await liveJobId(page);
  await action();
  await page.waitForFunction(
    (prev) => {
      const el = document.querySelector('[data-testid="live-panel"]');
      return (
        el !== null &&
        el.getAttribute('data-job') !== prev &&
        el.getAttribute('data-state') === 'done'
      );
    },
    before,
    { timeout: 120_000 },
  );
}

/** A typed LockstepClient over the server's WebSocket (Node's `ws`), for checks behind the UI. */
export async function connectClient(server: Server): Promise<LockstepClient & { close(): void }> {
  const { port, searchParams } = new URL(server.url);
  return connectWebSocket(
    `ws://127.0.0.1:${port}/ws?token=${searchParams.get('token') ?? ''}`,
    WebSocket as unknown as WebSocketConstructor,
  );
}

/** What {@link useApp} sets up for one test file (filled in by its `before` hook). */
export interface App {
  tmp: { dir: string; cleanup(): void };
  server: Server;
  browser: Browser;
  /** the app page (light theme) and its page/console errors; only with `page: true` */
  page: Page;
  errors: string[];
  /** a typed client behind the UI; only with `client: true` */
  client: LockstepClient & { close(): void };
}

/**
 * After a failed test: prints whether the server still runs, the page's alerts (cannot reach the
 * service, connection lost, error notices) and errors, and the server's stderr, so that a failure
 * in CI says what the page showed, not only which locator timed out.
 */
async function reportTrouble(app: App): Promise<void> {
  const exited = app.server?.proc.exitCode ?? app.server?.proc.signalCode ?? null;
  let page: string[] = [];
  if (app.page !== undefined && !app.page.isClosed()) {
    page = await app.page
      .evaluate(() => [
        ...Array.from(document.querySelectorAll('.connect-error, [role="alert"], .notice')).map(
          (e) => `page alert: ${e.textContent?.trim().replace(/\s+/g, ' ') ?? ''}`,
        ),
        `page text: ${document.body.innerText.replace(/\s+/g, ' ').slice(0, 600)}`,
      ])
      .catch((e: unknown) => [`(the page could not be read: ${String(e)})`]);
  }
  console.error(
    [
      '--- e2e trouble report',
      `server: ${exited === null ? 'running' : `exited (${exited})`}`,
      ...page,
      ...(app.errors ?? []).slice(-10).map((e) => `page error: ${e}`),
      `server stderr (last 3000 characters):\n${(app.server?.stderr() ?? '').slice(-3000)}`,
      '---',
    ].join('\n'),
  );
}

/**
 * Registers the `before`/`after` hooks of a test file that drives one web-mode server on a fresh
 * temp store with one Chromium: optionally a page opened on the app and a client behind the UI.
 * Read the fields inside tests (they are set when `before` has run); `after` closes everything.
 */
export function useApp(prefix: string, opts: { page?: boolean; client?: boolean } = {}): App {
  const app = {} as App;
  before(async () => {
    app.tmp = tempDir(prefix);
    app.server = await startServer(`${app.tmp.dir}/store`);
    if (opts.client) {
      app.client = await connectClient(app.server);
    }
    app.browser = await launchBrowser();
    if (opts.page) {
      ({ page: app.page, errors: app.errors } = await openApp(app.browser, app.server.url));
    }
  });
  afterEach(async (t) => {
    if ((t as { passed?: boolean }).passed === false) {
      await reportTrouble(app);
    }
  });
  after(async () => {
    app.client?.close();
    await app.browser?.close();
    await app.server?.stop();
    app.tmp?.cleanup();
  });
  return app;
}
