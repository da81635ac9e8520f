/**
 * The one service contract between the Lockstep service (main process / web server) and every
 * client (renderer via Electron IPC, browser via WebSocket, tests via an in-memory pair).
 *
 * `LockstepService` lists every method with its request and response; `ServiceEvents` lists every
 * event. Requests are validated at the boundary by the runtime schemas in ./schemas.ts before the
 * service sees them; errors cross the wire as {@link WireError} data and are rebuilt as
 * {@link ServiceError} on the client. Long work (training, verify, study, export) runs as a job:
 * the call returns a job id at once and progress arrives as events.
 *
 * Pure types and constants: safe to import from the renderer.
 */
import type {
  AugmentConfig,
  BackendFingerprint,
  BackendName,
  DatasetRef,
  EvalResult,
  GanConfig,
  ModelKind,
  OptimizerKind,
  ShuffleConfig,
  TrainingConfig,
} from './training';
import type { WireError } from './errors';

export type * from './training';

// ---------- the run graph ----------

export type BranchStatus = 'running' | 'done' | 'stopped' | 'diverged' | 'failed';

export interface CheckpointInfo {
  id: string;
  parent: string | null;
  step: number;
  loss?: number;
  eval?: EvalResult;
  /** ISO time the checkpoint was verified by replay, if ever */
  verified?: string;
  createdAt: string;
}

export interface BranchInfo {
  name: string;
  run: string;
  tip: string;
  /** checkpoint the branch forked from; null for a run's first branch */
  base: string | null;
  /** step of the base checkpoint */
  baseStep: number | null;
  config: TrainingConfig;
  status: BranchStatus;
  note?: string;
  createdAt: string;
  updatedAt: string;
  /** the branch's own checkpoints (after its base), newest first */
  checkpoints: CheckpointInfo[];
}

export interface RunInfo {
  id: string;
  createdAt: string;
  seed: number;
  seedSource: 'explicit' | 'auto' | 'env';
  root: string;
  config: TrainingConfig;
  branches: BranchInfo[];
}

export interface CheckpointDetails {
  stateHash: string;
  step: number;
  cursor: number;
  parent: string | null;
  config: TrainingConfig;
  backend: BackendFingerprint;
  datasetDigest: string;
  counters: Record<string, number>;
  tensors: { name: string; shape: number[] }[];
  eval?: EvalResult;
  loss?: number;
  verified?: string;
  createdAt: string;
  branches: string[];
}

export interface TensorHistogram {
  name: string;
  shape: number[];
  min: number;
  max: number;
  mean: number;
  std: number;
  /** bin edges (length bins+1) and counts (length bins) */
  edges: number[];
  counts: number[];
}

// ---------- trace / compare / verify / study ----------

export interface TraceStepInfo {
  step: number;
  loss: number;
  /** a gan's discriminator and generator losses (`loss` is dLoss) */
  dLoss?: number;
  gLoss?: number;
  batchDigest: string;
  stateDigest: string;
  indices?: number[];
}

export interface TraceInfo {
  ref: string;
  steps: TraceStepInfo[];
  evals: { step: number; eval: EvalResult }[];
  /** the checkpoint the ref names, and its step */
  checkpoint?: string;
  step?: number;
  /** digest algorithm(s) of the steps shown, e.g. 'xxh64' */
  digests?: string[];
  /** steps in the range with no recorded trace */
  missing?: number;
}

export interface CompareReport {
  identical: boolean;
  firstDivergentStep: number | null;
  tensor: string | null;
  differing: number | null;
  maxAbsDiff: number | null;
  maxUlp: number | null;
  sameData: boolean;
  sameBatchesUntil: number | null;
  /** both runs on one backend fingerprint: bitwise equality was promised */
  sameFingerprint: boolean;
  /** per-tensor table at the first divergent step */
  tensors?: { name: string; differing: number; maxAbsDiff: number; maxUlp: number }[];
  summary: string[];
  /** both refs are the same checkpoint (differs from `identical` only across fingerprints) */
  bitwiseIdentical?: boolean;
  /** step at which `tensors` were compared: the first divergent step unless a run does not replay */
  tensorStep?: number | null;
  steps?: { a: number; b: number };
  checkpoints?: { a: string; b: string };
  /** across fingerprints: the states at `step` compared with |a−b| ≤ atol + rtol·max(|a|,|b|) */
  tolerance?: { rtol: number; atol: number; step: number; within: boolean; worst: number | null };
}

export interface VerifyReport {
  verified: boolean;
  checkpoints: number;
  steps: number;
  firstMismatch: null | {
    step: number;
    checkpoint?: string;
    tensor?: string;
    detail: string;
    /** with `tensor`: count of differing elements, max |Δ|, max ULP distance */
    differing?: number;
    maxAbsDiff?: number;
    maxUlp?: number;
  };
  /** the verified checkpoint and the step the replay started from */
  checkpoint?: string;
  fromStep?: number;
  /** ms per replayed step */
  msPerStep?: number;
}

export interface StudyGroupStats {
  seeds: number[];
  /** a gan's: the discriminator's final loss */
  finalLoss: { mean: number; std: number; values: number[] };
  testPrecision: { mean: number; std: number; values: number[] };
  /** gan studies: the generator's final loss */
  generatorLoss?: { mean: number; std: number; values: number[] };
  /** gan studies: mean max-softmax confidence of a fixed classifier on the 64 samples */
  sampleQuality?: { mean: number; std: number; values: number[] };
}

export interface StudyReport {
  id: string;
  runs: number;
  sameSeed: StudyGroupStats;
  differentSeeds: StudyGroupStats;
  /** same-seed spread as a share of the different-seed spread (0 is the goal) */
  sameSeedShare: number;
  determinismBug: null | { firstDifferingStep: number | null; detail: string };
  createdAt?: string;
  baseSeed?: number;
  config?: TrainingConfig;
  steps?: number;
  /** same-seed spread of test precision as a share of the different-seed one */
  sameSeedPrecisionShare?: number;
  /** gan studies: same-seed spread of the sample quality as a share of the different-seed one */
  sameSeedQualityShare?: number;
  /** every run of the study */
  results?: {
    group: 'same' | 'different';
    seed: number;
    run: string;
    branch: string;
    checkpoint: string;
    finalLoss: number | null;
    testPrecision: number | null;
    /** gan studies: the generator's final loss and the samples' quality (see sampleQuality) */
    generatorLoss?: number | null;
    sampleQuality?: number | null;
    /** the job directory's task index (collected studies) */
    task?: number;
  }[];
  /** the store object holding this report */
  object?: string;
  /** how the runs ran: in this store ('inprocess'), or as a job directory ('local' | 'slurm') */
  executor?: 'inprocess' | ExecutorKind;
  /** collected studies: the job directory */
  jobDir?: string;
  /** collected studies: tasks with no imported result, each with why (the stats leave them out) */
  missing?: MissingTask[];
  /** collected studies: the runs re-verified by replay here, and the outcome */
  verification?: TaskVerification[];
}

/** Where a study's or sweep's tasks run. */
export type ExecutorKind = 'local' | 'slurm';

/** A task of a job directory with no imported result. */
export interface MissingTask {
  task: number;
  seed: number;
  branch: string;
  /** pending, running, failed, missing, or rejected (its bundle failed the import checks) */
  state: 'pending' | 'running' | 'failed' | 'missing' | 'rejected';
  detail: string;
}

/** One collected run re-verified by replay. */
export interface TaskVerification {
  task: number;
  checkpoint: string;
  verified: boolean;
  /** the first mismatch, when not verified */
  detail?: string;
}

/** A collected sweep: one row per grid point. */
export interface SweepReport {
  id: string;
  kind: 'sweep';
  createdAt: string;
  jobDir: string;
  executor: ExecutorKind;
  steps: number;
  axes: { lr: number[]; batchSize: number[]; seed: number[]; optimizer: OptimizerKind[] };
  results: {
    task: number;
    config: TrainingConfig;
    run: string;
    branch: string;
    checkpoint: string;
    finalLoss: number | null;
    testPrecision: number | null;
  }[];
  missing: MissingTask[];
  verification: TaskVerification[];
  object?: string;
}

/** A stored or submitted study or sweep, as the Seed study view lists it. */
export interface StudySummary {
  id: string;
  kind: 'study' | 'sweep';
  executor: 'inprocess' | ExecutorKind;
  /**
   * submitted: tasks are still pending or running; partial: collected with tasks missing;
   * collected: every run is in the store (a local in-process study is `collected` too);
   * uncollected: every task has ended but the results are not in the store yet
   */
  state: 'submitted' | 'uncollected' | 'partial' | 'collected';
  createdAt: string;
  /** runs per group (study) or grid points (sweep) */
  runs: number;
  tasks: number;
  done: number;
  failed: number;
  config?: TrainingConfig;
  steps?: number;
  jobDir?: string;
  /** a stored report exists: openStudy returns it */
  hasReport: boolean;
  /** a determinism bug was found */
  determinismBug?: boolean;
}

// ---------- requests ----------

export interface StartRunRequest {
  /** a built-in dataset or a stored one's name (listDatasets) */
  dataset: DatasetRef;
  model: ModelKind;
  hidden: number[];
  /** the `--layers` spec when model is 'layers' */
  layers?: string;
  /** seeded augmentation (crop padding, horizontal flip); absent = none */
  augment?: AugmentConfig;
  /** example order: absent = per-epoch shuffle; a seeded shuffle buffer of N examples */
  shuffle?: ShuffleConfig;
  /** model 'gan': noise size and the two networks' hidden sizes (absent = GAN_DEFAULTS) */
  gan?: GanConfig;
  /** model 'gan': the discriminator's learning rate (absent = lr; `optimizer`/`lr` are the generator's) */
  dLr?: number;
  optimizer: OptimizerKind;
  lr: number;
  batchSize: number;
  steps: number;
  /** an integer seed, or 'auto' to draw one (the drawn seed is reported in JobInfo) */
  seed: number | 'auto';
  checkpointEvery: number;
  evalEvery: number;
  backend: BackendName;
  branch?: string;
}

export interface ContinueRequest {
  ref: string;
  steps: number;
  /** a gan's: the generator's learning rate */
  lr?: number;
  /** a gan's discriminator learning rate (starts a branch) */
  dLr?: number;
  optimizer?: OptimizerKind;
  batchSize?: number;
  branch?: string;
  checkpointEvery?: number;
  evalEvery?: number;
  /** refuse, instead of starting a new branch, when the backend fingerprint differs */
  sameBranch?: boolean;
}

export type JobKind = 'train' | 'continue' | 'verify' | 'study' | 'export' | 'import';
export type JobState = 'queued' | 'running' | 'paused' | 'done' | 'stopped' | 'diverged' | 'failed';

export interface JobInfo {
  id: string;
  kind: JobKind;
  state: JobState;
  /** human label, e.g. "train fake-mlp16x8-sgd-s0" */
  label: string;
  run?: string;
  branch?: string;
  seed?: number;
  fromStep?: number;
  toStep?: number;
  step?: number;
  createdAt: string;
}

/** Result of a finished train/continue job (the CLI's train JSON plus status). */
export interface TrainResult {
  run: string;
  branch: string;
  checkpoint: string;
  step: number;
  stateHash: string;
  seed: number;
  backend: string;
  loss: number | null;
  /** a gan's final discriminator and generator losses (`loss` is dLoss) */
  dLoss?: number;
  gLoss?: number;
  msPerStep: number;
  eval: EvalResult;
  status: 'done' | 'stopped' | 'diverged';
  note?: string;
  reproduced: number;
  created: number;
}

/**
 * What a client needs to re-attach to a job it did not follow from the start (after a reload):
 * the job's info and everything its events carried so far, in order.
 */
export interface JobHistory {
  info: JobInfo;
  /**
   * the training losses the job reported so far (train/continue jobs; empty otherwise): every
   * step, thinned evenly past MAX_LOSS_POINTS (./loss-curve.ts); a gan's points are the
   * discriminator's loss with the generator's as gLoss, as progress carries them
   */
  losses: { step: number; loss: number; gLoss?: number }[];
  evals: { step: number; eval: EvalResult }[];
  checkpoints: { id: string; step: number; branch: string; created: boolean }[];
  /** the latest work progress of a non-training job */
  work?: { done: number; total: number; label: string };
  /** the job's `finished` event, once it has ended */
  finished?: ServiceEvents['finished'];
}

/** One test image of a {@link PredictionsReport}: its index in the split, label and prediction. */
export interface PredictionSample {
  index: number;
  label: number;
  prediction: number;
  /** the image's bytes (0–255, row by row, channels last: see `imageShape`) as base64 */
  pixels: string;
}

/** What a checkpoint's model predicts on a dataset split: a confusion matrix and sample images. */
export interface PredictionsReport {
  checkpoint: string;
  step: number;
  dataset: DatasetRef;
  split: 'test';
  /** matrix[label][prediction] = count of examples; classes 0–9 */
  matrix: number[][];
  /** every sample image's shape [height, width, channels] (MNIST: [28, 28, 1]) */
  imageShape: [number, number, number];
  examples: number;
  correct: number;
  /** misclassified examples first (in split order), then correct ones, at most `limit` in all */
  samples: PredictionSample[];
}

/**
 * A gan checkpoint's samples: image k is the generator's output for the fixed noise `samples/<k>`
 * of the run's seed, so the same checkpoint always gives the same grid.
 */
export interface SampleGrid {
  checkpoint: string;
  step: number;
  seed: number;
  count: number;
  /** every image's shape [height, width, channels]: [28, 28, 1] */
  imageShape: [number, number, number];
  /** count images' bytes (0–255, row by row) concatenated, as base64 */
  pixels: string;
}

/** What the store holds, counted (the store's own report, src/main/store/maintenance.ts). */
export interface StoreCounts {
  dir: string;
  objects: number;
  bytes: number;
  branches: number;
  runs: number;
}

/** The service's storeInfo: the store's counts, what can run here and the app version. */
export interface StoreInfo extends StoreCounts {
  /** backends that can run here, and the default */
  backends: { name: BackendName; available: boolean; note?: string }[];
  version: string;
}

/** A dataset stored with `lockstep data add` (a run names it as its `dataset`). */
export interface DatasetInfo {
  name: string;
  /** the format of the files it was added from (`lockstep`: a stored dataset's copy) */
  kind: 'idx' | 'cifar' | 'csv' | 'lockstep';
  /** image shape [height, width, channels] */
  shape: [number, number, number];
  examples: { train: number; validation: number; test: number };
  /** SHA-256 of the stored examples: the digest runs on it record */
  digest: string;
  bytes: number;
}

/** Every method of the service: request → response. */
export interface LockstepService {
  startRun(req: StartRunRequest): Promise<JobInfo>;
  continueRun(req: ContinueRequest): Promise<JobInfo>;
  stopJob(req: { job: string }): Promise<JobInfo>;
  pauseJob(req: { job: string }): Promise<JobInfo>;
  resumeJob(req: { job: string }): Promise<JobInfo>;
  listJobs(req: Record<string, never>): Promise<JobInfo[]>;
  /** a job's info and every loss, evaluation and checkpoint it reported so far */
  jobHistory(req: { job: string }): Promise<JobHistory>;
  listGraph(req: Record<string, never>): Promise<RunInfo[]>;
  showCheckpoint(req: { ref: string }): Promise<CheckpointDetails>;
  histograms(req: { ref: string; bins?: number }): Promise<TensorHistogram[]>;
  /** the checkpoint's predictions on the test split (computed by the engine, in the service) */
  predictions(req: { ref: string; limit?: number }): Promise<PredictionsReport>;
  /** a gan checkpoint's sample grid (default 64 images), computed by the engine in the service */
  samples(req: { ref: string; count?: number }): Promise<SampleGrid>;
  trace(req: {
    ref: string;
    from?: number;
    to?: number;
    withIndices?: boolean;
  }): Promise<TraceInfo>;
  compare(req: { a: string; b: string }): Promise<CompareReport>;
  verify(req: { ref: string; from?: string }): Promise<JobInfo>;
  study(req: {
    runs: number;
    train: Omit<StartRunRequest, 'seed' | 'branch'> & { seed?: number };
  }): Promise<JobInfo>;
  /** every stored study and sweep, and every submitted job directory, newest first */
  listStudies(req: Record<string, never>): Promise<StudySummary[]>;
  /** a stored study's or sweep's report (NOT_FOUND when it has none yet) */
  openStudy(req: { id: string }): Promise<StudyReport | SweepReport>;
  /**
   * Exports to `path` (absolute; never inside the store; an existing file only with
   * `overwrite: true`). `withData: true` also carries the store's datasets the checkpoints were
   * trained on (never the built-in ones), as the CLI's `export --with-data`: the bundle then
   * replays where the data never was.
   */
  exportBundle(req: {
    ref: string;
    path: string;
    overwrite?: boolean;
    withData?: boolean;
  }): Promise<JobInfo>;
  importBundle(req: { path: string }): Promise<JobInfo>;
  storeInfo(req: Record<string, never>): Promise<StoreInfo>;
  /** the store's own datasets (usable as a run's dataset next to the built-in ones), by name */
  listDatasets(req: Record<string, never>): Promise<DatasetInfo[]>;
  /** removes a branch record; gc later frees what nothing else reaches */
  deleteBranch(req: { name: string }): Promise<RemovedInfo>;
  /** removes a run, all its branches, and its checkpoints from keep refs */
  deleteRun(req: { id: string }): Promise<RemovedInfo>;
}

/** What deleteBranch / deleteRun removed. */
export interface RemovedInfo {
  branches: string[];
  run?: string;
  /** keep refs (e.g. studies) that no longer hold the run's checkpoints */
  keeps: string[];
}

export type MethodName = keyof LockstepService;

/** The names of a record that lists each one once: the compiler checks that none is missing. */
function namesOf<N extends string>(all: Record<N, true>): readonly N[] {
  return Object.keys(all) as N[];
}

/** Every method name, in contract order (the generated wiring iterates over this list). */
export const METHOD_NAMES = namesOf<MethodName>({
  startRun: true,
  continueRun: true,
  stopJob: true,
  pauseJob: true,
  resumeJob: true,
  listJobs: true,
  jobHistory: true,
  listGraph: true,
  showCheckpoint: true,
  histograms: true,
  predictions: true,
  samples: true,
  trace: true,
  compare: true,
  verify: true,
  study: true,
  listStudies: true,
  openStudy: true,
  exportBundle: true,
  importBundle: true,
  storeInfo: true,
  listDatasets: true,
  deleteBranch: true,
  deleteRun: true,
});

export type RequestOf<M extends MethodName> = Parameters<LockstepService[M]>[0];
export type ResponseOf<M extends MethodName> = Awaited<ReturnType<LockstepService[M]>>;

// ---------- events ----------

/** What an export job produced. */
export interface ExportResult {
  path: string;
  bytes: number;
}

/** What an import job did. */
export interface ImportResult {
  /** branches created in the store (their names there) */
  imported: string[];
  /** bundle name → store name, for every branch (and `run:<id>`) that had to be renamed */
  renamed: Record<string, string>;
  /** branches that were already in the store, identical (a repeated import) */
  existing: string[];
}

/** A job's result, tagged by the job's kind: a consumer switches on `kind`, never on fields. */
export type JobOutcome =
  | { kind: 'train' | 'continue'; result: TrainResult }
  | { kind: 'verify'; result: VerifyReport }
  | { kind: 'study'; result: StudyReport }
  | { kind: 'export'; result: ExportResult }
  | { kind: 'import'; result: ImportResult };

/**
 * The events a running job produces, declared once: service/train.ts and the other job bodies
 * emit them in this shape, the job protocol carries them unchanged, and the service adds only
 * the job id (`ServiceEvents[K] = { job } & JobEventPayloads[K]`).
 */
export interface JobEventPayloads {
  /** training progress, at most ~10 per second per job: the steps since the last event */
  progress: {
    step: number;
    toStep: number;
    stepsPerSecond: number;
    /** every step's loss (a gan's: the discriminator's, with the generator's as gLoss) */
    losses: { step: number; loss: number; gLoss?: number }[];
  };
  /** an evaluation was made */
  metrics: { step: number; eval: EvalResult };
  /** a checkpoint was written (created false: it already existed, identical) */
  checkpoint: { id: string; step: number; branch: string; created: boolean };
  /** progress of non-training jobs (verify, study, export, import) as a fraction */
  work: { done: number; total: number; label: string };
  /** a human-readable note from a job (a backend fallback, a new branch, reproduced steps) */
  notice: { message: string };
}

/**
 * What a training job says once it knows its run, branch and step range, before any progress,
 * metrics or checkpoint event (its step-0 checkpoint included). The service merges it into the job's
 * {@link JobInfo} and announces it as a `job` event.
 */
export interface JobStarted {
  run: string;
  branch: string;
  seed: number;
  fromStep: number;
  toStep: number;
  backend: BackendName;
}

/** One event of a running job as it crosses the job protocol: its name in `type`. */
export type JobEvent =
  | ({ type: 'started' } & JobStarted)
  | { [K in keyof JobEventPayloads]: { type: K } & JobEventPayloads[K] }[keyof JobEventPayloads];

/** The `finished` event: the tagged outcome, or the error (then `result` is absent). */
export type FinishedEvent = { job: string } & (
  (JobOutcome & { error?: undefined }) | { kind: JobKind; error: WireError; result?: undefined }
);

export type ServiceEvents = {
  /** a job changed state (queued → running → paused → done | stopped | diverged | failed) */
  job: JobInfo;
  /** a job finished; exactly one of result / error */
  finished: FinishedEvent;
  /**
   * the store's run graph changed on disk (a run, branch or checkpoint written by this service
   * or by another process, e.g. the CLI): re-read it with listGraph
   */
  graphChanged: Record<string, never>;
} & { [K in keyof JobEventPayloads]: { job: string } & JobEventPayloads[K] };

export type EventName = keyof ServiceEvents;

/** Every event name (the generated wiring iterates over this list). */
export const EVENT_NAMES = namesOf<EventName>({
  job: true,
  progress: true,
  metrics: true,
  checkpoint: true,
  finished: true,
  work: true,
  notice: true,
  graphChanged: true,
});

// ---------- errors ----------

export { ERROR_CODES, ServiceError, type ErrorCode, type WireError } from './errors';

/** Subscriptions return a disposer. */
export type Disposer = () => void;

/** What a client of any transport offers: the methods, plus typed event subscription. */
export type LockstepClient = LockstepService & {
  on<E extends EventName>(event: E, listener: (payload: ServiceEvents[E]) => void): Disposer;
};

/** Form limits shared by the UI's field validation and the service's schemas (./limits.ts). */
export { LIMITS } from './limits';
