/**
 * Helpers for the contract, web and job tests: temp stores, the service over each transport, an
 * event recorder, and the small fake-data training request they all use.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before } from 'node:test';
import WebSocket from 'ws';
import type {
  EventName,
  JobInfo,
  LockstepClient,
  ServiceEvents,
  StartRunRequest,
} from '../../src/shared/contract';
import {
  createClient,
  frameClientTransport,
  type ClientTransport,
} from '../../src/shared/rpc-client';
import { serveChannel } from '../../src/shared/rpc-server';
import { memoryPair } from '../../src/shared/rpc-memory';
import { webSocketEndpoint, type WebSocketLike } from '../../src/shared/rpc-websocket';
import {
  createService,
  type LockstepHost,
  type ServiceOptions,
} from '../../src/main/service/service';
import { startWebServer, type WebServer } from '../../src/main/web/server';

import { removeDir, tempDir } from '../helpers/fixtures';

export { removeDir as cleanup, tempDir };

/** The fake-data MLP [16, 8] request of these tests. */
export function fakeRun(over: Partial<StartRunRequest> = {}): StartRunRequest {
  return {
    dataset: 'fake',
    model: 'mlp',
    hidden: [16, 8],
    optimizer: 'sgd',
    lr: 0.1,
    batchSize: 32,
    steps: 200,
    seed: 7,
    checkpointEvery: 100,
    evalEvery: 100,
    backend: 'cpu',
    ...over,
  };
}

/** A renderer folder with a stub index.html and one asset (web tests). */
export function stubRenderer(dir: string): string {
  const ui = path.join(dir, 'ui');
  mkdirSync(path.join(ui, 'assets'), { recursive: true });
  writeFileSync(path.join(ui, 'index.html'), '<!doctype html><title>stub</title>');
  writeFileSync(path.join(ui, 'assets', 'app.js'), 'console.log(1);');
  return ui;
}

export interface Connected {
  client: LockstepClient;
  /** the transport under the client (to send what the typed client cannot) */
  transport: ClientTransport;
  /** disconnects the client (and stops the web server, if any) */
  close(): Promise<void>;
  server?: WebServer;
}

/** One transport under test: connects a client to `service`. */
export interface TransportCase {
  name: 'memory' | 'websocket';
  connect(service: LockstepHost, dir: string): Promise<Connected>;
}

export const TRANSPORTS: TransportCase[] = [
  {
    name: 'memory',
    async connect(service) {
      const [a, b] = memoryPair();
      serveChannel(service, b);
      const transport = frameClientTransport(a);
      return {
        client: createClient(transport),
        transport,
        close: async () => (a as typeof a & { close(): void }).close(),
      };
    },
  },
  {
    name: 'websocket',
    async connect(service, dir) {
      const server = await startWebServer({ service, rendererDir: stubRenderer(dir) });
      const url = `ws://127.0.0.1:${server.port}/ws?token=${server.token}`;
      const ws = new WebSocket(url);
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      const transport = frameClientTransport(webSocketEndpoint(ws as unknown as WebSocketLike));
      return {
        client: createClient(transport),
        transport,
        server,
        async close() {
          ws.close();
          await server.close();
        },
      };
    },
  },
];

/** A service on a temp store (process runner unless told otherwise). */
export async function startService(
  dir: string,
  opts: Partial<ServiceOptions> = {},
): Promise<LockstepHost> {
  return createService({ storeDir: path.join(dir, 'store'), maxParallel: 2, ...opts });
}

type Recorded = { [E in EventName]: ServiceEvents[E][] };

/** Records every event a client receives, and waits for one. */
export class Recorder {
  readonly events: Recorded = {
    job: [],
    progress: [],
    metrics: [],
    checkpoint: [],
    finished: [],
    work: [],
    notice: [],
    graphChanged: [],
  };
  private waiters: (() => void)[] = [];
  private readonly disposers: (() => void)[] = [];

  constructor(client: LockstepClient) {
    for (const name of Object.keys(this.events) as EventName[]) {
      this.disposers.push(
        client.on(name, (payload) => {
          (this.events[name] as unknown[]).push(payload);
          for (const w of this.waiters.splice(0)) {
            w();
          }
        }),
      );
    }
  }

  /** Resolves with the first value `pick` returns that is not undefined (checked on each event). */
  async until<T>(pick: () => T | undefined, timeoutMs = 60_000, what = 'event'): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = pick();
      if (v !== undefined) {
        return v;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timed out waiting for ${what}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The `finished` event of a job. */
  finished(job: string, timeoutMs = 120_000): Promise<ServiceEvents['finished']> {
    return this.until(
      () => this.events.finished.find((f) => f.job === job),
      timeoutMs,
      `job ${job} to finish`,
    );
  }

  /** Events of one job. */
  of<E extends EventName>(name: E, job: string): ServiceEvents[E][] {
    return this.events[name].filter(
      (e) =>
        (e as { job?: string; id?: string }).job === job ||
        (name === 'job' && (e as JobInfo).id === job),
    );
  }

  dispose(): void {
    for (const d of this.disposers) {
      d();
    }
  }
}

import { snapshot } from '../helpers/fs';

export { snapshot };

/**
 * For a test file: an inline-runner service on a temp store with a Recorder, started before the
 * file's tests and closed after them. Read the fields inside tests (they are set in `before`).
 */
export function useInlineService(): { dir: string; service: LockstepHost; rec: Recorder } {
  const ctx = {} as { dir: string; service: LockstepHost; rec: Recorder };
  before(async () => {
    ctx.dir = tempDir();
    ctx.service = await startService(ctx.dir, { runner: 'inline' });
    ctx.rec = new Recorder(ctx.service);
  });
  after(async () => {
    ctx.rec.dispose();
    await ctx.service.close();
    removeDir(ctx.dir);
  });
  return ctx;
}
