/**
 * A small typed event hub, the one listener registry of every process (no Node imports): `on`
 * returns a disposer; a throwing listener does not stop others.
 */
import type { Disposer } from './contract';

export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<(payload: never) => void>>();

  on<E extends keyof Events>(event: E, listener: (payload: Events[E]) => void): Disposer {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as (payload: never) => void);
    return () => {
      set.delete(listener as (payload: never) => void);
    };
  }

  emit<E extends keyof Events>(event: E, payload: Events[E]): void {
    for (const l of this.listeners.get(event) ?? []) {
      try {
        (l as (p: Events[E]) => void)(payload);
      } catch (e) {
        console.error(`lockstep: a '${String(event)}' listener threw`, e);
      }
    }
  }
}
