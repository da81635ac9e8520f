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
 * - This file wires, it does not compute: the engine is never imported here. The service is
 *   attached to the window in {@link wireService}.
 */
import { join } from 'node:path';
import { app, BrowserWindow, dialog, Menu, session } from 'electron';
import type { MenuItemConstructorOptions, WebContents } from 'electron';
import { CONTENT_SECURITY_POLICY } from '../shared/csp';

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

/**
 * Attaches the application service to `win`.
 *
 * Intentionally empty for now: the IPC wiring (typed handlers generated from the contract in
 * `src/shared/`, sender and payload checks) is added by the contract work.
 */
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- filled in by the contract work
function wireService(win: BrowserWindow): void {
  // Nothing yet: the IPC wiring is added by the contract work.
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

  void app.whenReady().then(() => {
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
