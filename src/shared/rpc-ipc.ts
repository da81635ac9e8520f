/**
 * The Electron IPC transport, renderer side (used by the preload; no electron import here so
 * src/shared stays process-independent). Calls go through one invoke channel and return a
 * {@link Reply}; events arrive on one event channel. The main process's half is in
 * src/main/index.ts (sender check, then {@link handleCall}).
 */
import type { EventName } from './contract';
import type { ClientTransport, Reply } from './rpc';

/** The one invoke channel of every call: `{ method, params }` → Reply. */
export const IPC_CALL_CHANNEL = 'lockstep:call';
/** The one channel of every event: `{ event, payload }`. */
export const IPC_EVENT_CHANNEL = 'lockstep:event';

/** The part of Electron's `ipcRenderer` this transport uses. */
export interface IpcRendererLike {
  invoke(channel: string, arg: unknown): Promise<unknown>;
  on(channel: string, listener: (event: unknown, arg: unknown) => void): unknown;
  removeListener(channel: string, listener: (event: unknown, arg: unknown) => void): unknown;
}

/** A client transport over Electron IPC. */
export function ipcClientTransport(ipc: IpcRendererLike): ClientTransport {
  return {
    async call(method, params) {
      return (await ipc.invoke(IPC_CALL_CHANNEL, { method, params })) as Reply;
    },
    listen(listener) {
      const onEvent = (_e: unknown, arg: unknown): void => {
        const m = arg as { event: EventName; payload: unknown };
        listener(m.event, m.payload);
      };
      ipc.on(IPC_EVENT_CHANNEL, onEvent);
      return () => {
        ipc.removeListener(IPC_EVENT_CHANNEL, onEvent);
      };
    },
  };
}
