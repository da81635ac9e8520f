/**
 * Fuzz: 10,000 random and malformed messages — non-JSON frames, wrong types, missing fields,
 * unknown keys, huge strings, deep nesting, unknown methods (including the host's own `on` and
 * `close`), prototype-pollution keys, oversize frames, and schema-valid calls that name things
 * that do not exist. 9,500 go through the server channel directly, 500 over the real WebSocket.
 * Each gets exactly one clear error reply; the service stays up (a valid call works after); the
 * store is byte-for-byte unchanged; no job was started; Object.prototype is untouched.
 * The generator is seeded: a failure names the seed to replay it.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { ERROR_CODES, METHOD_NAMES, type MethodName } from '../../src/shared/contract';
import { serveChannel } from '../../src/shared/rpc-server';
import { memoryPair } from '../../src/shared/rpc-memory';
import { MAX_FRAME, REQUEST_SCHEMAS } from '../../src/shared/schemas';
import type { LockstepHost } from '../../src/main/service/service';
import { startWebServer, type WebServer } from '../../src/main/web/server';
import {
  cleanup,
  fakeRun,
  Recorder,
  snapshot,
  startService,
  stubRenderer,
  tempDir,
} from '../contract/helpers';
import { memoryClient } from '../../src/shared/rpc-memory';
import type { TrainResult } from '../../src/shared/contract';

const TOTAL = 10_000;
const OVER_SOCKET = 500;
const SEED = Number(process.env.LOCKSTEP_FUZZ_SEED ?? 0x5eed);

/** mulberry32: a small seeded PRNG (test data only). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A valid params object of every method (the fuzzer only sends broken variants of these). */
function templates(branch: string): Record<MethodName, Record<string, unknown>> {
  const train = fakeRun();
  const { seed: _s, branch: _b, ...studyTrain } = train;
  return {
    startRun: { ...train },
    continueRun: { ref: branch, steps: 10 },
    stopJob: { job: 'job-x' },
    pauseJob: { job: 'job-x' },
    resumeJob: { job: 'job-x' },
    listJobs: {},
    jobHistory: { job: 'job-x' },
    listGraph: {},
    showCheckpoint: { ref: branch },
    histograms: { ref: branch, bins: 10 },
    predictions: { ref: branch, limit: 4 },
    samples: { ref: branch, count: 4 },
    trace: { ref: branch, from: 0, to: 5 },
    compare: { a: branch, b: branch },
    verify: { ref: branch },
    study: { runs: 2, train: studyTrain },
    listStudies: {},
    openStudy: { id: 'study-x' },
    exportBundle: { ref: branch, path: '/tmp/x.lockstep' },
    importBundle: { path: '/tmp/x.lockstep' },
    storeInfo: {},
    listDatasets: {},
    // names that do not exist: even a variant that passes the schema removes nothing
    deleteBranch: { name: 'fuzz-no-such-branch' },
    deleteRun: { id: 'run-fuzz-none' },
  };
}

/** Generates malformed frames (text, or bytes for the socket's binary frames). */
class Fuzzer {
  private readonly r: () => number;
  private id = 1;

  constructor(
    seed: number,
    private readonly tpl: Record<MethodName, Record<string, unknown>>,
  ) {
    this.r = prng(seed);
  }

  private int(n: number): number {
    return Math.floor(this.r() * n);
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  private str(max = 20): string {
    const len = this.int(max);
    let s = '';
    for (let i = 0; i < len; i++) {
      s += String.fromCharCode(
        this.pick([this.int(0x80), 0x20 + this.int(0x5f), this.int(0xffff)]),
      );
    }
    return s;
  }

  /** A value of a random JSON type other than `typeof like`. */
  private wrongType(like: unknown): unknown {
    const options: unknown[] = [
      this.int(1e6) - 5e5,
      this.r() * 1e300,
      '',
      this.str(),
      true,
      null,
      [],
      [1, 'a'],
      {},
      { x: 1 },
    ];
    for (;;) {
      const v = this.pick(options);
      const same =
        typeof v === typeof like &&
        Array.isArray(v) === Array.isArray(like) &&
        (v === null) === (like === null);
      if (!same) {
        return v;
      }
    }
  }

  private call(method: string, params: unknown): string {
    return JSON.stringify({ type: 'call', id: this.id++, method, params });
  }

  /** Broken params for a known method: always invalid by the method's schema. */
  private badParams(method: MethodName): string {
    const base = structuredClone(this.tpl[method]);
    const keys = Object.keys(base);
    const mutation = this.int(7);
    if (mutation === 0 || keys.length === 0) {
      base[`extra_${this.str(8)}`] = this.wrongType(undefined);
      return this.call(method, base);
    }
    const key = this.pick(keys);
    switch (mutation) {
      case 1: {
        // only keys the method's schema requires: dropping an optional one leaves a valid call
        const required = keys.filter((k) => {
          const { [k]: _dropped, ...rest } = base;
          return !REQUEST_SCHEMAS[method].safeParse(rest).success;
        });
        if (required.length > 0) {
          delete base[this.pick(required)];
          return this.call(method, base);
        }
        base[key] = this.wrongType(base[key]);
        return this.call(method, base);
      }
      case 2:
        base[key] = this.wrongType(base[key]);
        return this.call(method, base);
      case 3: {
        // a huge string where a string was (or a bounded one where a number was)
        base[key] =
          typeof base[key] === 'string' ? 'r'.repeat(5000 + this.int(200_000)) : this.str();
        return this.call(method, base);
      }
      case 4:
        // a number out of range, non-integer, or Infinity through the JSON text
        if (typeof base[key] === 'number') {
          base[key] = this.pick([-1, 1e12, 0.5, 'INFINITY']);
          // JSON has no Infinity, but 1e400 parses to it
          return this.call(method, base).replace('"INFINITY"', '1e400');
        }
        return this.call(method, this.wrongType(base));
      case 5: {
        let deep: unknown = 1;
        for (let i = 0; i < 20 + this.int(200); i++) {
          deep = { d: deep };
        }
        base[key] = deep;
        return this.call(method, base);
      }
      default:
        return this.call(method, this.wrongType(base));
    }
  }

  /** Schema-valid calls that name nothing real: BAD_REF / NOT_FOUND, no store change. */
  private missing(): string {
    const ref = this.pick([
      'nope-' + this.str(10).replace(/[^a-z]/g, 'x'),
      'deadbeef' + this.int(1e6).toString(16),
      'a'.repeat(64),
      'main@999999',
      '@',
      '..',
      '/etc/passwd',
    ]);
    const which = this.int(9);
    switch (which) {
      case 0:
        return this.call('showCheckpoint', { ref });
      case 1:
        return this.call('histograms', { ref });
      case 2:
        return this.call('continueRun', { ref, steps: 1 + this.int(100) });
      case 3:
        return this.call(this.pick(['stopJob', 'pauseJob', 'resumeJob']), {
          job: this.str(30) || 'x',
        });
      case 4:
        return this.call('compare', { a: ref, b: ref });
      case 5:
        return this.call('trace', { ref });
      case 6:
        return this.call('verify', { ref });
      case 7:
        return this.call('importBundle', { path: `/nonexistent/${this.int(1e9)}.lockstep` });
      default:
        return this.call('exportBundle', { ref, path: '/tmp/never-written.lockstep' });
    }
  }

  private pollution(): string {
    const key = this.pick(['__proto__', 'constructor', 'prototype']);
    const method = this.pick(METHOD_NAMES);
    const inner = `{"${key}":{"polluted":true,"isAdmin":true}}`;
    const where = this.int(4);
    const id = this.id++;
    if (where === 0) {
      return `{"type":"call","id":${id},"method":"${method}","params":${inner}}`;
    }
    if (where === 1) {
      return `{"type":"call","id":${id},"method":"${method}","params":{"ref":"x","nested":[1,${inner}]}}`;
    }
    if (where === 2) {
      return `{"type":"call","id":${id},"method":"startRun","params":{"dataset":"fake","${key}":{"steps":1}}}`;
    }
    return `{"type":"call","id":${id},"${key}":{"method":"listGraph"},"method":"${method}","params":{}}`;
  }

  /** One malformed frame. */
  next(): string {
    switch (this.int(10)) {
      case 0: {
        // not JSON
        const s = this.pick([
          this.str(50),
          '{',
          '{"type":"call",',
          "{'type':'call'}",
          'undefined',
          'NaN',
          '',
          '[1,2',
          '\u0000\u0001',
          '{"type":"call","id":1,"method":"listGraph","params":{}}}',
        ]);
        return s;
      }
      case 1:
        return JSON.stringify(this.pick([1, -1, 'call', true, null, [], [1, 2], ['call', 1]]));
      case 2: {
        // a broken envelope
        const m: Record<string, unknown> = {
          type: 'call',
          id: this.id++,
          method: 'listGraph',
          params: {},
        };
        const k = this.pick(['type', 'id', 'method', 'params', 'extra']);
        if (k === 'extra') {
          m.extra = 1;
        } else if (k === 'params' || this.r() < 0.3) {
          delete m[k];
          if (k === 'params') {
            m.type = 'result';
          }
        } else {
          m[k] = k === 'id' ? this.pick([-1, 1.5, 'one', null, 2 ** 60]) : this.wrongType(m[k]);
        }
        return JSON.stringify(m);
      }
      case 3:
        return this.call(
          this.pick([
            'on',
            'close',
            'constructor',
            '__proto__',
            'toString',
            'hasOwnProperty',
            'valueOf',
            'dropStore',
            this.str(30) || 'x',
            'x'.repeat(10_000),
          ]),
          {},
        );
      case 4:
      case 5:
      case 6:
        return this.badParams(this.pick(METHOD_NAMES));
      case 7:
        return this.missing();
      case 8:
        return this.pollution();
      default: {
        // too many values, or nested too deep at the top
        if (this.r() < 0.5) {
          return this.call('listGraph', { a: new Array(20_000).fill(0) });
        }
        return '['.repeat(5000) + ']'.repeat(5000);
      }
    }
  }
}

interface Reply {
  type: string;
  id: number | null;
  error?: { name: string; code: string; message: string };
}

function checkReply(raw: string): Reply {
  const m = JSON.parse(raw) as Reply;
  assert.equal(m.type, 'error', `expected an error, got ${raw.slice(0, 300)}`);
  assert.ok(m.error && ERROR_CODES.includes(m.error.code as never), raw.slice(0, 300));
  assert.ok(
    m.error.message.length > 0 && m.error.message.length <= 2100,
    `message of ${m.error.message.length} chars`,
  );
  return m;
}

describe(`fuzz (seed ${SEED})`, () => {
  let dir: string;
  let service: LockstepHost;
  let server: WebServer;
  let storeDir: string;
  let before0: Map<string, string>;
  let branch: string;

  before(async () => {
    dir = tempDir('lockstep-fuzz-');
    storeDir = path.join(dir, 'store');
    service = await startService(dir, { runner: 'inline' });
    const client = memoryClient(service);
    const rec = new Recorder(client);
    const job = await client.startRun(fakeRun({ steps: 30, checkpointEvery: 10 }));
    branch = ((await rec.finished(job.id)).result as TrainResult).branch;
    client.close();
    server = await startWebServer({ service, rendererDir: stubRenderer(dir) });
    before0 = snapshot(storeDir);
  });

  after(async () => {
    await server.close();
    await service.close();
    cleanup(dir);
  });

  test(`${TOTAL - OVER_SOCKET} malformed messages through the server channel`, async () => {
    const fuzz = new Fuzzer(SEED, templates(branch));
    const [client, srv] = memoryPair();
    serveChannel(service, srv);
    const replies: string[] = [];
    let wake: () => void = () => {};
    client.onFrame((f) => {
      const m = JSON.parse(f) as Reply;
      if (m.type !== 'event') {
        replies.push(f);
        wake();
      }
    });
    const n = TOTAL - OVER_SOCKET;
    const sentIds = new Set<number>();
    for (let i = 0; i < n; i++) {
      const frame = i % 1900 === 7 ? 'x'.repeat(MAX_FRAME + 1) : fuzz.next();
      const id = /"id":(\d+)/.exec(frame.slice(0, 200));
      if (id) {
        sentIds.add(Number(id[1]));
      }
      client.send(frame);
      if (i % 500 === 499) {
        await new Promise((r) => setImmediate(r));
      }
    }
    const deadline = Date.now() + 120_000;
    while (replies.length < n && Date.now() < deadline) {
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 500);
      });
    }
    assert.equal(replies.length, n, 'one reply per message');
    const codes = new Map<string, number>();
    for (const raw of replies) {
      const m = checkReply(raw);
      codes.set(m.error!.code, (codes.get(m.error!.code) ?? 0) + 1);
      if (m.id !== null) {
        assert.ok(sentIds.has(m.id), `reply to an id never sent: ${m.id}`);
      }
    }
    for (const c of ['BAD_INPUT', 'UNKNOWN_METHOD', 'BAD_REF', 'NOT_FOUND']) {
      assert.ok((codes.get(c) ?? 0) > 0, `some ${c} (${JSON.stringify([...codes])})`);
    }
    (client as typeof client & { close(): void }).close();
  });

  test(`${OVER_SOCKET} malformed messages over the real WebSocket, then a valid call`, async () => {
    const fuzz = new Fuzzer(SEED + 1, templates(branch));
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=${server.token}`);
    await new Promise((r, j) => ws.once('open', r).once('error', j));
    const replies: string[] = [];
    ws.on('message', (d: Buffer) => {
      const s = d.toString();
      if ((JSON.parse(s) as Reply).type !== 'event') {
        replies.push(s);
      }
    });
    for (let i = 0; i < OVER_SOCKET; i++) {
      if (i % 50 === 3) {
        ws.send(Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3]), { binary: true });
      } else {
        ws.send(fuzz.next());
      }
    }
    const deadline = Date.now() + 60_000;
    while (replies.length < OVER_SOCKET && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(replies.length, OVER_SOCKET, 'one reply per message');
    replies.forEach(checkReply);

    ws.send(JSON.stringify({ type: 'call', id: 424242, method: 'listGraph', params: {} }));
    const ok = await new Promise<Reply & { result?: unknown }>((resolve) => {
      ws.on('message', (d: Buffer) => {
        const m = JSON.parse(d.toString()) as Reply & { result?: unknown };
        if (m.id === 424242) {
          resolve(m);
        }
      });
    });
    assert.equal(ok.type, 'result');
    assert.equal((ok.result as unknown[]).length, 1);
    ws.close();
  });

  test('an oversize frame closes only that socket; the server stays up', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=${server.token}`);
    await new Promise((r, j) => ws.once('open', r).once('error', j));
    const code = await new Promise<number>((resolve) => {
      ws.on('close', (c) => resolve(c));
      ws.on('error', () => {});
      ws.send('x'.repeat(MAX_FRAME + 10));
    });
    assert.equal(code, 1009);
    const again = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=${server.token}`);
    await new Promise((r, j) => again.once('open', r).once('error', j));
    again.close();
  });

  test('afterwards: the service answers, no job ran, the store is byte-for-byte unchanged', async () => {
    const client = memoryClient(service);
    const graph = await client.listGraph({});
    assert.equal(graph[0].branches[0].name, branch);
    assert.equal((await client.listJobs({})).length, 1, 'only the setup job');
    client.close();
    assert.deepEqual(snapshot(storeDir), before0);
    const proto = Object.prototype as Record<string, unknown>;
    assert.equal(proto.polluted, undefined);
    assert.equal(proto.isAdmin, undefined);
  });
});
