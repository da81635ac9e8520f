/**
 * A pause is acknowledged by the job: `pauseJob` returns (and clients see `paused`) only after
 * every step the job took before stopping at its gate has been reported. So the last progress
 * a client holds when it sees `paused` is the step the job is paused at — the step a stop then
 * checkpoints — and no progress follows. Before, the state changed as soon as the request was
 * sent, and the steps batched since the last progress event came later (the GUI showed
 * `paused` at step 89, then 100). Real training on fake data, with the in-process runner and
 * with job processes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fakeRun, Recorder, startService } from '../contract/helpers';
import { useTempDir } from '../helpers/fixtures';

for (const runner of ['inline', 'process'] as const) {
  test(`${runner} runner: when pauseJob returns, every step before the pause is reported and none follows`, async (t) => {
    const service = await startService(useTempDir(t), runner === 'inline' ? { runner: 'inline' } : {}); // prettier-ignore
    const rec = new Recorder(service);
    try {
      const job = await service.startRun(
        fakeRun({ steps: 100_000, checkpointEvery: 50_000, evalEvery: 50_000, seed: 5 }),
      );
      await rec.until(() => rec.of('progress', job.id).find((p) => p.step >= 30), 60_000);
      const info = await service.pauseJob({ job: job.id });
      assert.equal(info.state, 'paused');
      const reported = (): number => rec.of('progress', job.id).at(-1)?.step ?? 0;
      const atPause = reported();
      // not synchronisation: a window in which no step may arrive (an absence is asserted)
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(reported(), atPause, 'no progress after the pause was acknowledged');
      await service.stopJob({ job: job.id });
      const finished = await rec.finished(job.id);
      assert.equal(finished.kind, 'train');
      const result = finished.kind === 'train' ? finished.result : undefined;
      assert.equal(result?.status, 'stopped');
      assert.equal(result?.step, atPause, 'the job was paused at the last step it reported');
    } finally {
      rec.dispose();
      await service.close();
    }
  });
}
