/**
 * Transport-independent wiring of the contract (after VS Code's `ipc.ts` channels).
 *
 * A transport offers `call(method, params) → Reply` and `listen(listener)` for events. The
 * helpers here generate both sides from the contract's method list, so nobody writes a channel
 * per method:
 * - {@link handleCall} is the server's one entry for a call that arrived from anywhere: it
 *   refuses unknown methods and invalid params (schema of the method, prototype-pollution keys)
 *   before the service sees them, and turns every error into a {@link WireError}.
 * - {@link serveChannel} serves a service over a frame endpoint (a WebSocket, the in-memory
 *   pair): JSON frames in, replies and events out. A frame that cannot be a call gets an error
 *   reply (id null when none can be read); nothing a client sends can stop the channel.
 * - {@link createClient} builds a {@link LockstepClient} over any transport: one method per
 *   contract method, errors rebuilt as {@link ServiceError}, typed event subscriptions.
 * - {@link frameClientTransport} is the client half over a frame endpoint.
 *
 * No Node imports: the renderer and the preload import this file.
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
  type LockstepService,
  type MethodName,
  type ServiceEvents,
  type WireError,
} from './contract';
import {
  callMessage,
  issuesText,
  MAX_FRAME,
  payloadProblem,
  REQUEST_SCHEMAS,
  serverMessage,
  type ServerMessage,
} from './schemas';
import { LockstepError, toWireError } from './errors';

/** The answer to one call. */
export type Reply = { ok: true; result: unknown } | { ok: false; error: WireError };

/** The client side of any transport. */
export interface ClientTransport {
  call(method: MethodName, params: unknown): Promise<Reply>;
  /** every event the server sends; returns a disposer */
  listen(listener: (event: EventName, payload: unknown) => void): Disposer;
}

/** A duplex of text frames (a WebSocket, one end of the in-memory pair). */
export interface FrameEndpoint {
  send(frame: string): void;
  onFrame(listener: (frame: string) => void): Disposer;
  onClose(listener: () => void): Disposer;
}

/** What a server serves: the service methods plus its events. */
export type ServedService = LockstepService & {
  on<E extends EventName>(event: E, listener: (payload: ServiceEvents[E]) => void): Disposer;
};

const METHOD_SET = new Set<string>(METHOD_NAMES);
const EVENT_SET = new Set<string>(EVENT_NAMES);

export { toWireError } from './errors';

function fail(code: ErrorCode, message: string): Reply {
  return { ok: false, error: { name: 'ServiceError', code, message } };
}

/**
 * Validates and runs one call against `service`. Never throws: every failure is a Reply.
 * `method` and `params` are untrusted.
 */
export async function handleCall(
  service: LockstepService,
  method: unknown,
  params: unknown,
): Promise<Reply> {
  if (typeof method !== 'string' || !METHOD_SET.has(method)) {
    const shown = typeof method === 'string' ? `'${method.slice(0, 64)}'` : typeof method;
    return fail('UNKNOWN_METHOD', `unknown method ${shown}`);
  }
  const name = method as MethodName;
  const problem = payloadProblem(params);
  if (problem !== null) {
    return fail('BAD_INPUT', `invalid params for ${name}: ${problem}`);
  }
  const parsed = REQUEST_SCHEMAS[name].safeParse(params);
  if (!parsed.success) {
    return fail('BAD_INPUT', `invalid params for ${name}: ${issuesText(parsed.error)}`);
  }
  try {
    const fn = service[name] as (req: unknown) => Promise<unknown>;
    const result = await fn.call(service, parsed.data);
    return { ok: true, result };
  } catch (e) {
    return { ok: false, error: toWireError(e) };
  }
}

/**
 * Serves `service` over a frame endpoint until it closes: JSON calls in, replies and every
 * service event out. Returns a disposer that stops serving (it does not close the endpoint).
 */
export function serveChannel(service: ServedService, endpoint: FrameEndpoint): Disposer {
  let open = true;
  const send = (m: ServerMessage): void => {
    if (!open) {
      return;
    }
    try {
      endpoint.send(JSON.stringify(m));
    } catch {
      // the peer went away; its close handler disposes us
    }
  };
  const sendError = (id: number | null, code: ErrorCode, message: string): void =>
    send({ type: 'error', id, error: { name: 'ServiceError', code, message } });

  const onFrame = (frame: string): void => {
    if (typeof frame !== 'string') {
      sendError(null, 'BAD_INPUT', 'frames must be text');
      return;
    }
    if (frame.length > MAX_FRAME) {
      sendError(null, 'BAD_INPUT', `frame of ${frame.length} characters exceeds ${MAX_FRAME}`);
      return;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(frame);
    } catch {
      sendError(null, 'BAD_INPUT', 'frame is not JSON');
      return;
    }
    const problem = payloadProblem(raw);
    if (problem !== null) {
      sendError(idOf(raw), 'BAD_INPUT', `invalid message: ${problem}`);
      return;
    }
    const msg = callMessage.safeParse(raw);
    if (!msg.success) {
      sendError(idOf(raw), 'BAD_INPUT', `invalid message: ${issuesText(msg.error)}`);
      return;
    }
    const { id, method, params } = msg.data;
    void handleCall(service, method, params).then((reply) =>
      send(
        reply.ok
          ? { type: 'result', id, result: reply.result }
          : { type: 'error', id, error: reply.error },
      ),
    );
  };

  const disposers: Disposer[] = [endpoint.onFrame(onFrame)];
  for (const event of EVENT_NAMES) {
    disposers.push(service.on(event, (payload) => send({ type: 'event', event, payload })));
  }
  const dispose = (): void => {
    if (!open) {
      return;
    }
    open = false;
    for (const d of disposers) {
      d();
    }
  };
  disposers.push(endpoint.onClose(dispose));
  return dispose;
}

/** The id of a message that failed validation, when it has a usable one. */
function idOf(raw: unknown): number | null {
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    const id = (raw as { id?: unknown }).id;
    if (typeof id === 'number' && Number.isSafeInteger(id) && id >= 0) {
      return id;
    }
  }
  return null;
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
    let msg: ServerMessage;
    try {
      const parsed = serverMessage.safeParse(JSON.parse(frame));
      if (!parsed.success) {
        return;
      }
      msg = parsed.data;
    } catch {
      return;
    }
    if (msg.type === 'event') {
      if (EVENT_SET.has(msg.event)) {
        for (const l of listeners) {
          l(msg.event as EventName, msg.payload);
        }
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
    if (msg.type === 'result') {
      resolve({ ok: true, result: msg.result });
    } else {
      const code = (ERROR_CODES as readonly string[]).includes(msg.error.code)
        ? (msg.error.code as ErrorCode)
        : 'INTERNAL';
      resolve({ ok: false, error: { ...msg.error, code } });
    }
  });
  endpoint.onClose(() => {
    closed = true;
    for (const resolve of pending.values()) {
      resolve(fail('INTERNAL', 'connection to the Lockstep service closed'));
    }
    pending.clear();
  });
  return {
    call(method, params) {
      if (closed) {
        return Promise.resolve(fail('INTERNAL', 'connection to the Lockstep service closed'));
      }
      const id = nextId++;
      return new Promise<Reply>((resolve) => {
        pending.set(id, resolve);
        try {
          endpoint.send(JSON.stringify({ type: 'call', id, method, params }));
        } catch (e) {
          pending.delete(id);
          resolve(fail('INTERNAL', `cannot send: ${(e as Error).message}`));
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
 * A typed client over `transport`: one method per contract method (a plain object, so it can
 * cross Electron's contextBridge), rejecting with a {@link ServiceError} rebuilt from the wire.
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
      throw LockstepError.fromWire(reply.error);
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
