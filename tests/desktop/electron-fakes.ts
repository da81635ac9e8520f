/**
 * In-process stand-ins for the two ends of Electron IPC, faithful where the app depends on them:
 * - {@link fakeIpc}: `ipcRenderer` (the preload's end) and `ipcMain` (the main process's end)
 *   joined through a window's `webContents`. Messages are structured-cloned and delivered a
 *   macrotask later, as across processes. Each renderer end has its own sender frame, so a test
 *   can speak as the app's page, as a subframe, or as another page.
 * - {@link bridgeCopy}: what `contextBridge.exposeInMainWorld` does to a value crossing worlds:
 *   functions are proxied (their arguments and results copied again), promises are re-made,
 *   errors lose every property but their message, other objects are copied.
 * - {@link loadSandboxedPreload}: runs a built preload in a fresh `vm` context whose `require`
 *   allows only what Electron's sandbox allows (`electron`, `events`, `timers`, `url`).
 */
import { createRequire } from 'node:module';
import vm from 'node:vm';
import type { IpcMainLike } from '../../src/main/desktop/ipc-endpoint';

type Listener = (event: unknown, ...args: unknown[]) => void;

/** The modules a sandboxed preload may require (Electron docs, "Process Sandboxing"). */
export const SANDBOX_MODULES = ['electron', 'events', 'timers', 'url'];

class ListenerMap {
  readonly map = new Map<string, Set<Listener>>();
  on(channel: string, l: Listener): void {
    let set = this.map.get(channel);
    if (set === undefined) {
      set = new Set();
      this.map.set(channel, set);
    }
    set.add(l);
  }
  off(channel: string, l: Listener): void {
    this.map.get(channel)?.delete(l);
  }
  emit(channel: string, event: unknown, args: unknown[]): void {
    for (const l of [...(this.map.get(channel) ?? [])]) {
      l(event, ...args);
    }
  }
}

export interface SenderFrame {
  url: string;
  parent: unknown;
}

/** A fake BrowserWindow with the parts the IPC endpoint uses. */
export interface FakeWindow {
  destroyed: boolean;
  isDestroyed(): boolean;
  on(event: 'closed', l: () => void): void;
  close(): void;
  webContents: {
    send(channel: string, ...args: unknown[]): void;
    on(event: string, l: (...a: never[]) => void): void;
    /** what a reload does: a new document in the main frame */
    navigate(): void;
  };
}

export interface FakeIpc {
  ipcMain: IpcMainLike & { listenerCount(channel: string): number };
  win: FakeWindow;
  /** a renderer end speaking as `frame` of `sender` (default: the window's own web contents) */
  renderer(
    frame: SenderFrame,
    sender?: unknown,
  ): {
    send(channel: string, ...args: unknown[]): void;
    on(channel: string, l: Listener): void;
    removeListener(channel: string, l: Listener): void;
    invoke(): Promise<never>;
  };
}

const later = (f: () => void): void => void setTimeout(f, 0);

/** A window and both IPC ends. */
export function fakeIpc(): FakeIpc {
  const main = new ListenerMap();
  const renderers = new Set<ListenerMap>();
  const closed = new Set<() => void>();
  const contentsEvents = new ListenerMap();
  const win: FakeWindow = {
    destroyed: false,
    isDestroyed: () => win.destroyed,
    on: (_event, l) => void closed.add(l),
    close() {
      win.destroyed = true;
      for (const l of closed) {
        l();
      }
    },
    webContents: {
      send(channel, ...args) {
        const copied = structuredClone(args);
        later(() => {
          for (const r of renderers) {
            r.emit(channel, { sender: null }, copied);
          }
        });
      },
      on: (event, l) => contentsEvents.on(event, l as unknown as Listener),
      navigate: () =>
        contentsEvents.emit(
          'did-start-navigation',
          { isMainFrame: true, isSameDocument: false },
          [],
        ),
    },
  };
  return {
    ipcMain: {
      on: (c, l) => main.on(c, l as Listener),
      removeListener: (c, l) => main.off(c, l as Listener),
      listenerCount: (c) => main.map.get(c)?.size ?? 0,
    },
    win,
    renderer(frame, sender = win.webContents) {
      const mine = new ListenerMap();
      renderers.add(mine);
      return {
        send(channel, ...args) {
          const copied = structuredClone(args);
          later(() => main.emit(channel, { sender, senderFrame: frame }, copied));
        },
        on: (c, l) => mine.on(c, l),
        removeListener: (c, l) => mine.off(c, l),
        invoke: () => Promise.reject(new Error('the preload must not use invoke')),
      };
    },
  };
}

/** A value as it arrives on the other side of Electron's contextBridge. */
export function bridgeCopy(v: unknown): unknown {
  if (typeof v === 'function') {
    return (...args: unknown[]) =>
      bridgeCopy((v as (...a: unknown[]) => unknown)(...args.map(bridgeCopy)));
  }
  if (v instanceof Promise) {
    return v.then(bridgeCopy, (e: unknown) => Promise.reject(bridgeCopy(e)));
  }
  if (v instanceof Error) {
    return new Error(v.message);
  }
  if (Array.isArray(v)) {
    return v.map(bridgeCopy);
  }
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      out[k] = bridgeCopy(x);
    }
    return out;
  }
  return v;
}

/**
 * Runs the preload `code` as Electron's sandbox would: CommonJS wrapper, `require` limited to
 * {@link SANDBOX_MODULES} (anything else throws "module not found"), `electron` = the given
 * `contextBridge` and `ipcRenderer`. Returns the page's world: what `exposeInMainWorld` put there.
 */
export function loadSandboxedPreload(code: string, ipcRenderer: unknown): Record<string, unknown> {
  const page: Record<string, unknown> = {};
  const electron = {
    contextBridge: {
      exposeInMainWorld(key: string, api: unknown) {
        page[key] = bridgeCopy(api);
      },
    },
    ipcRenderer,
  };
  const nodeRequire = createRequire(import.meta.url);
  const sandboxRequire = (name: string): unknown => {
    if (name === 'electron') {
      return electron;
    }
    if (SANDBOX_MODULES.includes(name)) {
      return nodeRequire(`node:${name}`);
    }
    throw new Error(`module not found: ${name}`);
  };
  const context = vm.createContext({ console });
  const wrapper = vm.runInContext(
    `(function (exports, require, module, process, Buffer, global) {${code}\n})`,
    context,
    { filename: 'preload/index.cjs' },
  ) as (...a: unknown[]) => void;
  const module = { exports: {} };
  wrapper(
    module.exports,
    sandboxRequire,
    module,
    { platform: process.platform },
    undefined,
    context,
  );
  return page;
}
