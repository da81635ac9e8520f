/**
 * Electron IPC as one more {@link FrameEndpoint} (after VS Code's `ipc.electron.ts`): the main
 * process serves the service over it with the same `serveChannel` call as web mode.
 *
 * Promises:
 * - One channel, {@link IPC_FRAME_CHANNEL}, carries text frames both ways. The preload
 *   (src/preload/index.ts) uses the same string; the preload test drives one against the other.
 * - A frame is accepted only from the window's own web contents, from its top frame, showing
 *   the app's page (`isAppPage`), and only when it is a string. Anything else is dropped
 *   unanswered: an answer would go to the app's page and could match one of its own call ids.
 * - {@link serveWindow} serves one channel per page load: a reload or a navigation of the main
 *   frame closes the old channel (its late replies are dropped) and opens a new one, so a new
 *   page never receives the replies of the page before it. Closing the window closes it for good.
 *
 * The Electron objects come in as parameters (structural types below), so this module is tested
 * in Node with plain objects.
 */
import type { Disposer } from '../../shared/contract';
import type { FrameEndpoint } from '../../shared/rpc-client';

/** The one IPC channel of every frame (repeated in src/preload/index.ts, which imports only electron). */
export const IPC_FRAME_CHANNEL = 'lockstep:frame';

/** The part of an IPC event this module reads. */
export interface IpcFrameEvent {
  sender: unknown;
  senderFrame: { url: string; parent: unknown } | null;
}

/** The part of Electron's `ipcMain` this module uses. */
export interface IpcMainLike {
  on(channel: string, listener: (event: IpcFrameEvent, frame: unknown) => void): unknown;
  removeListener(
    channel: string,
    listener: (event: IpcFrameEvent, frame: unknown) => void,
  ): unknown;
}

/** The part of a BrowserWindow this module uses. */
export interface FrameWindow {
  isDestroyed(): boolean;
  on(event: 'closed', listener: () => void): unknown;
  webContents: {
    send(channel: string, frame: string): void;
    on(
      event: 'did-start-navigation',
      listener: (details: { isMainFrame: boolean; isSameDocument: boolean }) => void,
    ): unknown;
  };
}

/** True when an IPC event comes from `win`'s top frame showing the app's page. */
export function senderAllowed(
  win: FrameWindow,
  event: IpcFrameEvent,
  isAppPage: (url: string) => boolean,
): boolean {
  const frame = event.senderFrame;
  return (
    !win.isDestroyed() &&
    event.sender === win.webContents &&
    frame !== null &&
    frame.parent === null &&
    isAppPage(frame.url)
  );
}

/**
 * A frame endpoint to `win` over `ipc` until `close()` (or the window closes). Frames from any
 * other sender are dropped and reported through `onRefused`.
 */
export function ipcEndpoint(
  ipc: IpcMainLike,
  win: FrameWindow,
  isAppPage: (url: string) => boolean,
  onRefused: (event: IpcFrameEvent) => void = () => undefined,
): FrameEndpoint & { close(): void } {
  const frames = new Set<(frame: string) => void>();
  const closes = new Set<() => void>();
  let open = true;
  const onIpc = (event: IpcFrameEvent, frame: unknown): void => {
    if (!senderAllowed(win, event, isAppPage)) {
      onRefused(event);
      return;
    }
    if (typeof frame !== 'string') {
      return;
    }
    for (const l of frames) {
      l(frame);
    }
  };
  const close = (): void => {
    if (!open) {
      return;
    }
    open = false;
    ipc.removeListener(IPC_FRAME_CHANNEL, onIpc);
    for (const l of closes) {
      l();
    }
  };
  ipc.on(IPC_FRAME_CHANNEL, onIpc);
  win.on('closed', close);
  return {
    send(frame) {
      if (open && !win.isDestroyed()) {
        win.webContents.send(IPC_FRAME_CHANNEL, frame);
      }
    },
    onFrame(l): Disposer {
      frames.add(l);
      return () => frames.delete(l);
    },
    onClose(l): Disposer {
      closes.add(l);
      return () => closes.delete(l);
    },
    close,
  };
}

/**
 * Serves `win` for its lifetime: `serve(endpoint)` (e.g. `serveChannel(service, endpoint)`) now
 * and again at every new document in its main frame, each time over a fresh endpoint. Returns a
 * disposer that stops serving.
 */
export function serveWindow(
  ipc: IpcMainLike,
  win: FrameWindow,
  isAppPage: (url: string) => boolean,
  serve: (endpoint: FrameEndpoint) => Disposer,
  onRefused?: (event: IpcFrameEvent) => void,
): Disposer {
  let current: { endpoint: ReturnType<typeof ipcEndpoint>; stop: Disposer } | null = null;
  let stopped = false;
  const closeCurrent = (): void => {
    if (current !== null) {
      current.stop();
      current.endpoint.close();
      current = null;
    }
  };
  const open = (): void => {
    closeCurrent();
    if (stopped || win.isDestroyed()) {
      return;
    }
    const endpoint = ipcEndpoint(ipc, win, isAppPage, onRefused);
    current = { endpoint, stop: serve(endpoint) };
  };
  win.webContents.on('did-start-navigation', (details) => {
    if (details.isMainFrame && !details.isSameDocument) {
      open();
    }
  });
  win.on('closed', () => {
    stopped = true;
    closeCurrent();
  });
  open();
  return () => {
    stopped = true;
    closeCurrent();
  };
}
