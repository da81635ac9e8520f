/**
 * The Electron shell: one window, locked down, and nothing else.
 *
 * Promises:
 * - One instance: a second launch focuses the existing window and exits.
 * - The renderer is sandboxed (contextIsolation, sandbox, no Node integration, web security on)
 *   and runs under a strict Content-Security-Policy, sent as a response header for app content
 *   and repeated as a <meta> in `src/renderer/index.html` (a header cannot be relied on for
 *   file:// pages).
 * - The window never navigates away from the app and never opens another window.
 * - This file wires, it does not compute: the engine is never imported here. The service runs
 *   on the store in the app's data folder (`LOCKSTEP_STORE` overrides it); training jobs run in
 *   Electron utility processes (src/main/job-process/entry-electron.ts).
 * - IPC: one invoke channel for every call and one event channel, generated from the contract
 *   (src/shared/rpc.ts). Every call's sender is checked — the main window's own top frame, showing
 *   the app's page — and its payload is validated by the method's schema before the service sees
 *   it. Anything else gets an UNAUTHORIZED reply.
 * - Quitting stops running jobs (each writes a checkpoint at its current step) before the app
 *   exits; the store is crash-safe either way.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, Menu, session } from 'electron';
import type { IpcMainInvokeEvent, MenuItemConstructorOptions, WebContents } from 'electron';
import { EVENT_NAMES, type Disposer } from '../shared/contract';
import { CONTENT_SECURITY_POLICY } from '../shared/csp';
import { handleCall, type Reply } from '../shared/rpc';
import { IPC_CALL_CHANNEL, IPC_EVENT_CHANNEL } from '../shared/rpc-ipc';
import { createService, type LockstepHost } from './service/service';
import { electronProcessFactory } from './job-process/fork-electron';

/** The dev server URL electron-vite sets in `dev` mode; unset in a built app. */
const devServerUrl = process.env['ELECTRON_RENDERER_URL'];

/** True when `url` is the app's own content (the dev server or the built renderer files). */
function isAppUrl(url: string): boolean {
  if (devServerUrl !== undefined && url.startsWith(devServerUrl)) {
    return true;
  }
  return url.startsWith('file://');
}

/** Adds the CSP header to every response for app content in `ses`. */
function installContentSecurityPolicy(ses: Electron.Session): void {
  ses.webRequest.onHeadersReceived((details, callback) => {
    if (!isAppUrl(details.url)) {
      callback({ responseHeaders: details.responseHeaders });
      return;
    }
    const headers = { ...details.responseHeaders };
    for (const name of Object.keys(headers)) {
      if (name.toLowerCase() === 'content-security-policy') {
        delete headers[name];
      }
    }
    headers['Content-Security-Policy'] = [CONTENT_SECURITY_POLICY];
    callback({ responseHeaders: headers });
  });
}

/** The built renderer page (file://), or null in dev mode. */
const appPageUrl =
  devServerUrl === undefined
    ? pathToFileURL(join(import.meta.dirname, '../renderer/index.html')).href
    : null;

/** True when `url` is the app's page itself (query and fragment ignored). */
function isAppPage(url: string): boolean {
  const page = url.replace(/[?#].*$/, '');
  if (devServerUrl !== undefined) {
    return page.startsWith(devServerUrl);
  }
  return page === appPageUrl;
}

/** The service, created once the app is ready; IPC calls before that wait for it. */
let servicePromise: Promise<LockstepHost> | null = null;
/** The window whose top frame may call the service. */
let serviceWindow: BrowserWindow | undefined;

/** The store folder: `LOCKSTEP_STORE`, else `<userData>/store`. */
function storeDir(): string {
  const explicit = process.env['LOCKSTEP_STORE'];
  return explicit !== undefined && explicit.trim() !== ''
    ? explicit
    : join(app.getPath('userData'), 'store');
}

/** True when an IPC call comes from the main window's top frame showing the app's page. */
function senderAllowed(event: IpcMainInvokeEvent): boolean {
  const win = serviceWindow;
  const frame = event.senderFrame;
  return (
    win !== undefined &&
    !win.isDestroyed() &&
    event.sender === win.webContents &&
    frame !== null &&
    frame === win.webContents.mainFrame &&
    isAppPage(frame.url)
  );
}

/** Registers the one IPC call handler (once, for the app's lifetime). */
function installIpc(): void {
  ipcMain.handle(IPC_CALL_CHANNEL, async (event, msg: unknown): Promise<Reply> => {
    if (!senderAllowed(event)) {
      return {
        ok: false,
        error: { name: 'ServiceError', code: 'UNAUTHORIZED', message: 'caller is not the app' },
      };
    }
    if (msg === null || typeof msg !== 'object') {
      return {
        ok: false,
        error: { name: 'ServiceError', code: 'BAD_INPUT', message: 'a call is { method, params }' },
      };
    }
    const { method, params } = msg as { method?: unknown; params?: unknown };
    if (servicePromise === null) {
      return {
        ok: false,
        error: { name: 'ServiceError', code: 'INTERNAL', message: 'the service is not running' },
      };
    }
    return handleCall(await servicePromise, method, params);
  });
}

/** Attaches the application service to `win`: it may call, and it receives every event. */
function wireService(win: BrowserWindow): void {
  serviceWindow = win;
  const disposers: Disposer[] = [];
  void servicePromise?.then((service) => {
    if (win.isDestroyed()) {
      return;
    }
    for (const event of EVENT_NAMES) {
      disposers.push(
        service.on(event, (payload) => {
          if (!win.isDestroyed()) {
            win.webContents.send(IPC_EVENT_CHANNEL, { event, payload });
          }
        }),
      );
    }
  });
  win.on('closed', () => {
    for (const d of disposers.splice(0)) {
      d();
    }
    if (serviceWindow === win) {
      serviceWindow = undefined;
    }
  });
}

/** Stops the service's jobs (checkpointing them) before the app quits. */
function closeServiceOnQuit(): void {
  let closed = false;
  let closing = false;
  app.on('before-quit', (event) => {
    if (closed || servicePromise === null) {
      return;
    }
    event.preventDefault();
    if (closing) {
      return;
    }
    closing = true;
    void servicePromise
      .then((service) => service.close())
      .catch((e: unknown) => console.error('lockstep: closing the service failed', e))
      .finally(() => {
        closed = true;
        app.quit();
      });
  });
}

/**
 * Keeps `contents` on the page it was loaded with: page-initiated navigation, new windows and
 * <webview> tags are all refused. Applied to every web contents the app creates.
 */
function lockDownContents(contents: WebContents): void {
  contents.on('will-navigate', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}

/** Creates the main window with the security settings described in the header. */
function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1200,
    height: 800,
    minWidth: 720,
    minHeight: 480,
    show: false,
    title: 'Lockstep',
    icon: join(import.meta.dirname, '../../resources/icon.png'),
    webPreferences: {
      preload: join(import.meta.dirname, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
    },
  });

  win.once('ready-to-show', () => win.show());
  wireService(win);

  if (devServerUrl !== undefined) {
    void win.loadURL(devServerUrl);
  } else {
    void win.loadFile(join(import.meta.dirname, '../renderer/index.html'));
  }
  return win;
}

/** Shows the About dialog (there is no online help to link to). */
function showAbout(win: BrowserWindow | undefined): void {
  const options: Electron.MessageBoxOptions = {
    type: 'info',
    title: 'About Lockstep',
    message: `Lockstep ${app.getVersion()}`,
    detail:
      'Train small neural networks on a laptop CPU: the same inputs give the same bits.\n\n' +
      `Electron ${process.versions.electron} · Chromium ${process.versions.chrome} · ` +
      `Node ${process.versions.node}`,
    buttons: ['OK'],
  };
  if (win === undefined) {
    void dialog.showMessageBox(options);
  } else {
    void dialog.showMessageBox(win, options);
  }
}

/** The application menu: File, Edit, View, Window, Help (macOS gets the app menu first). */
function buildMenu(getWindow: () => BrowserWindow | undefined): Menu {
  const isMac = process.platform === 'darwin';
  const template: MenuItemConstructorOptions[] = [
    ...(isMac ? [{ role: 'appMenu' as const }] : []),
    { label: 'File', submenu: [isMac ? { role: 'close' } : { role: 'quit' }] },
    { role: 'editMenu' },
    {
      label: 'View',
      submenu: [
        { role: 'reload' },
        { role: 'forceReload' },
        { role: 'toggleDevTools' },
        { type: 'separator' },
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { type: 'separator' },
        { role: 'togglefullscreen' },
      ],
    },
    { role: 'windowMenu' },
    {
      role: 'help',
      submenu: [{ label: 'About Lockstep', click: () => showAbout(getWindow()) }],
    },
  ];
  return Menu.buildFromTemplate(template);
}

/** Refuses every permission request (camera, notifications, …): the app needs none. */
function denyPermissions(ses: Electron.Session): void {
  ses.setPermissionRequestHandler((_webContents, _permission, callback) => callback(false));
}

/** Starts the shell (single instance, session security, menu, window). */
function main(): void {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }

  let mainWindow: BrowserWindow | undefined;
  const openMainWindow = (): void => {
    const win = createWindow();
    win.on('closed', () => {
      mainWindow = undefined;
    });
    mainWindow = win;
  };

  app.on('second-instance', () => {
    if (mainWindow !== undefined) {
      if (mainWindow.isMinimized()) {
        mainWindow.restore();
      }
      mainWindow.focus();
    }
  });

  // Fires for the main window's contents too, before anything is loaded into them.
  app.on('web-contents-created', (_event, contents) => lockDownContents(contents));

  installIpc();
  closeServiceOnQuit();
  void app.whenReady().then(() => {
    servicePromise = createService({
      storeDir: storeDir(),
      processFactory: electronProcessFactory(),
      version: app.getVersion(),
    });
    servicePromise.catch((e: unknown) => {
      dialog.showErrorBox('Lockstep cannot open its store', (e as Error).message);
      app.exit(2);
    });
    installContentSecurityPolicy(session.defaultSession);
    denyPermissions(session.defaultSession);
    Menu.setApplicationMenu(buildMenu(() => mainWindow));
    openMainWindow();
    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) {
        openMainWindow();
      }
    });
  });

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') {
      app.quit();
    }
  });
}

main();
