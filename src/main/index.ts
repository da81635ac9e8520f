/**
 * The Electron main entry: it wires, it does not compute. Everything it does is in
 * src/main/desktop/shell.ts, given the real Electron API here:
 * - the service (src/main/service) on the store the CLI shares (`LOCKSTEP_STORE` or the
 *   platform's data folder, src/main/store/location.ts), training jobs in Electron utility
 *   processes (src/main/job-process/entry-electron.ts);
 * - the built files: the sandboxed preload (out/preload/index.cjs), the renderer page and the
 *   icon;
 * - electron-vite's dev server URL in `dev` mode.
 * The engine is never imported here.
 */
import { join } from 'node:path';
import { app, BrowserWindow, dialog, ipcMain, Menu, session } from 'electron';
import { startShell } from './desktop/shell';
import { createService } from './service/service';
import { defaultStoreDir } from './store/location';
import { electronProcessFactory } from './job-process/fork-electron';

startShell(
  { app, BrowserWindow, dialog, ipcMain, Menu, session },
  {
    openService: (storeDir) =>
      createService({
        storeDir,
        processFactory: electronProcessFactory(),
        version: app.getVersion(),
      }),
    storeDir: defaultStoreDir(),
    files: {
      preload: join(import.meta.dirname, '../preload/index.cjs'),
      icon: join(import.meta.dirname, '../../resources/icon.png'),
      page: join(import.meta.dirname, '../renderer/index.html'),
    },
    devServerUrl: process.env['ELECTRON_RENDERER_URL'],
    platform: process.platform,
  },
);
