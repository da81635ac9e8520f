/**
 * The service's exportBundle with `withData` (the GUI's "Include the dataset", issue 13) does what
 * the CLI's `export --with-data` does: the bundle carries the store's dataset, so it verifies in
 * an empty store of another process (where the dataset is absent) and imports it there under its
 * name; without `withData` the same run's bundle cannot replay there (exit 1, naming the dataset).
 * The flag crosses the wire validated: a non-boolean is BAD_INPUT.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { addDatasetFromFiles } from '../../src/main/service/datasets';
import type { LockstepHost } from '../../src/main/service/service';
import { Store } from '../../src/main/store/store';
import type { LockstepClient } from '../../src/shared/contract';
import { cli } from '../bundle/helpers';
import { Recorder, TRANSPORTS, cleanup, fakeRun, startService, tempDir } from '../contract/helpers';
import { writeCsv } from '../data/helpers';

let dir: string;
let service: LockstepHost;
let client: LockstepClient;
let close: () => Promise<void>;
let rec: Recorder;
let digest: string;

before(async () => {
  dir = tempDir('lockstep-export-data-');
  const store = await Store.open(join(dir, 'store'));
  digest = (await addDatasetFromFiles(store, 'digits', writeCsv(join(dir, 'csv')))).record.digest;
  service = await startService(dir, { runner: 'inline' });
  const c = await TRANSPORTS[0].connect(service, dir); // through the schemas, as the UI calls it
  client = c.client;
  close = c.close;
  rec = new Recorder(client);
});
after(async () => {
  rec.dispose();
  await close();
  await service.close();
  cleanup(dir);
});

async function exported(req: Parameters<LockstepClient['exportBundle']>[0]): Promise<void> {
  const f = await rec.finished((await client.exportBundle(req)).id);
  assert.equal(f.error, undefined, JSON.stringify(f.error));
  assert.ok(f.kind === 'export' && f.result?.path === req.path);
}

test('exportBundle withData carries the dataset: the bundle replays where the data never was', async () => {
  const run = fakeRun({
    dataset: 'digits',
    model: 'softmax',
    hidden: [],
    batchSize: 20,
    steps: 12,
    checkpointEvery: 6,
    evalEvery: 12,
    seed: 3,
    branch: 'd',
  });
  const trained = await rec.finished((await client.startRun(run)).id);
  assert.equal(trained.error, undefined, JSON.stringify(trained.error));

  const withData = join(dir, 'with-data.lockstep');
  const plain = join(dir, 'plain.lockstep');
  await exported({ ref: 'd', path: withData, withData: true });
  await exported({ ref: 'd', path: plain, withData: false });

  // another process, an empty store: no dataset 'digits' anywhere it looks
  const empty = join(dir, 'empty');
  const v = await cli(['--store', empty, '--json', 'verify', withData]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  const report = JSON.parse(v.stdout.trim().split('\n').pop()!) as { verified: boolean };
  assert.equal(report.verified, true);
  const noData = await cli(['--store', empty, 'verify', plain]);
  assert.equal(noData.code, 1, noData.stdout + noData.stderr);
  assert.match(noData.stdout + noData.stderr, /dataset 'digits' .* is not available here/);

  const imported = await cli(['--store', empty, '--json', 'import', withData]);
  assert.equal(imported.code, 0, imported.stderr);
  const ls = await cli(['--store', empty, '--json', 'data', 'ls']);
  const { datasets } = JSON.parse(ls.stdout.trim().split('\n').pop()!) as {
    datasets: { name: string; digest: string }[];
  };
  assert.deepEqual(
    datasets.map((d) => [d.name, d.digest]),
    [['digits', digest]],
  );
});

test('withData is checked on the wire: a non-boolean is BAD_INPUT', async () => {
  await assert.rejects(
    client.exportBundle({
      ref: 'd',
      path: join(dir, 'x.lockstep'),
      withData: 'yes' as unknown as boolean,
    }),
    (e: unknown) => (e as { code?: string }).code === 'BAD_INPUT',
  );
});
