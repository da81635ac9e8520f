/**
 * The Electron transport, renderer side: the preload's `window.lockstep` bridge
 * (`{ send(frame), onFrame(listener) }`, src/preload/index.ts) as a {@link FrameEndpoint}, so the
 * renderer builds its client with `createClient(frameClientTransport(...))` exactly as web mode
 * does over its WebSocket.
 *
 * No zod, no Node, no electron: the renderer bundles this file.
 */
import type { Disposer, LockstepClient } from './contract';
import { createClient, frameClientTransport, type FrameEndpoint } from './rpc-client';

/** What the preload exposes as `window.lockstep`. */
export interface FrameBridge {
  send(frame: string): void;
  /** returns a disposer */
  onFrame(listener: (frame: string) => void): () => void;
}

/** True when `x` has the shape of the preload's bridge. */
export function isFrameBridge(x: unknown): x is FrameBridge {
  const b = x as Partial<FrameBridge> | null | undefined;
  return (
    typeof b === 'object' &&
    b !== null &&
    typeof b.send === 'function' &&
    typeof b.onFrame === 'function'
  );
}

/**
 * The bridge as a frame endpoint. It never reports a close: the page and its IPC channel end
 * together (a reload gets a fresh channel from the main process).
 */
export function bridgeEndpoint(bridge: FrameBridge): FrameEndpoint {
  return {
    send: (frame) => bridge.send(frame),
    onFrame: (listener): Disposer => bridge.onFrame(listener),
    onClose: (): Disposer => () => undefined,
  };
}

/** The typed client over the preload's bridge. */
export function bridgeClient(bridge: FrameBridge): LockstepClient {
  return createClient(frameClientTransport(bridgeEndpoint(bridge)));
}
