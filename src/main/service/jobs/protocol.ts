/**
 * What the service and a job process say to each other. A job process runs exactly one job:
 * it says `ready`, receives `run` with a {@link JobSpec}, streams the contract's
 * {@link JobEvent}s unchanged and ends with `done` (the tagged {@link JobOutcome}) or `failed`.
 * `pause`, `resume` and `stop` may arrive at any time after `run`. Messages are plain data
 * (structured-clone and JSON safe). Jobs, studies' runs and probes all speak it.
 */
import type { JobEvent, JobOutcome, StartRunRequest, WireError } from '../../../shared/contract';
import type { ContinueSpec, TrainSpec } from '../train';

/** Training parameters of a study (the contract's, seed optional). */
export type StudyTrain = Omit<StartRunRequest, 'seed' | 'branch'> & { seed?: number };

export type JobSpec =
  | { kind: 'train'; storeDir: string; req: TrainSpec }
  | { kind: 'continue'; storeDir: string; req: ContinueSpec }
  | { kind: 'verify'; storeDir: string; ref: string; from?: string }
  | { kind: 'study'; storeDir: string; runs: number; train: StudyTrain; seed?: number }
  | { kind: 'export'; storeDir: string; ref: string; path: string; withData?: boolean }
  | { kind: 'import'; storeDir: string; path: string }
  /** reports what this process can run (storeInfo's backends) */
  | { kind: 'probe' };

/** Result of a probe job. */
export interface ProbeResult {
  tensorflow: boolean;
}

/** What a job ends with: the contract's tagged outcome, or a probe's answer. */
export type JobReturn = JobOutcome | { kind: 'probe'; result: ProbeResult };

/** The controls of a running job, as every job body (train.ts included) takes them. */
export interface JobControl {
  readonly signal: AbortSignal;
  /**
   * resolves when the job may take its next step (waits while paused); `beforeWait` runs when
   * it is about to wait, before the pause is acknowledged (training flushes its progress there)
   */
  gate(beforeWait?: () => void): Promise<void>;
  emit(event: JobEvent): void;
}

export type ToJob =
  { type: 'run'; spec: JobSpec } | { type: 'pause' } | { type: 'resume' } | { type: 'stop' };

export type FromJob =
  | { type: 'ready' }
  /** the job has stopped at its gate after a pause; every event before it was posted first */
  | { type: 'paused' }
  | { type: 'event'; event: JobEvent }
  | { type: 'done'; result: JobReturn }
  | { type: 'failed'; error: WireError };
