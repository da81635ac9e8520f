/// <reference lib="dom" />
/**
 * The Seed study view lists stored studies and job directories with their state, opens a
 * collected cluster study like a local one, and keeps the shown study across views and reloads.
 * The study is real: two tasks trained and exported as task.sh does it, then collected into the
 * server's store; a second job directory is registered but never run (state: not collected).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { exportBundle } from '../../src/main/bundle/export';
import type { TrainingConfig } from '../../src/main/engine/types';
import { bundlePath, writeJobDir, type JobSpec } from '../../src/main/executors/jobdir';
import { planStudy } from '../../src/main/executors/plan';
import { collectJob, registerJob } from '../../src/main/service/study-collect';
import { startRun } from '../../src/main/service/train';
import { Store } from '../../src/main/store/store';
import { openApp, screenshot, useApp } from './helpers';

const app = useApp('lockstep-e2e-studies-');

const CONFIG: TrainingConfig = {
  dataset: 'fake',
  model: { kind: 'mlp', hidden: [16, 8] },
  optimizer: { kind: 'sgd', lr: 0.05 },
  batchSize: 32,
  seed: 21,
  backend: 'wasm',
};
const SCHED = { steps: 30, checkpointEvery: 1000, evalEvery: 1000 };

async function runTask(work: string, dir: string, spec: JobSpec, i: number): Promise<void> {
  const t = spec.tasks[i];
  const store = await Store.open(join(work, `task-${i}`));
  await startRun(store, { config: t.config, seedSource: 'explicit', ...SCHED, branch: t.branch });
  await exportBundle(store, t.branch, bundlePath(dir, i));
}

test('a collected cluster study is listed, opens like a local one and survives a reload', async () => {
  const work = app.tmp.dir;
  const store = await Store.open(app.server.store);
  const spec = planStudy(CONFIG, 1, SCHED, { executor: 'slurm' });
  const dir = await writeJobDir(join(work, 'collected-job'), spec);
  await runTask(work, dir, spec, 0);
  await runTask(work, dir, spec, 1);
  await collectJob(store, dir, { verify: 'none' });
  const pending = planStudy({ ...CONFIG, seed: 99 }, 2, SCHED, { executor: 'local' });
  const pendingDir = await writeJobDir(join(work, 'pending-job'), pending);
  await registerJob(store, pendingDir, pending);

  const { page, errors } = await openApp(app.browser, app.server.url);
  const tab = (name: string) =>
    page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name });
  await tab('Seed study').click({ timeout: 60_000 });
  const view = page.getByRole('region', { name: 'Seed study' });
  const list = view.getByTestId('study-list');
  const collected = list.locator(`[data-study="${spec.id}"]`);
  const notRun = list.locator(`[data-study="${pending.id}"]`);
  await collected.waitFor({ timeout: 30_000 });
  assert.match((await collected.textContent()) ?? '', /slurm/);
  assert.equal(await collected.getByTestId('study-state').textContent(), 'collected');
  assert.match(
    (await notRun.getByTestId('study-state').textContent()) ?? '',
    /no results yet \(0 of 4 done\)/,
  );
  assert.equal(await notRun.getByRole('button', { name: 'Open' }).isDisabled(), true);

  // the newest collected study opens by itself; it reads like a local one
  const report = view.getByTestId('study-report');
  await report.waitFor({ timeout: 30_000 });
  assert.match((await report.textContent()) ?? '', new RegExp(`Study ${spec.id}.*ran on Slurm`));
  assert.equal(await report.getByTestId('same-seed-spread').textContent(), '0 (exactly)');
  await screenshot(page, '17-study-list');

  // another view and back, then a reload: the same study is still shown
  await tab('Runs').click();
  await tab('Seed study').click();
  await view.getByTestId('study-report').waitFor({ timeout: 30_000 });
  await page.reload();
  await tab('Seed study').click({ timeout: 60_000 });
  await page
    .getByRole('region', { name: 'Seed study' })
    .getByTestId('study-report')
    .waitFor({ timeout: 30_000 });
  assert.match(
    (await page.getByTestId('study-report').textContent()) ?? '',
    new RegExp(`Study ${spec.id}`),
  );
  assert.deepEqual(errors, []);
  await page.context().close();
});
