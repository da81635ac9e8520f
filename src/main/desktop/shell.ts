/**
 * The Electron shell's wiring, with the Electron API passed in (src/main/index.ts passes the real
 * one; tests/desktop/main-wiring.test.ts a stub), so everything but drawing a window runs in Node.
 *
 * Promises:
 * - One instance: a second launch focuses the existing window and exits.
 * - Electron's own data (caches, local storage) lives in `<appData>/lockstep-electron`, never in
 *   the store: on macOS and Windows the default store folder `…/Lockstep` would otherwise be the
 *   very folder Electron picks for `lockstep` (their file systems ignore case).
 * - The service runs on `storeDir` (the default store the CLI shares, or `LOCKSTEP_STORE`); File ›
 *   Open store… switches to another folder: the new store is opened first (a folder that cannot
 *   be a store is refused with a dialog and nothing changes), running jobs of the old one are
 *   stopped (they checkpoint), and the window reloads onto the new one.
 * - Every window is built with {@link mainWindowOptions}; every web contents is locked down
 *   ({@link lockDownContents}); app content gets the CSP header; permissions are refused.
 * - The service is served to each window with `serveChannel` over Electron IPC
 *   ({@link serveWindow}), the same call as web mode; frames from any other sender are dropped.
 * - Quitting stops running jobs (each writes a checkpoint at its current step) before the app
 *   exits; the store is crash-safe either way.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as ElectronModule from 'electron';
import type { BrowserWindow } from 'electron';
import { serveChannel } from '../../shared/rpc-server';
import type { LockstepHost } from '../service/service';
import { serveWindow } from './ipc-endpoint';
import { menuTemplate } from './menu';
import {
  appPages,
  denyPermissions,
  installContentSecurityPolicy,
  lockDownContents,
} from './security';
import { mainWindowOptions, type WindowFiles } from './window';

/** The parts of the `electron` module the shell uses. */
export type ShellElectron = Pick<
  typeof ElectronModule,
  'app' | 'BrowserWindow' | 'dialog' | 'ipcMain' | 'Menu' | 'session'
>;

export interface ShellOptions {
  /** opens the service on a store folder (creating the store when the folder has none) */
  openService(storeDir: string): Promise<LockstepHost>;
  /** the store to open at launch */
  storeDir: string;
  /** the built files: preload, icon, and the renderer's index.html */
  files: WindowFiles & { page: string };
  /** electron-vite's dev server, in `dev` mode */
  devServerUrl?: string;
  platform: NodeJS.Platform;
}

/** What the shell exposes to its caller (and tests). */
export interface Shell {
  /** resolves once the service is open and the first window is created */
  ready: Promise<void>;
  /** the store the service runs on now */
  storeDir(): string;
  /** File › Open store… with a folder already chosen */
  switchStore(dir: string): Promise<boolean>;
}

/** The folder (under the OS app-data folder) for Electron's own data. */
export const ELECTRON_DATA_FOLDER = 'lockstep-electron';

/** Starts the shell. Returns null when another instance already runs (this one quits). */
export function startShell(electron: ShellElectron, opts: ShellOptions): Shell | null {
  const { app, BrowserWindow, dialog, ipcMain, Menu, session } = electron;
  app.setPath('userData', join(app.getPath('appData'), ELECTRON_DATA_FOLDER));
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return null;
  }
  const pages = appPages(opts.devServerUrl, pathToFileURL(opts.files.page).href);
  let service: LockstepHost | null = null;
  let storeDir = opts.storeDir;
  let mainWindow: BrowserWindow | undefined;

  const openMainWindow = (): void => {
    const win = new BrowserWindow(mainWindowOptions(opts.files));
    mainWindow = win;
    win.once('ready-to-show', () => win.show());
    win.on('closed', () => {
      if (mainWindow === win) {
        mainWindow = undefined;
      }
    });
    serveWindow(
      ipcMain,
      win,
      pages.isAppPage,
      (endpoint) => {
        if (service === null) {
          throw new Error('the service is not open');
        }
        return serveChannel(service, endpoint);
      },
      (event) =>
        console.warn(
          `lockstep: dropped an IPC frame from ${String(event.senderFrame?.url).slice(0, 200)}`,
        ),
    );
    if (opts.devServerUrl !== undefined) {
      void win.loadURL(opts.devServerUrl);
    } else {
      void win.loadFile(opts.files.page);
    }
  };

  const switchStore = async (dir: string): Promise<boolean> => {
    let next: LockstepHost;
    try {
      next = await opts.openService(dir);
    } catch (e) {
      dialog.showErrorBox('Lockstep cannot open this store', `${dir}\n\n${(e as Error).message}`);
      return false;
    }
    const old = service;
    service = next;
    storeDir = dir;
    await old?.close().catch((e: unknown) => console.error('lockstep: closing a store failed', e));
    for (const win of BrowserWindow.getAllWindows()) {
      win.webContents.reload();
    }
    return true;
  };

  const openStore = async (): Promise<void> => {
    const parent = mainWindow;
    const options: Electron.OpenDialogOptions = {
      title: 'Open store',
      buttonLabel: 'Open store',
      defaultPath: storeDir,
      properties: ['openDirectory', 'createDirectory'],
    };
    const picked =
      parent === undefined
        ? await dialog.showOpenDialog(options)
        : await dialog.showOpenDialog(parent, options);
    const dir = picked.filePaths[0];
    if (picked.canceled || dir === undefined || dir === storeDir) {
      return;
    }
    const running = (await service?.listJobs({}))?.filter(
      (j) => j.state === 'running' || j.state === 'queued' || j.state === 'paused',
    );
    if (running !== undefined && running.length > 0) {
      const box: Electron.MessageBoxOptions = {
        type: 'question',
        buttons: ['Stop them and open', 'Cancel'],
        defaultId: 1,
        cancelId: 1,
        message: `${running.length} job(s) are running on ${storeDir}.`,
        detail: 'Opening another store stops them; each training job writes a checkpoint first.',
      };
      const answer =
        parent === undefined
          ? await dialog.showMessageBox(box)
          : await dialog.showMessageBox(parent, box);
      if (answer.response !== 0) {
        return;
      }
    }
    await switchStore(dir);
  };

  const showAbout = (): void => {
    const options: Electron.MessageBoxOptions = {
      type: 'info',
      title: 'About Lockstep',
      message: `Lockstep ${app.getVersion()}`,
      detail:
        'Train small neural networks on a laptop CPU: the same inputs give the same bits.\n\n' +
        `Store: ${storeDir}\n` +
        `Electron ${process.versions.electron} · Chromium ${process.versions.chrome} · ` +
        `Node ${process.versions.node}`,
      buttons: ['OK'],
    };
    void (mainWindow === undefined
      ? dialog.showMessageBox(options)
      : dialog.showMessageBox(mainWindow, options));
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

  let closed = false;
  let closing = false;
  app.on('before-quit', (event) => {
    if (closed || service === null) {
      return;
    }
    event.preventDefault();
    if (closing) {
      return;
    }
    closing = true;
    void service
      .close()
      .catch((e: unknown) => console.error('lockstep: closing the service failed', e))
      .finally(() => {
        closed = true;
        app.quit();
      });
  });
  app.on('window-all-closed', () => {
    if (opts.platform !== 'darwin') {
      app.quit();
    }
  });

  const ready = app.whenReady().then(async () => {
    try {
      service = await opts.openService(storeDir);
    } catch (e) {
      dialog.showErrorBox(
        'Lockstep cannot open its store',
        `${storeDir}\n\n${(e as Error).message}`,
      );
      app.exit(2);
      return;
    }
    installContentSecurityPolicy(session.defaultSession, pages.isAppUrl);
    denyPermissions(session.defaultSession);
    Menu.setApplicationMenu(
      Menu.buildFromTemplate(
        menuTemplate({ openStore: () => void openStore(), about: showAbout }, opts.platform),
      ),
    );
    openMainWindow();
    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) {
        openMainWindow();
      }
    });
  });

  return { ready, storeDir: () => storeDir, switchStore };
}
