/**
 * The application menu as a template: File (Open store…, then Close or Quit), Edit, View, Window,
 * Help (About). macOS gets the app menu first. Pure data plus the callbacks given, so a test can
 * find "Open store…" and click it.
 */
import type { MenuItemConstructorOptions } from 'electron';

export interface MenuActions {
  /** File › Open store…: pick a store folder and switch the app to it */
  openStore(): void;
  /** Help › About Lockstep */
  about(): void;
}

/** The menu template for `platform`. */
export function menuTemplate(
  actions: MenuActions,
  platform: NodeJS.Platform,
): MenuItemConstructorOptions[] {
  const isMac = platform === 'darwin';
  return [
    ...(isMac ? [{ role: 'appMenu' as const }] : []),
    {
      label: 'File',
      submenu: [
        {
          id: 'open-store',
          label: 'Open store…',
          accelerator: 'CmdOrCtrl+O',
          click: () => actions.openStore(),
        },
        { type: 'separator' },
        isMac ? { role: 'close' } : { role: 'quit' },
      ],
    },
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
      submenu: [{ label: 'About Lockstep', click: () => actions.about() }],
    },
  ];
}
