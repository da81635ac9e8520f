/**
 * The preload script: the only bridge between the sandboxed renderer and the main process.
 *
 * It exposes exactly one object, `window.lockstep`: the typed {@link LockstepClient} generated
 * from the contract over Electron IPC (src/shared/rpc.ts + rpc-ipc.ts). Nothing else — no
 * ipcRenderer, no Node.
 *
 * contextBridge copies errors without their custom properties, so a failed call rejects with an
 * Error whose message is `[CODE] message`; `ServiceError.from(e)` (src/shared/contract.ts)
 * rebuilds the ServiceError in the renderer.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { METHOD_NAMES, ServiceError, type LockstepClient } from '../shared/contract';
import { createClient } from '../shared/rpc';
import { ipcClientTransport } from '../shared/rpc-ipc';

const client = createClient(ipcClientTransport(ipcRenderer));

const bridged: Record<string, unknown> = {};
for (const method of METHOD_NAMES) {
  const call = client[method] as (req: unknown) => Promise<unknown>;
  bridged[method] = (req: unknown): Promise<unknown> =>
    call(req).catch((e: unknown) => {
      const err = ServiceError.from(e);
      throw new Error(`[${err.code}] ${err.message}`);
    });
}
bridged.on = client.on;

contextBridge.exposeInMainWorld('lockstep', Object.freeze(bridged) as unknown as LockstepClient);
