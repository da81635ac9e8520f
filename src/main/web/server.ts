/**
 * Web mode: the service over a WebSocket plus the built renderer, on 127.0.0.1 only.
 *
 * Promises:
 * - Listens on 127.0.0.1 (never another interface); port 0 picks a free port.
 * - Every HTTP request and the WebSocket upgrade must present the token: the `token` query
 *   parameter, or the cookie set when a page was loaded with it (so the page's assets and its
 *   socket are authorized). Without it: 401. The comparison is constant-time.
 * - The Host header must name the loopback server (DNS-rebinding guard), else 403; the WebSocket
 *   upgrade also refuses an Origin that is not a loopback origin (403). An upgrade authorized by
 *   the cookie alone must come from the exact origin of the served UI (scheme, host and port:
 *   `http://127.0.0.1:<port>` or `http://localhost:<port>`), else 403: cookies do not separate
 *   ports, so a page of another local web server would otherwise ride on them. The token itself
 *   in the socket's URL authorizes any loopback origin (whoever has it is the user).
 * - Static files are served from `rendererDir` only (GET/HEAD; no path escapes it), with the
 *   app's CSP, `nosniff` and `no-referrer` (the token never leaks in a Referer).
 * - Each socket is one {@link serveChannel}: a malformed frame gets an error reply, never a
 *   crash; frames above {@link MAX_FRAME} close that socket.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Disposer } from '../../shared/contract';
import { CONTENT_SECURITY_POLICY } from '../../shared/csp';
import { serveChannel, type FrameEndpoint, type ServedService } from '../../shared/rpc-server';
import { WEBSOCKET_PATH } from '../../shared/rpc-websocket';
import { MAX_FRAME } from '../../shared/schemas';

export const HOST = '127.0.0.1';

export interface WebServerOptions {
  service: ServedService;
  /** the built renderer (index.html and assets) */
  rendererDir: string;
  /** 0 (default) picks a free port */
  port?: number;
  /** fixed token (tests); default 32 random hex digits */
  token?: string;
}

export interface WebServer {
  url: string;
  port: number;
  token: string;
  /** closes every socket and the server (the service is the caller's to close) */
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
};

/** True for an Origin header value naming a loopback host (any port). */
export function isLoopbackOrigin(origin: string): boolean {
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return false;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    return false;
  }
  const h = u.hostname;
  return h === 'localhost' || h === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** True when `origin` is exactly the served UI's origin: http, 127.0.0.1 or localhost, `port`. */
export function isServedOrigin(origin: string, port: number): boolean {
  return origin === `http://${HOST}:${port}` || origin === `http://localhost:${port}`;
}

/** Starts web mode. */
export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const token = opts.token ?? randomBytes(16).toString('hex');
  const tokenBytes = Buffer.from(token);
  const root = resolve(opts.rendererDir);
  let port = 0;
  const cookieName = (): string => `lockstep_token_${port}`;

  const tokenOf = (req: IncomingMessage, url: URL): string | null => {
    const q = url.searchParams.get('token');
    if (q !== null) {
      return q;
    }
    return cookieToken(req);
  };
  const cookieToken = (req: IncomingMessage): string | null => {
    for (const part of (req.headers.cookie ?? '').split(';')) {
      const [k, ...v] = part.trim().split('=');
      if (k === cookieName()) {
        return v.join('=');
      }
    }
    return null;
  };
  const authorized = (given: string | null): boolean => {
    if (given === null) {
      return false;
    }
    const b = Buffer.from(given);
    return b.length === tokenBytes.length && timingSafeEqual(b, tokenBytes);
  };
  const hostOk = (req: IncomingMessage): boolean => {
    const host = req.headers.host ?? '';
    return host === `${HOST}:${port}` || host === `localhost:${port}`;
  };
  const parse = (req: IncomingMessage): URL | null => {
    try {
      return new URL(req.url ?? '/', `http://${HOST}:${port}`);
    } catch {
      return null;
    }
  };

  const server = createServer((req, res) => {
    void handleHttp(req, res).catch(() => {
      if (!res.headersSent) {
        res.writeHead(500).end();
      } else {
        res.destroy();
      }
    });
  });

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = parse(req);
    if (url === null || !hostOk(req)) {
      res.writeHead(403, { 'Content-Type': 'text/plain' }).end('Forbidden\n');
      return;
    }
    const given = tokenOf(req, url);
    if (!authorized(given)) {
      res
        .writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8' })
        .end('Unauthorized: open the URL printed by `lockstep serve` (it carries the token).\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    const headers: Record<string, string> = {
      'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'X-Frame-Options': 'DENY',
      'Cache-Control': 'no-store',
    };
    if (url.searchParams.has('token')) {
      headers['Set-Cookie'] = `${cookieName()}=${token}; HttpOnly; SameSite=Strict; Path=/`;
    }
    let rel: string;
    try {
      rel = decodeURIComponent(url.pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (rel.includes('\0')) {
      res.writeHead(400).end();
      return;
    }
    let file = resolve(join(root, rel === '/' ? 'index.html' : rel));
    if (file !== root && !file.startsWith(root + sep)) {
      res.writeHead(404, headers).end();
      return;
    }
    let st = await stat(file).catch(() => null);
    if (st?.isDirectory()) {
      file = join(file, 'index.html');
      st = await stat(file).catch(() => null);
    }
    if (st === null || !st.isFile()) {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('Not found\n');
      return;
    }
    headers['Content-Type'] = TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
    headers['Content-Length'] = String(st.size);
    res.writeHead(200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(file).pipe(res);
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME });
  const refuse = (socket: Duplex, status: number, text: string): void => {
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  };
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = parse(req);
    if (url === null || !hostOk(req)) {
      refuse(socket, 403, 'Forbidden');
      return;
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !isLoopbackOrigin(origin)) {
      refuse(socket, 403, 'Forbidden');
      return;
    }
    const byQuery = url.searchParams.has('token');
    if (!authorized(tokenOf(req, url))) {
      refuse(socket, 401, 'Unauthorized');
      return;
    }
    if (!byQuery && origin !== undefined && !isServedOrigin(origin, port)) {
      // the cookie alone, sent by a page of another local origin
      refuse(socket, 403, 'Forbidden');
      return;
    }
    if (url.pathname !== WEBSOCKET_PATH) {
      refuse(socket, 404, 'Not Found');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      serveChannel(opts.service, nodeSocketEndpoint(ws));
    });
  });

  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(opts.port ?? 0, HOST, () => {
      server.off('error', rej);
      res();
    });
  });
  port = (server.address() as AddressInfo).port;
  const url = `http://${HOST}:${port}/?token=${token}`;
  return {
    url,
    port,
    token,
    async close() {
      for (const ws of wss.clients) {
        ws.terminate();
      }
      await new Promise<void>((r) => wss.close(() => r()));
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A `ws` socket as a frame endpoint (binary frames are decoded as UTF-8). */
function nodeSocketEndpoint(ws: WebSocket): FrameEndpoint {
  ws.on('error', () => ws.terminate());
  return {
    send(frame) {
      if (ws.readyState === ws.OPEN) {
        ws.send(frame);
      }
    },
    onFrame(l): Disposer {
      const h = (data: Buffer | ArrayBuffer | Buffer[]): void => {
        const buf = Array.isArray(data)
          ? Buffer.concat(data)
          : Buffer.isBuffer(data)
            ? data
            : Buffer.from(data);
        l(buf.toString('utf8'));
      };
      ws.on('message', h);
      return () => ws.off('message', h);
    },
    onClose(l): Disposer {
      ws.on('close', l);
      return () => ws.off('close', l);
    },
  };
}
