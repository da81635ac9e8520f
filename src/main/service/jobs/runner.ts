/**
 * Where jobs run. A {@link JobRunner} starts one job and hands back its controls and its end.
 * - {@link processRunner}: one process per job from a {@link ProcessFactory} (a Node child
 *   process, or an Electron utility process chosen by the Electron shell), so a training step
 *   never blocks the service's thread and a job cannot leak state into the next (I3).
 * - {@link inlineRunner}: in the calling process (tests, tools); its gate yields to the event
 *   loop every step, but the steps themselves run on the caller's thread.
 */
import { LockstepError, ServiceError, toWireError } from '../../../shared/errors';
import { JobSwitch } from './switch';
import type { JobEvent } from '../../../shared/contract';
import type { FromJob, JobReturn, JobSpec, ToJob } from './protocol';

/** One job process as the service sees it. */
export interface JobProcess {
  post(message: ToJob): void;
  onMessage(listener: (message: FromJob) => void): void;
  /** the process ended (code, or a signal / error text) */
  onExit(listener: (code: number | null, detail: string | null) => void): void;
  /** kills it at once (a job that does not stop in time) */
  kill(): void;
  /** lets it exit after its last message */
  end(): void;
}

/** Starts one job process. */
export type ProcessFactory = () => JobProcess;

/** The controls of a started job. */
export interface JobHandle {
  /**
   * asks the job to pause; resolves once it has stopped at its gate with every event before
   * the pause delivered (or once it has ended)
   */
  pause(): Promise<void>;
  resume(): void;
  /** asks the job to stop (training writes a checkpoint at the current step) */
  stop(): void;
  /** ends the job at once, without a checkpoint (only after stop had its chance) */
  kill(): void;
  /** the job's tagged result; rejects with a ServiceError */
  readonly done: Promise<JobReturn>;
}

export interface JobRunner {
  start(spec: JobSpec, onEvent: (event: JobEvent) => void): JobHandle;
}

/** The callers waiting for a job to acknowledge a pause; all are let go on the ack or the end. */
class PauseAcks {
  private waiting: (() => void)[] = [];

  wait(): Promise<void> {
    return new Promise<void>((r) => this.waiting.push(r));
  }

  ack(): void {
    for (const r of this.waiting.splice(0)) {
      r();
    }
  }
}

/** Runs every job in a process of its own from `factory`. */
export function processRunner(factory: ProcessFactory): JobRunner {
  return {
    start(spec, onEvent) {
      const proc = factory();
      let settled = false;
      let ready = false;
      const held: ToJob[] = [];
      const acks = new PauseAcks();
      const control = (m: ToJob): void => {
        if (ready) {
          proc.post(m);
        } else {
          held.push(m);
        }
      };
      let resolveDone!: (v: JobReturn) => void;
      let rejectDone!: (e: unknown) => void;
      const done = new Promise<JobReturn>((res, rej) => {
        resolveDone = res;
        rejectDone = rej;
      });
      const settle = (outcome: { ok: true; value: JobReturn } | { ok: false; error: unknown }) => {
        if (settled) {
          return;
        }
        settled = true;
        acks.ack();
        if (outcome.ok) {
          resolveDone(outcome.value);
        } else {
          rejectDone(outcome.error);
        }
        proc.end();
      };
      proc.onMessage((m) => {
        switch (m.type) {
          case 'ready':
            ready = true;
            proc.post({ type: 'run', spec });
            for (const h of held.splice(0)) {
              proc.post(h);
            }
            return;
          case 'event':
            if (!settled) {
              onEvent(m.event);
            }
            return;
          case 'paused':
            acks.ack();
            return;
          case 'done':
            settle({ ok: true, value: m.result });
            return;
          case 'failed':
            settle({ ok: false, error: LockstepError.fromWire(m.error) });
            return;
        }
      });
      proc.onExit((code, detail) => {
        settle({
          ok: false,
          error: new ServiceError(
            'INTERNAL',
            `the job process exited before finishing (${detail ?? `code ${code}`})`,
          ),
        });
      });
      return {
        pause: () => {
          const acked = acks.wait();
          control({ type: 'pause' });
          return settled ? Promise.resolve() : acked;
        },
        resume: () => control({ type: 'resume' }),
        stop: () => control({ type: 'stop' }),
        kill: () => proc.kill(),
        done,
      };
    },
  };
}

/** Runs jobs in this process. */
export function inlineRunner(): JobRunner {
  return {
    start(spec, onEvent) {
      const acks = new PauseAcks();
      const sw = new JobSwitch(() => acks.ack());
      const done = (async () => {
        // start on a later turn, as a process would, so callers see `running` first
        await new Promise<void>((r) => setImmediate(r));
        try {
          const { executeJob } = await import('./execute');
          return await executeJob(spec, {
            signal: sw.signal,
            gate: (beforeWait) => sw.gate(beforeWait),
            emit: onEvent,
          });
        } catch (e) {
          throw LockstepError.fromWire(toWireError(e));
        } finally {
          acks.ack();
        }
      })();
      return {
        pause: () => {
          const acked = acks.wait();
          sw.pause();
          return acked;
        },
        resume: () => sw.resume(),
        stop: () => sw.stop(),
        kill: () => sw.stop(),
        done,
      };
    },
  };
}
