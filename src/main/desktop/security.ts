/**
 * The shell's security rules, each a small function over the Electron object it applies to
 * (passed in, so tests call them with plain objects):
 * - {@link appPages}: which URLs are the app's own content and which is its page;
 * - {@link installContentSecurityPolicy}: the CSP header on every response for app content;
 * - {@link denyPermissions}: every permission request (camera, notifications, …) refused;
 * - {@link lockDownContents}: no page-initiated navigation, no new windows, no <webview>.
 */
import { CONTENT_SECURITY_POLICY } from '../../shared/csp';

/** What identifies the app's content: the built page's file URL, or the dev server's URL. */
export interface AppPages {
  /** true for any of the app's content (the dev server, or file:// resources of the built app) */
  isAppUrl(url: string): boolean;
  /** true for the app's page itself (query and fragment ignored) */
  isAppPage(url: string): boolean;
}

/** The app's pages: `devServerUrl` in dev mode, else exactly `pageFileUrl`. */
export function appPages(devServerUrl: string | undefined, pageFileUrl: string): AppPages {
  return {
    isAppUrl(url) {
      if (devServerUrl !== undefined) {
        return url.startsWith(devServerUrl);
      }
      return url.startsWith('file://');
    },
    isAppPage(url) {
      const page = url.replace(/[?#].*$/, '');
      return devServerUrl !== undefined ? page.startsWith(devServerUrl) : page === pageFileUrl;
    },
  };
}

type Headers = Record<string, string[] | string>;

/** The part of a session's `webRequest` used here. */
export interface HeaderHook {
  webRequest: {
    onHeadersReceived(
      listener: (
        details: { url: string; responseHeaders?: Headers },
        callback: (response: { responseHeaders?: Headers }) => void,
      ) => void,
    ): void;
  };
}

/** Sets the app's CSP header (replacing any other) on every response for app content. */
export function installContentSecurityPolicy(
  ses: HeaderHook,
  isAppUrl: (url: string) => boolean,
): void {
  ses.webRequest.onHeadersReceived((details, callback) => {
    if (!isAppUrl(details.url)) {
      callback({ responseHeaders: details.responseHeaders });
      return;
    }
    const headers: Headers = { ...details.responseHeaders };
    for (const name of Object.keys(headers)) {
      if (name.toLowerCase() === 'content-security-policy') {
        delete headers[name];
      }
    }
    headers['Content-Security-Policy'] = [CONTENT_SECURITY_POLICY];
    callback({ responseHeaders: headers });
  });
}

/** Refuses every permission request: the app needs none. */
export function denyPermissions(ses: {
  setPermissionRequestHandler(
    handler: (contents: unknown, permission: string, callback: (granted: boolean) => void) => void,
  ): void;
}): void {
  ses.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
}

/** The part of a web contents {@link lockDownContents} uses. */
export interface LockableContents {
  on(
    event: 'will-navigate' | 'will-attach-webview',
    listener: (event: { preventDefault(): void }) => void,
  ): unknown;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' }): void;
}

/**
 * Keeps `contents` on the page it was loaded with: page-initiated navigation, new windows and
 * <webview> tags are all refused. Applied to every web contents the app creates.
 */
export function lockDownContents(contents: LockableContents): void {
  contents.on('will-navigate', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}
