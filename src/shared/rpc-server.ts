/**
 * The server half of the contract's wiring (after VS Code's `ipc.ts` channel server).
 *
 * - {@link handleCall} is the server's one entry for a call that arrived from anywhere: it
 *   refuses unknown methods and invalid params (schema of the method, prototype-pollution keys)
 *   before the service sees them, and turns every error into a {@link WireError}.
 * - {@link serveChannel} serves a service over a frame endpoint: JSON frames in, replies and
 *   events out. Every transport goes through it: the WebSocket of web mode, Electron IPC
 *   (src/main/desktop/ipc-endpoint.ts) and the in-memory pair of the tests. A frame that cannot
 *   be a call gets an error reply (id null when none can be read); nothing a client sends can
 *   stop the channel.
 *
 * Uses zod (./schemas.ts): main-process and Node code only. The client half, without zod, is
 * ./rpc-client.ts.
 */
import {
  EVENT_NAMES,
  METHOD_NAMES,
  type Disposer,
  type ErrorCode,
  type EventName,
  type LockstepService,
  type MethodName,
  type ServiceEvents,
} from './contract';
import type { FrameEndpoint, Reply, ServerMessage } from './rpc-client';
import { callMessage, issuesText, MAX_FRAME, payloadProblem, REQUEST_SCHEMAS } from './schemas';
import { toWireError } from './errors';

export type { FrameEndpoint, Reply } from './rpc-client';

/** What a server serves: the service methods plus its events. */
export type ServedService = LockstepService & {
  on<E extends EventName>(event: E, listener: (payload: ServiceEvents[E]) => void): Disposer;
};

const METHOD_SET = new Set<string>(METHOD_NAMES);

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
