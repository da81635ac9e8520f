/**
 * The Electron main process's wiring, without the Electron binary: the real src/main/index.ts is
 * imported with the specifier `electron` resolved to a recording stub (electron-hooks.mjs), and
 * the test plays Electron's part. A regression in index.ts or src/main/desktop/* that weakens a
 * window option, drops the CSP, lets a page navigate or open windows, accepts IPC from another
 * frame, or moves the store away from the CLI's default fails here.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { register } from 'node:module';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { startShell } from '../../src/main/desktop/shell';
import { defaultStoreDir } from '../../src/main/store/location';
import { CONTENT_SECURITY_POLICY } from '../../src/shared/csp';
import { MARKER } from '../../src/main/store/layout';
import { cleanup, tempDir } from '../contract/helpers';
import { electronStub, FakeWebContents, FakeWindow, type ElectronStub } from './electron-stub-api';

const CHANNEL = 'lockstep:frame';
let dir: string;
let stub: ElectronStub;
let win: FakeWindow;
let nextId = 1;

/** Sends one call frame as (`sender`, `frame`) and waits up to `ms` for its reply. */
async function call(
  method: string,
  params: unknown,
  from: { sender?: unknown; url?: string; parent?: unknown } = {},
  ms = 10_000,
): Promise<{ type: string; id: number; result?: unknown; error?: { code: string } } | null> {
  const id = nextId++;
  const event = {
    sender: from.sender ?? win.webContents,
    senderFrame: { url: from.url ?? appPage(), parent: from.parent ?? null },
  };
  stub.ipcMain.emit(CHANNEL, event, JSON.stringify({ type: 'call', id, method, params }));
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    for (const s of win.webContents.sent) {
      const m = JSON.parse(String(s.frame)) as { id: number; type: string };
      if (s.channel === CHANNEL && m.id === id) {
        return m;
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return null;
}

/** The file URL of the page the shell loaded. */
function appPage(): string {
  return pathToFileURL(String(win.loaded.file)).href;
}

before(async () => {
  dir = tempDir('lockstep-shell-');
  delete process.env['LOCKSTEP_STORE'];
  delete process.env['ELECTRON_RENDERER_URL'];
  process.env['XDG_DATA_HOME'] = path.join(dir, 'data');
  stub = electronStub(path.join(dir, 'appdata'));
  (globalThis as { __lockstepElectronStub?: unknown }).__lockstepElectronStub = stub;
  register('./electron-hooks.mjs', import.meta.url);
  await import('../../src/main/index');
  stub.ready();
  const deadline = Date.now() + 30_000;
  while (FakeWindow.all.length === 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  win = FakeWindow.all[0];
  assert.ok(win !== undefined, 'the shell opened a window');
});

after(() => {
  cleanup(dir);
});

test("Electron's data moves out of the store's way before the single-instance lock", () => {
  assert.deepEqual(stub.calls.slice(0, 2), ['setPath userData', 'requestSingleInstanceLock']);
  assert.equal(stub.paths['userData'], path.join(dir, 'appdata', 'lockstep-electron'));
});

test('the app opens the store the CLI uses by default', () => {
  const expected = defaultStoreDir();
  assert.ok(expected.startsWith(dir), `${expected} is under the test's XDG_DATA_HOME`);
  assert.ok(existsSync(path.join(expected, MARKER)), 'the store was created there');
  assert.ok(!existsSync(path.join(stub.paths['userData'], 'store')), 'no <userData>/store');
});

test('the window is isolated, sandboxed and has no Node', () => {
  assert.equal(FakeWindow.all.length, 1);
  const prefs = win.options['webPreferences'] as Record<string, unknown>;
  assert.equal(prefs['contextIsolation'], true);
  assert.equal(prefs['sandbox'], true);
  assert.equal(prefs['nodeIntegration'], false);
  assert.equal(prefs['nodeIntegrationInWorker'], false);
  assert.equal(prefs['nodeIntegrationInSubFrames'], false);
  assert.equal(prefs['webSecurity'], true);
  assert.equal(prefs['allowRunningInsecureContent'], false);
  assert.equal(prefs['webviewTag'], false);
  assert.match(String(prefs['preload']), /[\\/]preload[\\/]index\.cjs$/);
  assert.match(String(win.loaded.file), /[\\/]renderer[\\/]index\.html$/);
  win.emit('ready-to-show');
  assert.equal(win.shown, true);
});

test('app content gets the CSP header, replacing any other; other responses are untouched', () => {
  assert.ok(stub.headersHook !== null, 'a headers hook is installed');
  let got: { responseHeaders?: Record<string, unknown> } | undefined;
  stub.headersHook(
    { url: appPage(), responseHeaders: { 'content-security-policy': ['default-src *'], X: ['1'] } },
    (r) => (got = r as typeof got),
  );
  assert.deepEqual(got?.responseHeaders, {
    X: ['1'],
    'Content-Security-Policy': [CONTENT_SECURITY_POLICY],
  });
  const outside = { 'content-security-policy': ['x'] };
  stub.headersHook(
    { url: 'https://example.com/', responseHeaders: outside },
    (r) => (got = r as typeof got),
  );
  assert.deepEqual(got?.responseHeaders, outside);
});

test('every permission request is refused', () => {
  let granted: boolean | undefined;
  stub.permissionHandler?.(null, 'media', (g) => (granted = g));
  assert.equal(granted, false);
});

test('no web contents may navigate, open a window or attach a webview', () => {
  const contents = new FakeWebContents();
  stub.app.emit('web-contents-created', {}, contents);
  for (const event of ['will-navigate', 'will-attach-webview']) {
    let prevented = false;
    contents.emit(event, { preventDefault: () => (prevented = true) }, 'https://example.com/');
    assert.ok(prevented, `${event} is prevented`);
  }
  assert.deepEqual(contents.windowOpenHandler?.({ url: 'https://example.com/' }), {
    action: 'deny',
  });
});

test('IPC: the app page is served; other senders and frames get nothing', async () => {
  const ok = await call('listGraph', {});
  assert.deepEqual(ok, {
    type: 'result',
    id: ok === null ? 0 : (ok as { id: number }).id,
    result: [],
  });
  const bad = await call('listGraph', { extra: 1 });
  assert.equal(bad?.error?.code, 'BAD_INPUT', 'payloads are validated by the schema');

  const refused = await Promise.all([
    call('listGraph', {}, { parent: {} }, 600), // a subframe
    call('listGraph', {}, { url: 'https://evil.example/' }, 600), // another page
    call('listGraph', {}, { sender: new FakeWebContents() }, 600), // another web contents
  ]);
  assert.deepEqual(refused, [null, null, null]);
});

test('File › Open store… switches the service to the chosen folder and reloads', async () => {
  const file = (stub.menuTemplate as { label?: string; submenu?: unknown[] }[]).find(
    (m) => m.label === 'File',
  );
  const item = (file?.submenu as { label?: string; click?: () => void }[]).find(
    (i) => i.label === 'Open store…',
  );
  assert.ok(item?.click, 'File has "Open store…"');
  const other = path.join(dir, 'other-store');
  mkdirSync(other);
  stub.nextOpenDialog = [other];
  item.click();
  const deadline = Date.now() + 20_000;
  while (win.webContents.reloads === 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(win.webContents.reloads, 1, 'the window reloads onto the new store');
  assert.ok(existsSync(path.join(other, MARKER)), 'the new store was opened');
  const after = await call('listGraph', {});
  assert.equal(after?.type, 'result', 'the reloaded page is served');
});

test('quitting closes the service first, then quits', async () => {
  const before = stub.quits;
  (stub.app as unknown as { quit(): void }).quit();
  const deadline = Date.now() + 20_000;
  while (stub.quits < before + 2 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(stub.quits, before + 2, 'the first quit is held until the service closed');
});

test('a second instance quits at once and opens nothing', () => {
  const second = electronStub(path.join(dir, 'appdata2'));
  second.singleInstance = false;
  const shell = startShell(second as never, {
    openService: () => Promise.reject(new Error('must not open a store')),
    storeDir: path.join(dir, 'unused'),
    files: { preload: 'p', icon: 'i', page: path.join(dir, 'index.html') },
    platform: 'linux',
  });
  assert.equal(shell, null);
  assert.equal(second.quits, 1);
  assert.equal(FakeWindow.all.length, 0);
});
