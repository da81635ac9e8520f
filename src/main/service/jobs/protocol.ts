/**
 * What the service and a job process say to each other. A job process runs exactly one job:
 * it says `ready`, receives `run` with a {@link JobSpec}, streams {@link JobEvent}s and ends with
 * `done` or `failed`. `pause`, `resume` and `stop` may arrive at any time after `run`.
 * Messages are plain data (structured-clone and JSON safe).
 */
import type { ContinueRequest, StartRequest } from '../train';
import type { EvalResult, StartRunRequest, WireError } from '../../../shared/contract';

/** Training parameters of a study (the contract's, seed optional). */
export type StudyTrain = Omit<StartRunRequest, 'seed' | 'branch'> & { seed?: number };

export type JobSpec =
  | { kind: 'train'; storeDir: string; req: StartRequest }
  | { kind: 'continue'; storeDir: string; req: ContinueRequest }
  | { kind: 'verify'; storeDir: string; ref: string; from?: string }
  | { kind: 'study'; storeDir: string; runs: number; train: StudyTrain; seed?: number }
  | { kind: 'export'; storeDir: string; ref: string; path: string }
  | { kind: 'import'; storeDir: string; path: string }
  /** reports what this process can run (storeInfo's backends) */
  | { kind: 'probe' };

export type JobEvent =
  | { type: 'started'; run: string; branch: string; fromStep: number; toStep: number; seed: number }
  | {
      type: 'progress';
      step: number;
      toStep: number;
      stepsPerSecond: number;
      losses: { step: number; loss: number }[];
    }
  | { type: 'checkpoint'; id: string; step: number; created: boolean }
  | { type: 'metrics'; step: number; eval: EvalResult }
  | { type: 'notice'; message: string }
  | { type: 'work'; done: number; total: number; label: string };

export type ToJob =
  { type: 'run'; spec: JobSpec } | { type: 'pause' } | { type: 'resume' } | { type: 'stop' };

export type FromJob =
  | { type: 'ready' }
  | { type: 'event'; event: JobEvent }
  | { type: 'done'; result: unknown }
  | { type: 'failed'; error: WireError };

/** Result of a probe job. */
export interface ProbeResult {
  tensorflow: boolean;
}

/** True when a verify `ref` names a bundle file (`….lockstep` with a folder) rather than a ref. */
export function isBundlePath(ref: string): boolean {
  return ref.endsWith('.lockstep') && (ref.includes('/') || ref.includes('\\'));
}
