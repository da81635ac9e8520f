/**
 * Runs one job to its end in the current process: the body shared by the job process (Node child
 * or Electron utility process) and the inline runner. It loads the engine: the service's own
 * process imports it only for the inline runner.
 *
 * Promises:
 * - Every event is the contract's {@link JobEvent}, passed to `ctl.emit` as the job body made
 *   it (training: service/train.ts; the others: throttled `work` events); nothing is repacked.
 * - The result is the tagged {@link JobReturn} of the spec's kind.
 * - The gate before each step yields to the event loop (so pause / stop messages are read
 *   between steps) and waits while paused. Stop aborts the signal: train.ts stops after the
 *   current step and writes a checkpoint there; a stop while paused takes no further step.
 */
import type { JobEvent } from '../../../shared/contract';
import { isBundlePath } from '../../bundle/path';
import { Store } from '../../store/store';
import { PROGRESS_INTERVAL_MS } from '../progress';
import { continueFrom, startRun } from '../train';
import type { JobControl, JobReturn, JobSpec } from './protocol';

/** `onProgress(done, total)` of verify, study, export and import as throttled `work` events. */
function workReporter(
  emit: (e: JobEvent) => void,
  label: string,
): (done: number, total: number) => void {
  let last = -Infinity;
  return (done, total) => {
    const now = performance.now();
    if (now - last >= PROGRESS_INTERVAL_MS || done === 0 || done >= total) {
      last = now;
      emit({ type: 'work', done, total, label });
    }
  };
}

/** Runs `spec` to its end and returns its tagged result. */
export async function executeJob(spec: JobSpec, ctl: JobControl): Promise<JobReturn> {
  if (spec.kind === 'probe') {
    const { nativeAvailable } = await import('../../engine/backend');
    return { kind: 'probe', result: { tensorflow: nativeAvailable() } };
  }
  const store = await Store.open(spec.storeDir, { create: false });
  switch (spec.kind) {
    case 'train':
      return { kind: spec.kind, result: await startRun(store, spec.req, ctl) };
    case 'continue':
      return { kind: spec.kind, result: await continueFrom(store, spec.req, ctl) };
    case 'verify': {
      const onProgress = workReporter(ctl.emit, 'verifying');
      if (isBundlePath(spec.ref)) {
        const { verifyBundle } = await import('../../bundle/verify');
        return {
          kind: 'verify',
          result: await verifyBundle(spec.ref, { signal: ctl.signal, onProgress }),
        };
      }
      const { verifyRef } = await import('../verify');
      return {
        kind: 'verify',
        result: await verifyRef(store, spec.ref, {
          ...(spec.from !== undefined ? { from: spec.from } : {}),
          signal: ctl.signal,
          onProgress,
        }),
      };
    }
    case 'study': {
      const { runStudy } = await import('../study');
      // one process: a study is one job and holds one of the service's slots
      return {
        kind: 'study',
        result: await runStudy(
          store,
          {
            runs: spec.runs,
            train: spec.train,
            ...(spec.seed !== undefined ? { seed: spec.seed } : {}),
          },
          { signal: ctl.signal, onProgress: workReporter(ctl.emit, 'study runs'), parallel: 1 },
        ),
      };
    }
    case 'export': {
      const { exportBundle } = await import('../../bundle/export');
      return {
        kind: 'export',
        result: await exportBundle(store, spec.ref, spec.path, {
          withData: spec.withData === true,
          onProgress: workReporter(ctl.emit, 'exporting'),
          signal: ctl.signal,
        }),
      };
    }
    case 'import': {
      const { importBundle } = await import('../../bundle/import');
      return {
        kind: 'import',
        result: await importBundle(store, spec.path, {
          onProgress: workReporter(ctl.emit, 'importing'),
        }),
      };
    }
  }
}
