/**
 * The application's shared state: the run graph, the jobs the UI follows, the store, the current
 * view and selection, and notices. Everything comes from one LockstepClient; events update the
 * live jobs at once and refresh the run graph (throttled) when checkpoints land or the store
 * changes on disk (`graphChanged`, e.g. a run trained with the CLI).
 */
import { SvelteMap } from 'svelte/reactivity';
import type {
  ContinueRequest,
  Disposer,
  JobInfo,
  LockstepClient,
  RunInfo,
  StartRunRequest,
  StoreInfo,
} from '../../../../shared/contract';
import { LiveJob, trainResultOf, type Finished } from './live.svelte';
import { branchColors, branchIndex } from '../colors';
import { jobTitle } from '../job-title';
import { theme } from './theme.svelte';

export type View = 'runs' | 'charts' | 'compare' | 'study' | 'bundles';

export interface Notice {
  id: number;
  kind: 'info' | 'success' | 'error';
  text: string;
}

/** The message of anything thrown. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class AppState {
  readonly client: LockstepClient;
  runs = $state.raw<RunInfo[]>([]);
  store = $state.raw<StoreInfo | null>(null);
  loaded = $state(false);
  view = $state<View>('runs');
  /** selected checkpoint id */
  selected = $state<string | null>(null);
  /** the branch it was picked on (a checkpoint can be on several branches), if known */
  selectedBranch = $state<string | null>(null);
  /** job shown in the live panel */
  focusJob = $state<string | null>(null);
  jobs = new SvelteMap<string, LiveJob>();
  notices = $state.raw<Notice[]>([]);
  /** checkpoint id → "<job title> at HH:MM" of the job that reproduced it bit for bit */
  reproduced = new SvelteMap<string, string>();
  /** checkpoint id → ISO time verified in this session */
  verified = new SvelteMap<string, string>();
  /** bumped after every graph refresh (for views that re-query) */
  graphVersion = $state(0);
  /** false once the connection to the service is lost (web mode) */
  connected = $state(true);
  /** branch name → its colour, the same in every view */
  colors = $derived(branchColors(this.runs, theme.dark));
  /** branch name → its number in the graph (for line styles once colours repeat) */
  branchNumbers = $derived(branchIndex(this.runs));

  #disposers: Disposer[] = [];
  #refreshTimer: ReturnType<typeof setTimeout> | null = null;
  #refreshDue = 0;
  #noticeId = 0;
  /** verify job id → the ref it verifies */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping, never rendered
  #verifying = new Map<string, string>();
  /** ref → the newest verify job started for it from this window (the inspector shows it) */
  #verifyOf = new SvelteMap<string, string>();

  constructor(client: LockstepClient) {
    this.client = client;
  }

  /** Subscribes to events and loads the store, graph and jobs. */
  async init(): Promise<void> {
    const c = this.client;
    this.#disposers.push(
      c.on('job', (info) => {
        this.#job(info).setInfo(info);
        if (info.state !== 'running' && info.state !== 'queued') {
          this.refreshSoon();
        }
      }),
      c.on('progress', (p) => this.jobs.get(p.job)?.onProgress(p)),
      c.on('metrics', (m) => this.jobs.get(m.job)?.onMetrics(m)),
      c.on('checkpoint', (e) => {
        const job = this.jobs.get(e.job);
        job?.onCheckpoint(e);
        if (!e.created && job && job.fromStep !== e.step) {
          // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a timestamp, not state
          const at = new Date().toTimeString().slice(0, 5);
          this.reproduced.set(e.id, `${jobTitle(job.info, this.runs)} at ${at}`);
        }
        this.refreshSoon();
      }),
      c.on('work', (w) => this.jobs.get(w.job)?.onWork(w)),
      c.on('finished', (f) => {
        const job = this.jobs.get(f.job);
        job?.onFinished(f);
        this.#verified(f);
        if (f.error) {
          this.notify('error', `${job?.info.label ?? f.kind} failed: ${f.error.message}`);
        } else {
          const r = trainResultOf(f);
          if (r !== null && r.status === 'diverged') {
            this.notify(
              'error',
              `${r.branch} diverged: ${r.note ?? 'the loss became non-finite'}. Try a lower learning rate.`,
            );
          } else if (r !== null && r.reproduced > 0 && r.created === 0) {
            const n = r.reproduced;
            this.notify(
              'success',
              `Identical: ${n === 1 ? 'the checkpoint was' : `all ${n} checkpoints were`} reproduced bit for bit; no new checkpoint.`,
            );
          }
        }
        this.refreshSoon(0);
      }),
      // the store changed on disk (e.g. a CLI run in another terminal)
      c.on('graphChanged', () => this.refreshSoon(100)),
    );
    // a request that fails here is said in a notice: the app opens on what did load (the service
    // answered; "cannot reach the service" would be wrong)
    await Promise.all([
      this.refreshGraph(),
      this.#loadJobs().catch((err: unknown) => {
        this.notify('error', `Could not load the jobs: ${messageOf(err)}`);
      }),
      this.#loadStore().catch((err: unknown) => {
        this.notify('error', `Could not read the store: ${messageOf(err)}`);
      }),
    ]);
    this.loaded = true;
  }

  dispose(): void {
    for (const d of this.#disposers) {
      d();
    }
    this.#disposers = [];
  }

  #job(info: JobInfo, focus = true): LiveJob {
    let job = this.jobs.get(info.id);
    if (!job) {
      job = new LiveJob(info);
      this.jobs.set(info.id, job);
      if (
        focus &&
        job.isTraining &&
        (this.focusJob === null || !this.jobs.get(this.focusJob)?.active)
      ) {
        this.focusJob = info.id;
      }
    }
    return job;
  }

  /**
   * Loads every job the service knows; re-attaches to the unfinished ones with their history so
   * far (loss curve, evaluations, checkpoints), so a reload loses nothing.
   */
  async #loadJobs(): Promise<void> {
    const infos = await this.client.listJobs({});
    const histories: Promise<void>[] = [];
    for (const info of infos) {
      // a job that ended before this window opened has no curve to show: the timeline has it
      const ended = info.state !== 'queued' && info.state !== 'running' && info.state !== 'paused';
      const job = this.#job(info, !ended);
      job.setInfo(info);
      if (!ended) {
        histories.push(
          this.client.jobHistory({ job: info.id }).then(
            (h) => job.load(h),
            (err: unknown) =>
              this.notify('error', `Could not load ${info.label}'s progress: ${messageOf(err)}`),
          ),
        );
      }
    }
    await Promise.all(histories);
  }

  /** Loads a job's history so far (e.g. an ended job the user opens from the job list). */
  async loadHistory(id: string): Promise<void> {
    const job = this.jobs.get(id);
    if (job === undefined) {
      return;
    }
    try {
      job.load(await this.client.jobHistory({ job: id }));
    } catch (err) {
      this.notify('error', `Could not load the job's progress: ${messageOf(err)}`);
    }
  }

  /** Marks the service connection as lost: jobs are no longer live, nothing can be started. */
  lose(): void {
    this.connected = false;
  }

  async #loadStore(): Promise<void> {
    this.store = await this.client.storeInfo({});
  }

  /** Reloads the run graph now. */
  async refreshGraph(): Promise<void> {
    try {
      this.runs = await this.client.listGraph({});
      this.graphVersion++;
    } catch (err) {
      this.notify('error', `Could not load the run graph: ${messageOf(err)}`);
    }
  }

  /** Reloads the run graph after `ms` (coalescing bursts of events). */
  refreshSoon(ms = 250): void {
    const due = performance.now() + ms;
    if (this.#refreshTimer !== null) {
      if (due >= this.#refreshDue) {
        return; // the pending refresh comes sooner
      }
      clearTimeout(this.#refreshTimer);
    }
    this.#refreshDue = due;
    this.#refreshTimer = setTimeout(() => {
      this.#refreshTimer = null;
      void this.refreshGraph();
      void this.#loadStore().catch(() => undefined);
    }, ms);
  }

  notify(kind: Notice['kind'], text: string): void {
    const id = ++this.#noticeId;
    this.notices = [...this.notices.slice(-4), { id, kind, text }];
    if (kind !== 'error') {
      setTimeout(() => this.dismiss(id), 8000);
    }
  }

  dismiss(id: number): void {
    this.notices = this.notices.filter((n) => n.id !== id);
  }

  /** Starts a new run and follows it. */
  async startRun(req: StartRunRequest): Promise<LiveJob> {
    const info = await this.client.startRun(req);
    const job = this.#job(info);
    job.setInfo(info);
    this.focusJob = info.id;
    return job;
  }

  /** Continues or branches from a checkpoint and follows the job. */
  async continueRun(req: ContinueRequest): Promise<LiveJob> {
    const info = await this.client.continueRun(req);
    const job = this.#job(info);
    job.setInfo(info);
    this.focusJob = info.id;
    return job;
  }

  /** Follows a non-training job (verify, study, export, import) from its JobInfo. */
  follow(info: JobInfo): LiveJob {
    const job = this.#job(info);
    job.setInfo(info);
    return job;
  }

  /** Starts verifying a ref; the result becomes a notice and a "verified" badge. */
  async verify(ref: string): Promise<LiveJob | null> {
    try {
      const job = this.follow(await this.client.verify({ ref }));
      this.#verifying.set(job.info.id, ref);
      this.#verifyOf.set(ref, job.info.id);
      this.notify('info', `Verifying ${ref.slice(0, 12)}: replaying from the start…`);
      return job;
    } catch (err) {
      this.notify('error', `Could not verify: ${messageOf(err)}`);
      return null;
    }
  }

  /** The newest verify job this window started for `ref`, if any (running or ended). */
  verifyJob(ref: string): LiveJob | null {
    const id = this.#verifyOf.get(ref);
    return id === undefined ? null : (this.jobs.get(id) ?? null);
  }

  #verified(f: Finished): void {
    const ref = this.#verifying.get(f.job);
    if (ref === undefined || f.kind !== 'verify' || f.result === undefined) {
      return;
    }
    const r = f.result;
    this.#verifying.delete(f.job);
    if (r.verified) {
      // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a timestamp, not state
      this.verified.set(ref, new Date().toISOString());
      this.notify('success', `Verified: ${r.checkpoints} checkpoints replayed bit for bit.`);
    } else {
      this.notify('error', `Not verified: ${r.firstMismatch?.detail ?? 'a checkpoint differs'}`);
    }
  }

  async control(job: string, action: 'pause' | 'resume' | 'stop'): Promise<void> {
    try {
      const req = { job };
      const info =
        action === 'pause'
          ? await this.client.pauseJob(req)
          : action === 'resume'
            ? await this.client.resumeJob(req)
            : await this.client.stopJob(req);
      this.#job(info).setInfo(info);
    } catch (err) {
      this.notify('error', `Could not ${action} the job: ${messageOf(err)}`);
    }
  }

  /** Selects a checkpoint, as seen on `branch` when given (see {@link selectedBranch}). */
  select(id: string | null, branch: string | null = null): void {
    this.selected = id;
    this.selectedBranch = branch;
  }

  /** The job shown in the live panel, if any. */
  get focused(): LiveJob | null {
    return this.focusJob === null ? null : (this.jobs.get(this.focusJob) ?? null);
  }

  /** Every branch of every run (flattened). */
  get branches(): { run: RunInfo; name: string; baseStep: number | null }[] {
    return this.runs.flatMap((run) =>
      run.branches.map((b) => ({ run, name: b.name, baseStep: b.baseStep })),
    );
  }
}
