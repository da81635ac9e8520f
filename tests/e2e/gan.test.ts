/// <reference lib="dom" />
/**
 * The GAN in the GUI (issue 14), in Chromium against `lockstep serve` with real training on fake
 * data (tiny generator and discriminator):
 * - a reloaded page re-attaches to a paused gan job with both loss curves (the generator's comes
 *   from jobHistory), and the chart keys name both;
 * - a gan checkpoint's inspector draws the 8×8 grid of 64 samples, pixel for pixel the service's
 *   `samples` bytes, and the same picture again after a reload;
 * - "Beside" draws a second branch's tip from the same noise next to it (different weights, a
 *   different picture, again exactly that tip's samples).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import type { BranchInfo, StartRunRequest } from '../../src/shared/contract';
import { SCREENSHOTS, useApp } from './helpers';

const app = useApp('lockstep-e2e-gan-', { page: true, client: true });

const GAN: StartRunRequest = {
  dataset: 'fake',
  model: 'gan',
  hidden: [],
  gan: { noiseDims: 8, generator: [32], discriminator: [32] },
  shuffle: { kind: 'buffer', size: 200 },
  optimizer: 'adam',
  lr: 0.002,
  dLr: 0.002,
  batchSize: 32,
  steps: 300,
  seed: 11,
  checkpointEvery: 100,
  evalEvery: 300,
  backend: 'wasm',
  branch: 'gan-base',
};

async function waitDone(id: string): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    const j = (await app.client.listJobs({})).find((x) => x.id === id);
    if (j?.state === 'done') {
      return;
    }
    assert.ok(j && ['queued', 'running'].includes(j.state), `job ${id} is ${j?.state}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`job ${id} did not finish`);
}

async function branch(name: string): Promise<BranchInfo> {
  const b = (await app.client.listGraph({}))
    .flatMap((r) => r.branches)
    .find((x) => x.name === name);
  assert.ok(b, `branch ${name}`);
  return b;
}

/** The `i`-th sample canvas: its attributes, data URL and the 64 tiles' bytes read back. */
async function canvasAt(page: Page, i: number) {
  const c = page.getByTestId('samples-canvas').nth(i);
  await c.waitFor({ timeout: 60_000 });
  return c.evaluate((el) => {
    const canvas = el as HTMLCanvasElement;
    const ctx = canvas.getContext('2d')!;
    const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const count = Number(canvas.dataset.count);
    const bytes: number[] = [];
    for (let k = 0; k < count; k++) {
      const x0 = 2 + (k % 8) * 30;
      const y0 = 2 + Math.floor(k / 8) * 30;
      for (let y = 0; y < 28; y++) {
        for (let x = 0; x < 28; x++) {
          bytes.push(img.data[((y0 + y) * canvas.width + x0 + x) * 4]);
        }
      }
    }
    return {
      count,
      checkpoint: canvas.dataset.checkpoint ?? '',
      width: canvas.width,
      height: canvas.height,
      url: canvas.toDataURL(),
      bytes,
    };
  });
}

async function samplesOf(ref: string): Promise<number[]> {
  const g = await app.client.samples({ ref });
  return [...Buffer.from(g.pixels, 'base64')];
}

test('a reloaded page re-attaches to a paused gan job with both loss curves', async () => {
  const { page, client } = app;
  const job = await client.startRun({ ...GAN, steps: 1_000_000, branch: 'gan-long', seed: 5 });
  for (let i = 0; i < 600; i++) {
    if ((await client.jobHistory({ job: job.id })).losses.length >= 20) {
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await client.pauseJob({ job: job.id });
  const h = await client.jobHistory({ job: job.id });
  assert.ok(h.losses.length >= 20 && h.losses.every((l) => Number.isFinite(l.gLoss)));
  await page.reload();
  await page
    .locator(`[data-testid="live-panel"][data-job="${job.id}"][data-state="paused"]`)
    .waitFor({ timeout: 30_000 });
  const keys = await page.getByTestId('loss-key').allTextContents();
  assert.deepEqual(
    keys.map((k) => k.trim()),
    ['discriminator loss', 'generator loss'],
  );
  await client.stopJob({ job: job.id });
});

test('a gan checkpoint shows 64 samples, the same twice, and a second branch beside it', async () => {
  const { page, client } = app;
  await waitDone((await client.startRun(GAN)).id);
  const base = await branch('gan-base');
  const mid = base.checkpoints.find((c) => c.step === 200);
  assert.ok(mid, 'gan-base has a checkpoint at step 200');
  await waitDone(
    (await client.continueRun({ ref: mid.id, steps: 100, dLr: 0.02, branch: 'gan-dlr' })).id,
  );
  const dlr = await branch('gan-dlr');
  assert.notEqual(dlr.tip, base.tip);

  await page.reload();
  await page.locator('button[data-branch="gan-base"]').click();
  const first = await canvasAt(page, 0);
  assert.equal(first.count, 64);
  assert.equal(first.checkpoint, base.tip);
  assert.deepEqual([first.width, first.height], [242, 242], '8 × 8 tiles of 28 px, 2 px apart');
  assert.deepEqual(first.bytes, await samplesOf(base.tip), 'the tiles are the service samples');
  assert.ok(new Set(first.bytes).size > 16, 'not a blank grid');

  await page.reload();
  await page.locator('button[data-branch="gan-base"]').click();
  const again = await canvasAt(page, 0);
  assert.equal(again.url, first.url, 'the same checkpoint draws the same picture');

  await page.getByTestId('samples-beside').selectOption('gan-dlr');
  const other = await canvasAt(page, 1);
  assert.equal(other.count, 64);
  assert.equal(other.checkpoint, dlr.tip);
  assert.deepEqual(other.bytes, await samplesOf(dlr.tip));
  assert.notEqual(other.url, first.url, 'different weights, a different picture');
  assert.equal((await canvasAt(page, 0)).url, first.url);
  assert.match(
    (await page.getByTestId('gan-samples').locator('figcaption').nth(1).textContent()) ?? '',
    /gan-dlr · step 300/,
  );
  // the grids alone (a full-page shot puts the sticky header over the inspector)
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.getByTestId('gan-samples').screenshot({ path: join(SCREENSHOTS, 'gan-samples.png') });
});
