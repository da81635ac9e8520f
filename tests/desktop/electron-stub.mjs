/**
 * The `electron` module as tests/desktop/main-wiring.test.ts builds it: the test puts its fake
 * API on `globalThis.__lockstepElectronStub` before importing src/main/index.ts, and this module
 * re-exports it under Electron's names.
 */
const stub = globalThis.__lockstepElectronStub;
if (stub === undefined) {
  throw new Error('electron-stub.mjs: the test did not set globalThis.__lockstepElectronStub');
}
export const { app, BrowserWindow, dialog, ipcMain, Menu, session, utilityProcess } = stub;
export default stub;
