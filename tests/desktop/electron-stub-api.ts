/**
 * A recording stand-in for the parts of the `electron` main-process API the shell uses (app,
 * BrowserWindow, dialog, ipcMain, Menu, session, utilityProcess). It does nothing on its own: it
 * records what the shell asks for and lets the test play Electron's part (fire `ready`, create
 * web contents, send IPC frames as a given frame, click a menu item, quit).
 */
import { EventEmitter } from 'node:events';

type AnyFn = (...args: never[]) => unknown;

export interface SentFrame {
  channel: string;
  frame: unknown;
}

/** A fake web contents: an event emitter with the methods the shell calls. */
export class FakeWebContents extends EventEmitter {
  readonly sent: SentFrame[] = [];
  windowOpenHandler: ((d: { url: string }) => { action: string }) | null = null;
  reloads = 0;
  send(channel: string, frame: unknown): void {
    this.sent.push({ channel, frame });
  }
  setWindowOpenHandler(h: (d: { url: string }) => { action: string }): void {
    this.windowOpenHandler = h;
  }
  reload(): void {
    this.reloads++;
    this.emit('did-start-navigation', { isMainFrame: true, isSameDocument: false });
  }
}

export class FakeWindow extends EventEmitter {
  static all: FakeWindow[] = [];
  static getAllWindows(): FakeWindow[] {
    return FakeWindow.all.filter((w) => !w.destroyed);
  }
  readonly webContents = new FakeWebContents();
  destroyed = false;
  shown = false;
  loaded: { file?: string; url?: string } = {};
  constructor(readonly options: Record<string, unknown>) {
    super();
    FakeWindow.all.push(this);
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
  isMinimized(): boolean {
    return false;
  }
  restore(): void {}
  focus(): void {}
  show(): void {
    this.shown = true;
  }
  async loadFile(file: string): Promise<void> {
    this.loaded = { file };
    this.webContents.emit('did-start-navigation', { isMainFrame: true, isSameDocument: false });
  }
  async loadURL(url: string): Promise<void> {
    this.loaded = { url };
    this.webContents.emit('did-start-navigation', { isMainFrame: true, isSameDocument: false });
  }
  close(): void {
    this.destroyed = true;
    this.emit('closed');
  }
}

export interface ElectronStub {
  app: EventEmitter & Record<string, AnyFn | unknown>;
  BrowserWindow: typeof FakeWindow;
  dialog: Record<string, AnyFn>;
  ipcMain: EventEmitter;
  Menu: Record<string, AnyFn>;
  session: { defaultSession: Record<string, unknown> };
  utilityProcess: Record<string, AnyFn>;
  /** what the shell did, in order */
  calls: string[];
  paths: Record<string, string>;
  singleInstance: boolean;
  quits: number;
  exits: number[];
  errorBoxes: string[];
  menuTemplate: unknown[] | null;
  headersHook: ((details: unknown, cb: (r: unknown) => void) => void) | null;
  permissionHandler: ((c: unknown, p: string, cb: (granted: boolean) => void) => void) | null;
  /** the folder File › Open store… will "pick" */
  nextOpenDialog: string[];
  /** fires `ready` */
  ready(): void;
}

/** A fresh stub; `appData` is what `app.getPath('appData')` returns. */
export function electronStub(appData: string): ElectronStub {
  let readyResolve: () => void = () => undefined;
  const whenReady = new Promise<void>((r) => (readyResolve = r));
  const app = new EventEmitter() as ElectronStub['app'];
  const stub: ElectronStub = {
    app,
    BrowserWindow: FakeWindow,
    dialog: {},
    ipcMain: new EventEmitter(),
    Menu: {},
    session: { defaultSession: {} },
    utilityProcess: {
      fork: () => {
        throw new Error('the wiring test starts no job');
      },
    },
    calls: [],
    paths: { appData },
    singleInstance: true,
    quits: 0,
    exits: [],
    errorBoxes: [],
    menuTemplate: null,
    headersHook: null,
    permissionHandler: null,
    nextOpenDialog: [],
    ready: () => readyResolve(),
  };
  FakeWindow.all = [];
  Object.assign(app, {
    setPath(name: string, value: string) {
      stub.calls.push(`setPath ${name}`);
      stub.paths[name] = value;
    },
    getPath(name: string) {
      const p = stub.paths[name];
      if (p === undefined) {
        throw new Error(`no path ${name}`);
      }
      return p;
    },
    requestSingleInstanceLock() {
      stub.calls.push('requestSingleInstanceLock');
      return stub.singleInstance;
    },
    quit() {
      stub.quits++;
      const event = {
        defaultPrevented: false,
        preventDefault: () => (event.defaultPrevented = true),
      };
      app.emit('before-quit', event);
    },
    exit(code: number) {
      stub.exits.push(code);
    },
    whenReady: () => whenReady,
    getVersion: () => '0.0.0-test',
  });
  stub.dialog = {
    showErrorBox: (title: string, text: string) => void stub.errorBoxes.push(`${title}: ${text}`),
    showOpenDialog: async () => ({
      canceled: stub.nextOpenDialog.length === 0,
      filePaths: stub.nextOpenDialog,
    }),
    showMessageBox: async () => ({ response: 0 }),
  };
  stub.Menu = {
    buildFromTemplate: (t: unknown[]) => {
      stub.menuTemplate = t;
      return { template: t };
    },
    setApplicationMenu: () => void stub.calls.push('setApplicationMenu'),
  };
  stub.session.defaultSession = {
    webRequest: {
      onHeadersReceived: (h: ElectronStub['headersHook']) => void (stub.headersHook = h),
    },
    setPermissionRequestHandler: (h: ElectronStub['permissionHandler']) =>
      void (stub.permissionHandler = h),
  };
  return stub;
}
