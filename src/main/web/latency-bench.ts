/**
 * Benchmark (not a test): round-trip latency of a cheap call (listGraph) over web mode's
 * WebSocket while training jobs run in their job processes. Prints p50 / p95 / max in ms, idle
 * and under load, and one JSON line at the end.
 *
 *   node --import tsx src/main/web/latency-bench.ts [--dataset fake|mnist] [--jobs N] [--calls N]
 *
 * Uses a temporary store (removed afterwards); the goal is p95 < 50 ms under load.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import type { LockstepClient, StartRunRequest } from '../../shared/contract';
import { connectWebSocket, type WebSocketConstructor } from '../../shared/rpc-websocket';
import { createService } from '../service/service';
import { startWebServer } from './server';

interface Stats {
  calls: number;
  p50: number;
  p95: number;
  max: number;
}

function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  const round = (x: number): number => Math.round(x * 100) / 100;
  return {
    calls: s.length,
    p50: round(at(0.5)),
    p95: round(at(0.95)),
    max: round(s[s.length - 1]),
  };
}

async function measure(client: LockstepClient, calls: number): Promise<Stats> {
  const samples: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await client.listGraph({});
    samples.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 5));
  }
  return stats(samples);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dataset: { type: 'string', default: 'fake' },
      jobs: { type: 'string', default: '1' },
      calls: { type: 'string', default: '400' },
    },
  });
  const dataset = values.dataset === 'mnist' ? 'mnist' : 'fake';
  const jobs = Number(values.jobs);
  const calls = Number(values.calls);
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-bench-'));
  const ui = join(dir, 'ui');
  mkdirSync(ui);
  writeFileSync(join(ui, 'index.html'), '<!doctype html>');
  const service = await createService({ storeDir: join(dir, 'store') });
  const server = await startWebServer({ service, rendererDir: ui });
  const client = await connectWebSocket(
    `ws://127.0.0.1:${server.port}/ws?token=${server.token}`,
    WebSocket as unknown as WebSocketConstructor,
  );
  try {
    const req: StartRunRequest =
      dataset === 'mnist'
        ? {
            dataset: 'mnist',
            model: 'mlp',
            hidden: [128, 32],
            optimizer: 'sgd',
            lr: 0.01,
            batchSize: 100,
            steps: 1_000_000,
            seed: 1,
            checkpointEvery: 500,
            evalEvery: 100_000,
            backend: 'wasm',
          }
        : {
            dataset: 'fake',
            model: 'mlp',
            hidden: [16, 8],
            optimizer: 'sgd',
            lr: 0.1,
            batchSize: 32,
            steps: 1_000_000,
            seed: 1,
            checkpointEvery: 200,
            evalEvery: 100_000,
            backend: 'cpu',
          };
    // a graph with some history first, so listGraph has work to do
    const warm = await client.startRun({ ...req, steps: 1000, seed: 99 });
    await new Promise<void>((r) => {
      const off = client.on('finished', (f) => {
        if (f.job === warm.id) {
          off();
          r();
        }
      });
    });
    const idle = await measure(client, Math.min(calls, 200));
    const started: string[] = [];
    let progress = 0;
    client.on('progress', () => progress++);
    for (let i = 0; i < jobs; i++) {
      started.push((await client.startRun({ ...req, seed: i + 1 })).id);
    }
    while (progress < jobs * 2) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const loaded = await measure(client, calls);
    const progressDuring = progress;
    for (const id of started) {
      await client.stopJob({ job: id });
    }
    const result = { dataset, jobs, idle, training: loaded, progressEvents: progressDuring };
    process.stderr.write(
      `listGraph over WebSocket, ${dataset}, ${jobs} job(s) training:\n` +
        `  idle:     p50 ${idle.p50} ms, p95 ${idle.p95} ms, max ${idle.max} ms (${idle.calls} calls)\n` +
        `  training: p50 ${loaded.p50} ms, p95 ${loaded.p95} ms, max ${loaded.max} ms (${loaded.calls} calls)\n`,
    );
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    client.close();
    await server.close();
    await service.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
