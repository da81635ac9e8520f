/**
 * Where the store lives by default (DESIGN.md "Store"): `LOCKSTEP_STORE` when set, else the
 * platform's per-user app data folder — Linux and other Unix: `$XDG_DATA_HOME/lockstep` (or
 * `~/.local/share/lockstep`); macOS: `~/Library/Application Support/Lockstep`; Windows:
 * `%APPDATA%\Lockstep`. No electron import: the CLI and the app compute the same path.
 */
import { homedir } from 'node:os';
import path from 'node:path';

/** The default store directory (absolute). Arguments exist for tests. */
export function defaultStoreDir(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  home: string = homedir(),
): string {
  const p = platform === 'win32' ? path.win32 : path.posix;
  const explicit = env.LOCKSTEP_STORE;
  if (explicit !== undefined && explicit.trim() !== '') {
    return p.resolve(explicit);
  }
  if (platform === 'darwin') {
    return p.join(home, 'Library', 'Application Support', 'Lockstep');
  }
  if (platform === 'win32') {
    const appData =
      env.APPDATA && env.APPDATA.trim() !== '' ? env.APPDATA : p.join(home, 'AppData', 'Roaming');
    return p.join(appData, 'Lockstep');
  }
  const xdg = env.XDG_DATA_HOME;
  // the XDG spec: a relative XDG_DATA_HOME is invalid and must be ignored
  const dataHome = xdg && p.isAbsolute(xdg) ? xdg : p.join(home, '.local', 'share');
  return p.join(dataHome, 'lockstep');
}
