/**
 * `npx lockstep serve`: prints the URL first and `{ url, port, token }` last with --json, serves
 * the contract over the WebSocket, refuses to start without a built UI, and exits cleanly on
 * Ctrl-C.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import WebSocket from 'ws';
import { connectWebSocket, type WebSocketConstructor } from '../../src/shared/rpc-websocket';
import { cleanup, stubRenderer, tempDir } from '../contract/helpers';

const BIN = path.join(import.meta.dirname, '..', '..', 'bin', 'lockstep.mjs');

test('serve --port 0 --json: URL first, JSON last, the contract over WebSocket, Ctrl-C exits 0', async () => {
  const dir = tempDir('lockstep-serve-');
  const ui = stubRenderer(dir);
  const proc = spawn(
    process.execPath,
    [BIN, '--store', path.join(dir, 'store'), '--json', 'serve', '--port', '0', '--ui', ui],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const lines = await new Promise<string[]>((resolve, reject) => {
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const ls = out.split('\n').filter((l) => l !== '');
      if (ls.length >= 2) {
        resolve(ls);
      }
    });
    proc.on('exit', () => reject(new Error(`serve exited early: ${out} ${err}`)));
  });
  const m = /^Lockstep web mode: (http:\/\/127\.0\.0\.1:(\d+)\/\?token=([0-9a-f]{32}))$/.exec(
    lines[0],
  );
  assert.ok(m, lines[0]);
  const json = JSON.parse(lines[1]) as { url: string; port: number; token: string };
  assert.deepEqual(json, { url: m[1], port: Number(m[2]), token: m[3] });

  const client = await connectWebSocket(
    `ws://127.0.0.1:${json.port}/ws?token=${json.token}`,
    WebSocket as unknown as WebSocketConstructor,
  );
  const info = await client.storeInfo({});
  assert.equal(info.runs, 0);
  client.close();
  await assert.rejects(
    connectWebSocket(
      `ws://127.0.0.1:${json.port}/ws`,
      WebSocket as unknown as WebSocketConstructor,
    ),
  );

  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  proc.kill('SIGINT');
  assert.equal(await exited, 0);
  cleanup(dir);
});

test('serve without a built UI: exit 2 and one line telling to run npm run build', () => {
  const dir = tempDir('lockstep-serve-');
  const r = spawnSync(
    process.execPath,
    [
      BIN,
      '--store',
      path.join(dir, 'store'),
      'serve',
      '--port',
      '0',
      '--ui',
      path.join(dir, 'nothing'),
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 2);
  assert.match(r.stderr, /npm run build/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  cleanup(dir);
});

test('serve exits when the process that started it is killed (npx does not forward signals)', async () => {
  const dir = tempDir('lockstep-serve-parent-');
  const ui = stubRenderer(dir);
  // a parent like `npm exec`: starts serve, prints its pid and port, then waits
  const parentScript = `
    const { spawn } = require('node:child_process');
    const c = spawn(process.execPath, ${JSON.stringify([BIN, '--store', path.join(dir, 'store'), '--json', 'serve', '--port', '0', '--ui', ui])}, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => { out += d; const l = out.split('\\n').filter(Boolean); if (l.length >= 2) { process.stdout.write(JSON.stringify({ pid: c.pid, port: JSON.parse(l[1]).port }) + '\\n'); } });
    setInterval(() => {}, 1000);
  `;
  const parent = spawn(process.execPath, ['-e', parentScript], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const info = await new Promise<{ pid: number; port: number }>((resolve, reject) => {
    let out = '';
    parent.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) {
        resolve(JSON.parse(out.split('\n')[0]) as { pid: number; port: number });
      }
    });
    parent.on('exit', () => reject(new Error('parent exited early')));
  });
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  assert.ok(alive(info.pid));
  parent.kill('SIGKILL'); // like `kill -TERM <npm exec>`: the child gets no signal
  const deadline = Date.now() + 20_000;
  while (alive(info.pid) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
  }
  const stillAlive = alive(info.pid);
  if (stillAlive) {
    process.kill(info.pid, 'SIGKILL');
  }
  assert.equal(stillAlive, false, 'serve outlived its parent and kept its port');
  cleanup(dir);
});
