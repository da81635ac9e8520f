/**
 * The preload script: the only bridge between the sandboxed renderer and the main process.
 *
 * It exposes exactly one object, `window.lockstep` = `{ send(frame), onFrame(listener) }`: text
 * frames over one IPC channel, and nothing else (no ipcRenderer, no Node). The renderer builds
 * the typed client on it exactly as in web mode (src/shared/rpc-bridge.ts); the main process
 * serves the service on the other end with the same call as web mode
 * (src/main/desktop/ipc-endpoint.ts).
 *
 * It imports nothing but `electron`: a sandboxed preload may only require `electron`, `events`,
 * `timers` and `url`, and tests/desktop/preload-sandbox.test.ts loads the built file under that
 * rule. So the channel name is written here once more; that test drives this preload against the
 * main side's constant, so the two cannot drift apart unnoticed.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';

/** Must equal IPC_FRAME_CHANNEL in src/main/desktop/ipc-endpoint.ts. */
const CHANNEL = 'lockstep:frame';

contextBridge.exposeInMainWorld(
  'lockstep',
  Object.freeze({
    send(frame: string): void {
      if (typeof frame === 'string') {
        ipcRenderer.send(CHANNEL, frame);
      }
    },
    onFrame(listener: (frame: string) => void): () => void {
      const onMessage = (_event: IpcRendererEvent, frame: unknown): void => {
        if (typeof frame === 'string') {
          listener(frame);
        }
      };
      ipcRenderer.on(CHANNEL, onMessage);
      return () => {
        ipcRenderer.removeListener(CHANNEL, onMessage);
      };
    },
  }),
);
