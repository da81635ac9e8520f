/**
 * Stored and submitted studies for the Seed study view (service `listStudies` / `openStudy`).
 *
 * A study or sweep is known to the store by keep refs: `study/<id>` (a study report, local or
 * collected), `sweep/<id>` (a collected sweep report) and `job/<id>` (a job directory that was
 * submitted or collected from this store). `listStudySummaries` joins them by id, newest first;
 * for a job directory without a complete report it asks ../executors/status.ts for the tasks'
 * states (squeue for Slurm jobs), so a job that is still running shows as `submitted`. A job
 * directory that has gone away is listed from what the store remembers. Read-only.
 */
import {
  ServiceError,
  type StudyReport,
  type StudySummary,
  type SweepReport,
} from '../../shared/contract';
import type { TrainingConfig } from '../engine/types';
import { jobStatus } from '../executors/status';
import type { Store } from '../store/store';
import { compareCodeUnits } from '../../shared/order';
import { STUDY_KEEP_PREFIX } from './study';

const SWEEP_PREFIX = 'sweep/';
const JOB_PREFIX = 'job/';

interface JobRef {
  id: string;
  kind: 'study' | 'sweep';
  executor: 'local' | 'slurm';
  dir: string;
  createdAt: string;
  runs: number;
  tasks: number;
  config: TrainingConfig;
  steps: number;
}

async function readJson<T>(store: Store, id: string): Promise<T> {
  return JSON.parse(new TextDecoder().decode(await store.getObject(id))) as T;
}

/** Every stored study and sweep and every registered job directory, newest first. */
export async function listStudySummaries(store: Store): Promise<StudySummary[]> {
  const reports = new Map<string, StudyReport | SweepReport>();
  const jobs = new Map<string, JobRef>();
  for (const [name, ids] of await store.listKeeps()) {
    if (ids.length === 0) {
      continue;
    }
    if (name.startsWith(STUDY_KEEP_PREFIX) || name.startsWith(SWEEP_PREFIX)) {
      const r = await readJson<StudyReport | SweepReport>(store, ids[0]);
      reports.set(r.id, { ...r, object: ids[0] });
    } else if (name.startsWith(JOB_PREFIX)) {
      const j = await readJson<JobRef>(store, ids[0]);
      jobs.set(j.id, j);
    }
  }
  const out: StudySummary[] = [];
  for (const id of new Set([...reports.keys(), ...jobs.keys()])) {
    const r = reports.get(id);
    const j = jobs.get(id);
    const isSweep = r ? 'kind' in r && r.kind === 'sweep' : j?.kind === 'sweep';
    const missing = r?.missing ?? [];
    const resultCount = r?.results?.length ?? 0;
    const config = (r && 'config' in r ? r.config : undefined) ?? j?.config;
    const summary: StudySummary = {
      id,
      kind: isSweep ? 'sweep' : 'study',
      executor: r?.executor ?? j?.executor ?? 'inprocess',
      state: r ? (missing.length > 0 ? 'partial' : 'collected') : 'uncollected',
      createdAt: r?.createdAt ?? j?.createdAt ?? '',
      runs: r && !isSweep ? (r as StudyReport).runs : (j?.runs ?? resultCount),
      tasks: j?.tasks ?? resultCount + missing.length,
      done: resultCount,
      failed: missing.filter((m) => m.state === 'failed' || m.state === 'rejected').length,
      ...(config ? { config } : {}),
      ...((r?.steps ?? j?.steps) ? { steps: r?.steps ?? j?.steps } : {}),
      ...((r?.jobDir ?? j?.dir) ? { jobDir: r?.jobDir ?? j?.dir } : {}),
      hasReport: r !== undefined,
      ...(r && !isSweep ? { determinismBug: (r as StudyReport).determinismBug !== null } : {}),
    };
    if (j && summary.state !== 'collected') {
      try {
        const st = await jobStatus(j.dir);
        summary.done = st.counts.done;
        summary.failed = st.counts.failed;
        if (st.counts.pending + st.counts.running > 0) {
          summary.state = 'submitted';
        } else if (r && st.counts.done === resultCount) {
          summary.state = 'partial';
        } else {
          summary.state = 'uncollected';
        }
      } catch {
        // the job directory is gone or unreadable: keep what the store knows
      }
    }
    out.push(summary);
  }
  return out.sort(
    (a, b) => compareCodeUnits(b.createdAt, a.createdAt) || compareCodeUnits(a.id, b.id),
  );
}

/** A stored study's or sweep's report; NOT_FOUND when there is none (yet). */
export async function openStudy(store: Store, id: string): Promise<StudyReport | SweepReport> {
  const keeps = await store.listKeeps();
  for (const name of [`${STUDY_KEEP_PREFIX}${id}`, `${SWEEP_PREFIX}${id}`]) {
    const ids = keeps.get(name);
    if (ids && ids.length > 0) {
      const r = await readJson<StudyReport | SweepReport>(store, ids[0]);
      return { ...r, object: ids[0] };
    }
  }
  throw new ServiceError(
    'NOT_FOUND',
    jobsHas(keeps, id)
      ? `study ${id} has not been collected yet (run: lockstep study collect <job dir>)`
      : `no stored study or sweep '${id}'`,
  );
}

function jobsHas(keeps: Map<string, string[]>, id: string): boolean {
  return keeps.has(`${JOB_PREFIX}${id}`);
}
