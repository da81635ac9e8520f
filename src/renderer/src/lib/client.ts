/**
 * How the UI gets its one LockstepClient (host abstraction, after Netron's desktop/browser split):
 * - in Electron, the preload exposes the typed client as `window.lockstep`;
 * - in a browser (web mode), the page connects to the same service over a WebSocket at `/ws` on
 *   the host that served it, with the page's token.
 * Nothing else: the UI never imports electron or the engine.
 */
import type { LockstepClient } from '../../../shared/contract';
import { connectWebSocket, webSocketUrlFor } from '../../../shared/rpc-websocket';

/** True when `x` looks like a full client (the preload's, once it exposes one). */
function isClient(x: unknown): x is LockstepClient {
  const c = x as Partial<LockstepClient> | undefined;
  return (
    typeof c === 'object' &&
    c !== null &&
    typeof c.listGraph === 'function' &&
    typeof c.on === 'function'
  );
}

export interface Connection {
  client: LockstepClient;
  mode: 'electron' | 'web';
  /** subscribe to the connection closing (web mode); returns a disposer */
  onClose(listener: () => void): () => void;
}

/** Connects to the service: the preload's client if present, else web mode's WebSocket. */
export async function connect(): Promise<Connection> {
  const bridged = (window as unknown as { lockstep?: unknown }).lockstep;
  if (isClient(bridged)) {
    return { client: bridged, mode: 'electron', onClose: () => () => undefined };
  }
  const ws = await connectWebSocket(webSocketUrlFor(window.location));
  return { client: ws, mode: 'web', onClose: (l) => ws.onClose(l) };
}
