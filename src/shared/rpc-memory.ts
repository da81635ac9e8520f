/**
 * The in-memory transport (tests): two connected frame endpoints. Frames are delivered
 * asynchronously (a macrotask later), as over a real wire, so ordering bugs show up here too.
 */
import type { Disposer, LockstepClient } from './contract';
import { createClient, frameClientTransport, type FrameEndpoint } from './rpc-client';
import { serveChannel, type ServedService } from './rpc-server';

/** Two endpoints: what one sends, the other receives. Closing either closes both. */
export function memoryPair(): [FrameEndpoint, FrameEndpoint] {
  const frameListeners = [new Set<(f: string) => void>(), new Set<(f: string) => void>()];
  const closeListeners = [new Set<() => void>(), new Set<() => void>()];
  let closed = false;
  const close = (): void => {
    if (closed) {
      return;
    }
    closed = true;
    for (const set of closeListeners) {
      for (const l of set) {
        l();
      }
    }
  };
  const end = (me: 0 | 1): FrameEndpoint & { close(): void } => ({
    send(frame) {
      if (closed) {
        throw new Error('endpoint closed');
      }
      setTimeout(() => {
        if (!closed) {
          for (const l of frameListeners[1 - me]) {
            l(frame);
          }
        }
      }, 0);
    },
    onFrame(l): Disposer {
      frameListeners[me].add(l);
      return () => frameListeners[me].delete(l);
    },
    onClose(l): Disposer {
      closeListeners[me].add(l);
      return () => closeListeners[me].delete(l);
    },
    close,
  });
  return [end(0), end(1)];
}

/**
 * A client connected to `service` over an in-memory pair; `close()` disconnects it (the
 * service keeps running).
 */
export function memoryClient(service: ServedService): LockstepClient & { close(): void } {
  const [a, b] = memoryPair();
  serveChannel(service, b);
  const client = createClient(frameClientTransport(a));
  return Object.assign(client, { close: () => (a as FrameEndpoint & { close(): void }).close() });
}
