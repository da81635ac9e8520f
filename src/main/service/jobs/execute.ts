/**
 * Runs one job to its end in the current process: the body shared by the job process (Node child
 * or Electron utility process) and the inline runner. It loads the engine: the service's own
 * process imports it only for the inline runner.
 *
 * Promises:
 * - Training reports progress at most every {@link PROGRESS_INTERVAL_MS} with the losses of
 *   every step since the last report, and always before a checkpoint, an evaluation and the end,
 *   so a consumer sees steps in order and none is lost.
 * - The gate before each step yields to the event loop (so pause / stop messages are read
 *   between steps) and waits while paused. Stop aborts the signal: train.ts stops after the
 *   current step and writes a checkpoint there. A stop while paused releases the gate, so one
 *   more step runs before the checkpoint (train.ts checks the signal before its gate).
 */
import type { StudyReport, TrainResult, VerifyReport } from '../../../shared/contract';
import { Store } from '../../store/store';
import { continueFrom, startRun, type JobEvents } from '../train';
import { isBundlePath, type JobEvent, type JobSpec, type ProbeResult } from './protocol';

export const PROGRESS_INTERVAL_MS = 100;

/** The controls of a running job. */
export interface JobControl {
  readonly signal: AbortSignal;
  /** resolves when the job may take its next step */
  gate(): Promise<void>;
  emit(event: JobEvent): void;
}

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

/** Training callbacks that batch step losses into throttled progress events. */
function trainingEvents(ctl: JobControl): JobEvents & { flush(): void } {
  let toStep = 0;
  let losses: { step: number; loss: number }[] = [];
  let lastFlush = performance.now();
  let lastStep = 0;
  let stepsAtFlush = 0;
  const flush = (): void => {
    if (losses.length === 0) {
      return;
    }
    const now = performance.now();
    const dt = (now - lastFlush) / 1000;
    const rate = dt > 0 ? (lastStep - stepsAtFlush) / dt : 0;
    ctl.emit({ type: 'progress', step: lastStep, toStep, stepsPerSecond: rate, losses });
    losses = [];
    lastFlush = now;
    stepsAtFlush = lastStep;
  };
  return {
    flush,
    started(i) {
      toStep = i.toStep;
      lastStep = i.fromStep;
      stepsAtFlush = i.fromStep;
      lastFlush = performance.now();
      ctl.emit({
        type: 'started',
        run: i.run,
        branch: i.branch,
        fromStep: i.fromStep,
        toStep: i.toStep,
        seed: i.config.seed,
      });
    },
    step(s) {
      losses.push({ step: s.step, loss: s.loss });
      lastStep = s.step;
      if (performance.now() - lastFlush >= PROGRESS_INTERVAL_MS) {
        flush();
      }
    },
    checkpoint(c) {
      flush();
      ctl.emit({ type: 'checkpoint', id: c.id, step: c.step, created: c.created });
    },
    evaluated(e) {
      flush();
      ctl.emit({ type: 'metrics', step: e.step, eval: e.eval });
    },
    notice(message) {
      ctl.emit({ type: 'notice', message });
    },
    gate: () => ctl.gate(),
  };
}

/** Runs `spec` to its end and returns its result (the contract's `finished.result`). */
export async function executeJob(spec: JobSpec, ctl: JobControl): Promise<unknown> {
  if (spec.kind === 'probe') {
    const { nativeAvailable } = await import('../../engine/backend');
    return { tensorflow: nativeAvailable() } satisfies ProbeResult;
  }
  const store = await Store.open(spec.storeDir, { create: false });
  switch (spec.kind) {
    case 'train':
    case 'continue': {
      const events = trainingEvents(ctl);
      try {
        const result =
          spec.kind === 'train'
            ? await startRun(store, spec.req, events, ctl.signal)
            : await continueFrom(store, spec.req, events, ctl.signal);
        return result satisfies TrainResult;
      } finally {
        events.flush();
      }
    }
    case 'verify': {
      const onProgress = workReporter(ctl.emit, 'verifying');
      if (isBundlePath(spec.ref)) {
        const { verifyBundle } = await import('../../bundle/verify');
        return (await verifyBundle(spec.ref, {
          signal: ctl.signal,
          onProgress,
        })) satisfies VerifyReport;
      }
      const { verifyRef } = await import('../verify');
      return (await verifyRef(store, spec.ref, {
        ...(spec.from !== undefined ? { from: spec.from } : {}),
        signal: ctl.signal,
        onProgress,
      })) satisfies VerifyReport;
    }
    case 'study': {
      const { runStudy } = await import('../study');
      // one process: a study is one job and holds one of the service's slots
      return (await runStudy(
        store,
        {
          runs: spec.runs,
          train: spec.train,
          ...(spec.seed !== undefined ? { seed: spec.seed } : {}),
        },
        { signal: ctl.signal, onProgress: workReporter(ctl.emit, 'study runs'), parallel: 1 },
      )) satisfies StudyReport;
    }
    case 'export': {
      const { exportBundle } = await import('../../bundle/export');
      return exportBundle(store, spec.ref, spec.path, {
        onProgress: workReporter(ctl.emit, 'exporting'),
        signal: ctl.signal,
      });
    }
    case 'import': {
      const { importBundle } = await import('../../bundle/import');
      return importBundle(store, spec.path, { onProgress: workReporter(ctl.emit, 'importing') });
    }
  }
}
