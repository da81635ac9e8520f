/**
 * The preload script: the only bridge between the sandboxed renderer and the main process.
 *
 * For now it exposes one frozen placeholder, `window.lockstep = { version }`. It will be replaced
 * by the typed client generated from the contract in `src/shared/`; nothing else is exposed.
 */
import { contextBridge } from 'electron';

/** What the preload puts on `window.lockstep` (placeholder until the contract client exists). */
export interface LockstepBridge {
  /** The app version (package.json), fixed at build time. */
  readonly version: string;
}

const bridge: LockstepBridge = Object.freeze({ version: __LOCKSTEP_VERSION__ });

contextBridge.exposeInMainWorld('lockstep', bridge);
