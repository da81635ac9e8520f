/**
 * Web mode's doors: 127.0.0.1 only; every HTTP request and the WebSocket upgrade need the token
 * (query or the cookie set by an authorized page load); a non-loopback Origin or a foreign Host
 * is refused; static files never escape the renderer folder.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import type { LockstepHost } from '../../src/main/service/service';
import { isLoopbackOrigin, startWebServer, type WebServer } from '../../src/main/web/server';
import { cleanup, startService, stubRenderer, tempDir } from '../contract/helpers';

/** A raw GET (fetch cannot send a custom Host header). */
function get(
  port: number,
  pathname: string,
  headers: Record<string, string> = {},
): Promise<{
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: pathname, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens a socket; resolves 'open' or the refused HTTP status. */
function tryWs(url: string, headers: Record<string, string> = {}): Promise<'open' | number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.close();
      resolve('open');
    });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => resolve(0));
  });
}

describe('web mode authorization', () => {
  let dir: string;
  let service: LockstepHost;
  let server: WebServer;

  before(async () => {
    dir = tempDir('lockstep-web-');
    service = await startService(dir, { runner: 'inline' });
    server = await startWebServer({ service, rendererDir: stubRenderer(dir) });
  });

  after(async () => {
    await server.close();
    await service.close();
    cleanup(dir);
  });

  test('listens on 127.0.0.1 with a 32-hex-digit token in the URL', () => {
    assert.match(server.token, /^[0-9a-f]{32}$/);
    assert.equal(server.url, `http://127.0.0.1:${server.port}/?token=${server.token}`);
  });

  test('HTTP without the token, or with a wrong one: 401', async () => {
    assert.equal((await get(server.port, '/')).status, 401);
    assert.equal((await get(server.port, '/assets/app.js')).status, 401);
    assert.equal((await get(server.port, '/?token=' + '0'.repeat(32))).status, 401);
    assert.equal((await get(server.port, '/?token=short')).status, 401);
    const wrongCookie = await get(server.port, '/', {
      cookie: `lockstep_token_${server.port}=${'f'.repeat(32)}`,
    });
    assert.equal(wrongCookie.status, 401);
  });

  test('with the token: the page, a cookie, then assets by cookie', async () => {
    const page = await get(server.port, `/?token=${server.token}`);
    assert.equal(page.status, 200);
    assert.match(page.body, /stub/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
    const cookie = String(page.headers['set-cookie']).split(';')[0];
    assert.equal(cookie, `lockstep_token_${server.port}=${server.token}`);
    assert.match(String(page.headers['set-cookie']), /HttpOnly/);
    const asset = await get(server.port, '/assets/app.js', { cookie });
    assert.equal(asset.status, 200);
    assert.match(String(asset.headers['content-type']), /javascript/);
  });

  test('paths never escape the renderer folder', async () => {
    const t = `token=${server.token}`;
    for (const p of [
      '/../../package.json',
      '/%2e%2e/%2e%2e/package.json',
      '/assets/../../x',
      '/%00',
    ]) {
      const r = await get(server.port, `${p}?${t}`);
      assert.ok([400, 404].includes(r.status), `${p} → ${r.status}`);
    }
  });

  test('a foreign Host header is refused (DNS rebinding)', async () => {
    const r = await get(server.port, `/?token=${server.token}`, {
      host: `evil.example:${server.port}`,
    });
    assert.equal(r.status, 403);
  });

  test('WebSocket: token required, loopback Origin only', async () => {
    const base = `ws://127.0.0.1:${server.port}/ws`;
    assert.equal(await tryWs(base), 401);
    assert.equal(await tryWs(`${base}?token=${'0'.repeat(32)}`), 401);
    assert.equal(await tryWs(`${base}?token=${server.token}`), 'open');
    assert.equal(
      await tryWs(base, { cookie: `lockstep_token_${server.port}=${server.token}` }),
      'open',
      'the cookie authorizes the socket',
    );
    assert.equal(
      await tryWs(`${base}?token=${server.token}`, { origin: 'http://evil.example' }),
      403,
    );
    assert.equal(
      await tryWs(`${base}?token=${server.token}`, { origin: 'http://127.0.0.1.evil.example' }),
      403,
    );
    assert.equal(await tryWs(`${base}?token=${server.token}`, { origin: 'null' }), 403);
    assert.equal(
      await tryWs(`${base}?token=${server.token}`, { origin: `http://127.0.0.1:${server.port}` }),
      'open',
    );
    assert.equal(
      await tryWs(`${base}?token=${server.token}`, { origin: `http://localhost:${server.port}` }),
      'open',
    );
  });

  test('WebSocket: the cookie alone needs the served UI’s exact origin (scheme, host, port)', async () => {
    const base = `ws://127.0.0.1:${server.port}/ws`;
    const cookie = `lockstep_token_${server.port}=${server.token}`;
    const other = server.port === 65535 ? server.port - 1 : server.port + 1;
    for (const origin of [
      `http://127.0.0.1:${other}`,
      `http://localhost:${other}`,
      `http://127.8.8.8:${server.port}`,
      'http://127.8.8.8',
      `https://127.0.0.1:${server.port}`,
      `http://[::1]:${server.port}`,
    ]) {
      assert.equal(await tryWs(base, { cookie, origin }), 403, origin);
    }
    for (const origin of [`http://127.0.0.1:${server.port}`, `http://localhost:${server.port}`]) {
      assert.equal(await tryWs(base, { cookie, origin }), 'open', origin);
    }
    // the token itself on the socket authorizes another loopback origin
    assert.equal(
      await tryWs(`${base}?token=${server.token}`, { origin: `http://127.0.0.1:${other}` }),
      'open',
    );
  });

  test('isLoopbackOrigin', () => {
    assert.equal(isLoopbackOrigin('http://127.0.0.1:5173'), true);
    assert.equal(isLoopbackOrigin('http://localhost'), true);
    assert.equal(isLoopbackOrigin('http://[::1]:80'), true);
    assert.equal(isLoopbackOrigin('http://localhost.evil.example'), false);
    assert.equal(isLoopbackOrigin('file://'), false);
    assert.equal(isLoopbackOrigin('http://192.168.1.2'), false);
  });
});
