/**
 * The client half of the contract's wiring (after VS Code's `ipc.ts` channel client).
 *
 * - {@link frameClientTransport} speaks the frame protocol over any {@link FrameEndpoint} (a
 *   WebSocket, Electron IPC through the preload's bridge, one end of the in-memory pair):
 *   numbered calls out, replies matched by id, events dispatched.
 * - {@link createClient} builds a {@link LockstepClient} over any transport: one method per
 *   contract method, errors rebuilt as {@link ServiceError}, typed event subscriptions.
 *
 * No zod and no Node imports: the renderer bundles this file, so what it needs to check in a
 * server's message is done by the small type guard {@link parseServerMessage}. The server half
 * (schemas, validation, serving) is ./rpc-server.ts.
 */
import {
  ERROR_CODES,
  EVENT_NAMES,
  METHOD_NAMES,
  ServiceError,
  type Disposer,
  type ErrorCode,
  type EventName,
  type LockstepClient,
  type MethodName,
  type ServiceEvents,
  type WireError,
} from './contract';

/** The answer to one call. */
export type Reply = { ok: true; result: unknown } | { ok: false; error: WireError };

/** The client side of any transport. */
export interface ClientTransport {
  call(method: MethodName, params: unknown): Promise<Reply>;
  /** every event the server sends; returns a disposer */
  listen(listener: (event: EventName, payload: unknown) => void): Disposer;
}

/** A duplex of text frames (a WebSocket, Electron IPC, one end of the in-memory pair). */
export interface FrameEndpoint {
  send(frame: string): void;
  onFrame(listener: (frame: string) => void): Disposer;
  onClose(listener: () => void): Disposer;
}

/** A call frame, as the client sends it and the server's schema checks it. */
export interface CallFrame {
  type: 'call';
  id: number;
  method: string;
  params: unknown;
}

/** What a server may send over a frame endpoint. */
export type ServerMessage =
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number | null; error: WireError }
  | { type: 'event'; event: EventName; payload: unknown };

const EVENT_SET = new Set<string>(EVENT_NAMES);
const CODE_SET = new Set<string>(ERROR_CODES);

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A wire error as received: name and message strings; an unknown code becomes INTERNAL. */
function wireErrorOf(x: unknown): WireError | null {
  if (!isRecord(x) || typeof x.name !== 'string' || typeof x.message !== 'string') {
    return null;
  }
  const code = typeof x.code === 'string' && CODE_SET.has(x.code) ? (x.code as ErrorCode) : null;
  return { name: x.name, code: code ?? 'INTERNAL', message: x.message };
}

/**
 * A server's frame as a {@link ServerMessage}, or null when it is not one (not JSON, an unknown
 * type or event, a missing id). Never throws.
 */
export function parseServerMessage(frame: string): ServerMessage | null {
  let m: unknown;
  try {
    m = JSON.parse(frame);
  } catch {
    return null;
  }
  if (!isRecord(m)) {
    return null;
  }
  if (m.type === 'event') {
    return typeof m.event === 'string' && EVENT_SET.has(m.event)
      ? { type: 'event', event: m.event as EventName, payload: m.payload }
      : null;
  }
  if (m.type === 'result') {
    return typeof m.id === 'number' ? { type: 'result', id: m.id, result: m.result } : null;
  }
  if (m.type === 'error') {
    const error = wireErrorOf(m.error);
    const idOk = m.id === null || typeof m.id === 'number';
    return error !== null && idOk ? { type: 'error', id: m.id as number | null, error } : null;
  }
  return null;
}

function closedReply(): Reply {
  return {
    ok: false,
    error: {
      name: 'ServiceError',
      code: 'INTERNAL',
      message: 'connection to the Lockstep service closed',
    },
  };
}

/**
 * The client half over a frame endpoint: numbered calls, replies matched by id, events
 * dispatched. Calls pending when the endpoint closes fail with INTERNAL "connection closed".
 */
export function frameClientTransport(endpoint: FrameEndpoint): ClientTransport {
  let nextId = 1;
  let closed = false;
  const pending = new Map<number, (r: Reply) => void>();
  const listeners = new Set<(event: EventName, payload: unknown) => void>();
  endpoint.onFrame((frame) => {
    const msg = typeof frame === 'string' ? parseServerMessage(frame) : null;
    if (msg === null) {
      return;
    }
    if (msg.type === 'event') {
      for (const l of listeners) {
        l(msg.event, msg.payload);
      }
      return;
    }
    if (msg.id === null) {
      return;
    }
    const resolve = pending.get(msg.id);
    if (resolve === undefined) {
      return;
    }
    pending.delete(msg.id);
    resolve(
      msg.type === 'result' ? { ok: true, result: msg.result } : { ok: false, error: msg.error },
    );
  });
  endpoint.onClose(() => {
    closed = true;
    for (const resolve of pending.values()) {
      resolve(closedReply());
    }
    pending.clear();
  });
  return {
    call(method, params) {
      if (closed) {
        return Promise.resolve(closedReply());
      }
      const id = nextId++;
      return new Promise<Reply>((resolve) => {
        pending.set(id, resolve);
        try {
          const call: CallFrame = { type: 'call', id, method, params };
          endpoint.send(JSON.stringify(call));
        } catch (e) {
          pending.delete(id);
          resolve({
            ok: false,
            error: {
              name: 'ServiceError',
              code: 'INTERNAL',
              message: `cannot send: ${(e as Error).message}`,
            },
          });
        }
      });
    },
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/**
 * A typed client over `transport`: one method per contract method, rejecting with a
 * {@link ServiceError} rebuilt from the wire.
 */
export function createClient(transport: ClientTransport): LockstepClient {
  const listeners = new Map<EventName, Set<(payload: never) => void>>();
  let listening: Disposer | null = null;
  const ensureListening = (): void => {
    listening ??= transport.listen((event, payload) => {
      for (const l of listeners.get(event) ?? []) {
        try {
          l(payload as never);
        } catch (e) {
          console.error(`lockstep: a '${event}' listener threw`, e);
        }
      }
    });
  };
  const client: Record<string, unknown> = {};
  for (const method of METHOD_NAMES) {
    client[method] = async (req: unknown): Promise<unknown> => {
      const reply = await transport.call(method, req ?? {});
      if (reply.ok) {
        return reply.result;
      }
      throw new ServiceError(reply.error.code, reply.error.message, reply.error.name);
    };
  }
  client.on = <E extends EventName>(
    event: E,
    listener: (payload: ServiceEvents[E]) => void,
  ): Disposer => {
    if (!EVENT_SET.has(event)) {
      throw new ServiceError('BAD_INPUT', `unknown event '${String(event)}'`);
    }
    ensureListening();
    let set = listeners.get(event);
    if (set === undefined) {
      set = new Set();
      listeners.set(event, set);
    }
    set.add(listener as (payload: never) => void);
    return () => {
      set.delete(listener as (payload: never) => void);
    };
  };
  return client as unknown as LockstepClient;
}
