/**
 * The main process's IPC endpoint (src/main/desktop/ipc-endpoint.ts) on its own: one channel per
 * page load, so a reloaded page never receives a reply meant for the page before it; frames that
 * are not strings, or come from another frame, never reach the channel.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IPC_FRAME_CHANNEL, serveWindow } from '../../src/main/desktop/ipc-endpoint';
import type { FrameEndpoint } from '../../src/shared/rpc-client';
import { fakeIpc } from './electron-fakes';

const PAGE = 'file:///app/out/renderer/index.html';
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 10));

test('a reload opens a fresh channel; the old one is closed and its late sends are dropped', async () => {
  const ipc = fakeIpc();
  const endpoints: FrameEndpoint[] = [];
  const received: string[][] = [];
  let closed = 0;
  serveWindow(
    ipc.ipcMain,
    ipc.win,
    (u) => u === PAGE,
    (ep) => {
      const mine: string[] = [];
      received.push(mine);
      endpoints.push(ep);
      ep.onFrame((f) => mine.push(f));
      ep.onClose(() => closed++);
      return () => undefined;
    },
  );
  const page = ipc.renderer({ url: PAGE, parent: null });
  const got: string[] = [];
  page.on(IPC_FRAME_CHANNEL, (_e, f) => got.push(String(f)));

  page.send(IPC_FRAME_CHANNEL, 'one');
  await tick();
  assert.deepEqual(received, [['one']]);

  ipc.win.webContents.navigate();
  assert.equal(endpoints.length, 2, 'a new channel for the new document');
  assert.equal(closed, 1, 'the old channel closed');
  endpoints[0].send('late reply for the old page');
  endpoints[1].send('reply for the new page');
  page.send(IPC_FRAME_CHANNEL, 'two');
  await tick();
  assert.deepEqual(got, ['reply for the new page']);
  assert.deepEqual(received, [['one'], ['two']]);
  assert.equal(ipc.ipcMain.listenerCount(IPC_FRAME_CHANNEL), 1, 'one listener at a time');

  ipc.win.close();
  assert.equal(closed, 2);
  assert.equal(ipc.ipcMain.listenerCount(IPC_FRAME_CHANNEL), 0);
});

test('only string frames from the top frame of the app page reach the channel', async () => {
  const ipc = fakeIpc();
  const received: string[] = [];
  serveWindow(
    ipc.ipcMain,
    ipc.win,
    (u) => u === PAGE,
    (ep) => {
      ep.onFrame((f) => received.push(f));
      return () => undefined;
    },
  );
  ipc.renderer({ url: PAGE, parent: null }).send(IPC_FRAME_CHANNEL, { not: 'a string' });
  ipc.renderer({ url: PAGE, parent: {} }).send(IPC_FRAME_CHANNEL, 'from a subframe');
  ipc.renderer({ url: 'https://evil.example/', parent: null }).send(IPC_FRAME_CHANNEL, 'elsewhere');
  ipc.renderer({ url: PAGE, parent: null }, {}).send(IPC_FRAME_CHANNEL, 'other contents');
  ipc.renderer({ url: `${PAGE}?x=1#y`, parent: null }).send(IPC_FRAME_CHANNEL, 'ok');
  await tick();
  assert.deepEqual(received, []);
  ipc.renderer({ url: PAGE, parent: null }).send(IPC_FRAME_CHANNEL, 'ok');
  await tick();
  assert.deepEqual(received, ['ok']);
});
