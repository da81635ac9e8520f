/**
 * The WebSocket transport, client side (a browser, or Node with the `ws` package passed in).
 *
 * Web mode serves the contract at `/ws` on 127.0.0.1; the page's token travels as the `token`
 * query parameter (or the cookie set when the page loaded). No Node imports: the renderer
 * imports this file.
 */
import type { Disposer, LockstepClient } from './contract';
import { createClient, frameClientTransport, type FrameEndpoint } from './rpc-client';

/** The part of the WebSocket API this transport uses (the browser's and `ws` both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'close' | 'error', listener: (ev: unknown) => void): void;
  addEventListener(type: 'message', listener: (ev: { data: unknown }) => void): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** The path of the contract's WebSocket endpoint in web mode. */
export const WEBSOCKET_PATH = '/ws';

/** Wraps an open socket as a frame endpoint (binary frames are decoded as UTF-8). */
export function webSocketEndpoint(ws: WebSocketLike): FrameEndpoint {
  const frames = new Set<(f: string) => void>();
  const closes = new Set<() => void>();
  ws.addEventListener('message', (ev) => {
    const data = ev.data;
    const text =
      typeof data === 'string'
        ? data
        : data instanceof ArrayBuffer || ArrayBuffer.isView(data)
          ? new TextDecoder().decode(data as ArrayBuffer)
          : String(data);
    for (const l of frames) {
      l(text);
    }
  });
  ws.addEventListener('close', () => {
    for (const l of closes) {
      l();
    }
  });
  return {
    send: (frame) => ws.send(frame),
    onFrame(l): Disposer {
      frames.add(l);
      return () => frames.delete(l);
    },
    onClose(l): Disposer {
      closes.add(l);
      return () => closes.delete(l);
    },
  };
}

/**
 * The WebSocket URL of web mode for a page served by it: same host, path {@link WEBSOCKET_PATH},
 * and the page's `token` query parameter when it has one (else the cookie authorizes).
 */
export function webSocketUrlFor(page: { protocol: string; host: string; search: string }): string {
  const token = new URLSearchParams(page.search).get('token');
  const scheme = page.protocol === 'https:' ? 'wss' : 'ws';
  const query = token === null ? '' : `?token=${encodeURIComponent(token)}`;
  return `${scheme}://${page.host}${WEBSOCKET_PATH}${query}`;
}

/**
 * Connects to a web-mode server and returns the typed client once the socket is open.
 * Rejects when the socket cannot open (a refused token shows as a failed handshake).
 * `close()` closes the socket; calls pending then fail with "connection closed".
 */
export function connectWebSocket(
  url: string,
  WebSocketImpl?: WebSocketConstructor,
): Promise<LockstepClient & { close(): void; onClose(listener: () => void): Disposer }> {
  const Impl =
    WebSocketImpl ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? undefined;
  if (Impl === undefined) {
    return Promise.reject(new Error('no WebSocket implementation available'));
  }
  const ws = new Impl(url);
  const endpoint = webSocketEndpoint(ws);
  return new Promise((resolve, reject) => {
    let opened = false;
    ws.addEventListener('open', () => {
      opened = true;
      const client = createClient(frameClientTransport(endpoint));
      resolve(
        Object.assign(client, {
          close: () => ws.close(),
          onClose: (l: () => void) => endpoint.onClose(l),
        }),
      );
    });
    ws.addEventListener('error', () => {
      if (!opened) {
        reject(new Error(`cannot connect to ${url.replace(/token=[^&]*/, 'token=…')}`));
      }
    });
    ws.addEventListener('close', () => {
      if (!opened) {
        reject(new Error(`connection to ${url.replace(/token=[^&]*/, 'token=…')} was refused`));
      }
    });
  });
}
