/**
 * The BUILT preload (out/preload/index.cjs) under Electron's sandbox rules, end to end without the
 * Electron binary: it is loaded in a `vm` context whose `require` allows only `electron`,
 * `events`, `timers` and `url`; its `ipcRenderer` is joined to the main process's real IPC
 * endpoint (src/main/desktop/ipc-endpoint.ts) serving a real service on a temp store. Through
 * `window.lockstep` alone the test trains, continues and compares, and checks that the two paths
 * to step 60 are bitwise identical (I2 over the desktop wire).
 *
 * The preload built from a2a9e57 fails here: it does `require("zod")`, which the sandbox refuses.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { IPC_FRAME_CHANNEL, serveWindow } from '../../src/main/desktop/ipc-endpoint';
import type { LockstepHost } from '../../src/main/service/service';
import { ServiceError, type TrainResult } from '../../src/shared/contract';
import { bridgeClient, isFrameBridge } from '../../src/shared/rpc-bridge';
import { serveChannel } from '../../src/shared/rpc-server';
import { cleanup, fakeRun, Recorder, startService, tempDir } from '../contract/helpers';
import { fakeIpc, loadSandboxedPreload } from './electron-fakes';
import { BUILT_PRELOAD, ensureBuilt } from './helpers';

const PAGE = pathToFileURL(path.join(path.sep, 'app', 'out', 'renderer', 'index.html')).href;

let dir: string;
let service: LockstepHost;

before(async () => {
  ensureBuilt();
  dir = tempDir('lockstep-preload-');
  service = await startService(dir, { maxParallel: 1 });
});

after(async () => {
  await service.close();
  cleanup(dir);
});

test('the built preload requires nothing but electron', () => {
  const code = readFileSync(BUILT_PRELOAD, 'utf8');
  const required = [...code.matchAll(/require\(\s*["'`]([^"'`]+)["'`]\s*\)/g)].map((m) => m[1]);
  assert.deepEqual([...new Set(required)], ['electron']);
});

test('train → continue → compare through window.lockstep of the sandboxed preload', async () => {
  const ipc = fakeIpc();
  serveWindow(
    ipc.ipcMain,
    ipc.win,
    (url) => url === PAGE,
    (ep) => serveChannel(service, ep),
  );
  const page = loadSandboxedPreload(
    readFileSync(BUILT_PRELOAD, 'utf8'),
    ipc.renderer({ url: PAGE, parent: null }),
  );

  assert.deepEqual(Object.keys(page), ['lockstep'], 'the preload exposes one object');
  const bridge = page['lockstep'];
  assert.ok(isFrameBridge(bridge), 'window.lockstep is { send, onFrame }');
  assert.deepEqual(Object.keys(bridge).sort(), ['onFrame', 'send']);
  assert.equal(ipc.ipcMain.listenerCount(IPC_FRAME_CHANNEL), 1);

  const client = bridgeClient(bridge);
  const events = new Recorder(client);
  try {
    // errors cross as data: the code survives the bridge
    await assert.rejects(client.showCheckpoint({ ref: 'no-such-branch' }), (e: unknown) => {
      assert.ok(e instanceof ServiceError);
      assert.equal(e.code, 'BAD_REF');
      return true;
    });

    const run = fakeRun({ steps: 40, checkpointEvery: 20, evalEvery: 40, branch: 'ipc-a' });
    const a = await client.startRun(run);
    const fa = await events.finished(a.id);
    assert.equal(fa.error, undefined, JSON.stringify(fa.error));
    assert.ok(events.of('progress', a.id).length > 0, 'progress events arrive over IPC');

    const c = await client.continueRun({ ref: 'ipc-a', steps: 20 });
    const fc = await events.finished(c.id);
    assert.equal(fc.error, undefined, JSON.stringify(fc.error));
    const continued = fc.result as TrainResult;
    assert.equal(continued.step, 60);

    const b = await client.startRun({ ...run, steps: 60, branch: 'ipc-b' });
    const fb = await events.finished(b.id);
    assert.equal(fb.error, undefined, JSON.stringify(fb.error));
    const straight = fb.result as TrainResult;
    assert.equal(straight.stateHash, continued.stateHash, '0→40→60 equals 0→60');

    const report = await client.compare({ a: 'ipc-a', b: 'ipc-b' });
    assert.equal(report.identical, true);

    const graph = await client.listGraph({});
    const names = graph.flatMap((r) => r.branches.map((br) => br.name)).sort();
    assert.deepEqual(names, ['ipc-a', 'ipc-b']);
  } finally {
    events.dispose();
    ipc.win.close();
  }
  assert.equal(ipc.ipcMain.listenerCount(IPC_FRAME_CHANNEL), 0, 'closing the window unsubscribes');
});
