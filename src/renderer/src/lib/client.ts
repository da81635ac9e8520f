/**
 * How the UI gets its one LockstepClient (host abstraction, after Netron's desktop/browser split),
 * built from the contract the same way in both hosts:
 * - in Electron, over the preload's frame bridge `window.lockstep` (src/shared/rpc-bridge.ts);
 * - in a browser (web mode), over a WebSocket at `/ws` on the host that served the page, with
 *   the page's token.
 * Nothing else: the UI never imports electron or the engine.
 */
import type { LockstepClient } from '../../../shared/contract';
import { bridgeClient, isFrameBridge } from '../../../shared/rpc-bridge';
import { connectWebSocket, webSocketUrlFor } from '../../../shared/rpc-websocket';

export interface Connection {
  client: LockstepClient;
  mode: 'electron' | 'web';
  /** subscribe to the connection closing (web mode); returns a disposer */
  onClose(listener: () => void): () => void;
}

/** Connects to the service: over the preload's bridge if present, else web mode's WebSocket. */
export async function connect(): Promise<Connection> {
  const bridge = (window as unknown as { lockstep?: unknown }).lockstep;
  if (isFrameBridge(bridge)) {
    return { client: bridgeClient(bridge), mode: 'electron', onClose: () => () => undefined };
  }
  const ws = await connectWebSocket(webSocketUrlFor(window.location));
  return { client: ws, mode: 'web', onClose: (l) => ws.onClose(l) };
}
