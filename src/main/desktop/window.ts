/**
 * The main window's construction options: the security settings every Lockstep window has
 * (context isolation, sandbox, no Node integration anywhere, web security on, no <webview>), the
 * sandboxed preload, and its size. Pure data, so a test reads exactly what the shell passes to
 * `new BrowserWindow`.
 */
import type { BrowserWindowConstructorOptions } from 'electron';

/** Files the window needs (absolute paths). */
export interface WindowFiles {
  /** the built, sandboxed preload (out/preload/index.cjs) */
  preload: string;
  icon: string;
}

/** The options of the main window. */
export function mainWindowOptions(files: WindowFiles): BrowserWindowConstructorOptions {
  return {
    width: 1200,
    height: 800,
    minWidth: 720,
    minHeight: 480,
    show: false,
    title: 'Lockstep',
    icon: files.icon,
    webPreferences: {
      preload: files.preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
    },
  };
}
