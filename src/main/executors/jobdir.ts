/**
 * The job directory: one self-contained folder that describes a study or a sweep as independent
 * training tasks, and that the tasks' results come back to. The same layout serves every
 * executor (`local`: one process per core on this machine; `slurm`: a job array):
 *
 *   job.json             the job: kind, id, the base config, every task (config, seed, branch,
 *                        the exact `lockstep train` arguments), the executor and its options
 *   task.sh              runs task <i> (argument, or $SLURM_ARRAY_TASK_ID): `node <cli> train`
 *                        into a fresh store on node-local disk ($TMPDIR or /tmp) (after `data
 *                        add` of the job's stored dataset, if it has one), `export` of the
 *                        task's branch, then the bundle is copied next to its final name and
 *                        renamed into place (temp + rename: it appears complete or not at all)
 *   submit.sbatch        (slurm) the sbatch script: --array=0-(N-1), --requeue, resources
 *   submissions.json     (slurm) every sbatch submission: job id, task indices, time
 *   task-<i>.lockstep    task i's result: a bundle of its branch (untrusted until collected)
 *   state/task-<i>.*     markers the task script writes: `.running` (host, pid, Slurm job id),
 *                        `.failed` (exit code); removed when the task succeeds
 *   logs/task-<i>.out    the task's stdout and stderr
 *   datasets/<digest>    a stored dataset the tasks train on, carried to them (./job-dataset.ts)
 *
 * `job.json` and `submissions.json` are written with temp + rename. Reading a job directory
 * checks `job.json` field by field (it may come from another machine), and the dataset copy
 * against its digest, and fails with an InputError naming the problem. A config may name a
 * stored dataset only when job.json carries it (`dataset`). Paths in the scripts are absolute and single-quoted; every
 * value that reaches a script was checked against a strict pattern first.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { InputError, type TrainingConfig } from '../engine/types';
import { repoRoot } from '../entry-points';
import { BACKENDS, DATASETS, MODELS, OPTIMIZERS, STORED_DATASET_NAME } from '../engine/types';
import { checkJobDataset, jobDatasetPath, writeJobDataset, type JobDataset } from './job-dataset';

export const JOB_FORMAT = 'lockstep/job@1';
export const JOB_FILE = 'job.json';
export const TASK_SCRIPT = 'task.sh';
export const SBATCH_SCRIPT = 'submit.sbatch';
export const SUBMISSIONS_FILE = 'submissions.json';

export type ExecutorName = 'local' | 'slurm';
export const EXECUTORS: readonly ExecutorName[] = ['local', 'slurm'];

/** One training task of a job. */
export interface TaskSpec {
  index: number;
  /** study: same-seed or different-seed group; sweep: a grid point */
  group: 'same' | 'different' | 'sweep';
  seed: number;
  /** the task's branch name (in its own store, in the bundle, and after collect) */
  branch: string;
  config: TrainingConfig;
  steps: number;
  checkpointEvery: number;
  evalEvery: number;
}

/** Slurm resources; every field optional (Slurm's defaults apply). */
export interface SlurmOptions {
  partition?: string;
  /** time limit, e.g. `30`, `1:00:00`, `2-00:00:00` */
  time?: string;
  cpusPerTask?: number;
  /** memory per node, e.g. `2G`, `500M` */
  mem?: string;
  account?: string;
}

/** The sweep's grid, each axis as given (the tasks are their cross product). */
export interface SweepAxes {
  lr: number[];
  batchSize: number[];
  seed: number[];
  optimizer: TrainingConfig['optimizer']['kind'][];
}

export interface JobSpec {
  format: typeof JOB_FORMAT;
  kind: 'study' | 'sweep';
  id: string;
  createdAt: string;
  executor: ExecutorName;
  /** absolute paths the task script runs: the Node binary and the CLI entry (bin/lockstep.mjs) */
  node: string;
  cli: string;
  /** the base config (study: the base seed's config; sweep: the first grid point's) */
  config: TrainingConfig;
  steps: number;
  /** study: runs per group and base seed */
  runs?: number;
  baseSeed?: number;
  /** sweep: the grid */
  axes?: SweepAxes;
  slurm?: SlurmOptions;
  /** the stored dataset every task trains on, carried in the job directory (none: a built-in) */
  dataset?: JobDataset;
  tasks: TaskSpec[];
}

export interface Submission {
  jobId: string;
  tasks: number[];
  at: string;
}

/**
 * The CLI entry this checkout runs (absolute), for task scripts: bin/lockstep.mjs, which runs
 * the CLI bundle when it is up to date with the sources.
 */
export function defaultCliPath(): string {
  return join(repoRoot(), 'bin', 'lockstep.mjs');
}

/** A new job id: `<kind>-YYYYMMDD-HHMMSS-<6 hex>`. */
export function newJobId(kind: 'study' | 'sweep', now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return `${kind}-${stamp}-${randomBytes(3).toString('hex')}`;
}

export const bundleName = (i: number): string => `task-${i}.lockstep`;
export const bundlePath = (dir: string, i: number): string => join(dir, bundleName(i));
export const logPath = (dir: string, i: number): string => join(dir, 'logs', `task-${i}.out`);
export const markerPath = (dir: string, i: number, kind: 'running' | 'failed'): string =>
  join(dir, 'state', `task-${i}.${kind}`);

/** The `lockstep train` arguments of a task (the CLI contract's options, explicit seed). */
export function trainArgs(t: TaskSpec): string[] {
  const c = t.config;
  // what `train` has no option for must not be dropped silently: the task would train another run
  const o = c.optimizer as unknown as Record<string, unknown>;
  const extra = ['momentum', 'beta1', 'beta2', 'epsilon'].filter((k) => o[k] !== undefined);
  if (c.augment !== undefined && c.augment.crop === 0 && !c.augment.flip) {
    extra.push('an empty augmentation');
  }
  if (extra.length > 0) {
    throw new InputError(`a job directory cannot run ${extra.join(', ')} yet (no train option)`);
  }
  const augment =
    c.augment === undefined
      ? []
      : [
          '--augment',
          [
            ...(c.augment.crop > 0 ? [`crop:${c.augment.crop}`] : []),
            ...(c.augment.flip ? ['flip'] : []),
          ].join(','),
        ];
  const args = [
    'train',
    '--dataset',
    c.dataset,
    '--model',
    c.model.kind,
    ...(c.model.kind === 'mlp' ? ['--hidden', c.model.hidden.join(',')] : []),
    ...(c.model.layers !== undefined ? ['--layers', c.model.layers] : []),
    ...augment,
    '--optimizer',
    c.optimizer.kind,
    '--lr',
    String(c.optimizer.lr),
    '--batch-size',
    String(c.batchSize),
    '--steps',
    String(t.steps),
    '--seed',
    String(t.seed),
    '--checkpoint-every',
    String(t.checkpointEvery),
    '--eval-every',
    String(t.evalEvery),
    '--backend',
    c.backend,
    '--branch',
    t.branch,
  ];
  return args;
}

const SAFE_ARG = /^[A-Za-z0-9_.,:+=@/-]+$/;
const BRANCH = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const SLURM_PATTERNS: Record<keyof SlurmOptions, RegExp> = {
  partition: /^[A-Za-z0-9_.,-]{1,64}$/,
  time: /^[0-9]{1,5}(-[0-9]{1,2})?(:[0-9]{1,2}){0,2}$/,
  cpusPerTask: /^[1-9][0-9]{0,3}$/,
  mem: /^[1-9][0-9]{0,8}[KMGT]?$/,
  account: /^[A-Za-z0-9_.-]{1,64}$/,
};

/** InputError unless every Slurm option has a safe, Slurm-shaped value. */
export function checkSlurmOptions(o: SlurmOptions): SlurmOptions {
  for (const [k, v] of Object.entries(o) as [keyof SlurmOptions, unknown][]) {
    if (v === undefined) {
      continue;
    }
    const pattern = SLURM_PATTERNS[k] as RegExp | undefined;
    if (!pattern || !pattern.test(String(v))) {
      throw new InputError(`slurm option ${k}: '${String(v)}' is not a valid value`);
    }
  }
  return o;
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The task script (POSIX sh). */
export function taskScript(spec: JobSpec, dir: string): string {
  const cases = spec.tasks
    .map((t) => {
      const args = trainArgs(t);
      return `  ${t.index}) BRANCH=${q(t.branch)}; set -- ${args.map(q).join(' ')} ;;`;
    })
    .join('\n');
  const d = spec.dataset;
  // a stored dataset: into the task's store first, refused unless it is the job's digest
  const addData =
    d === undefined
      ? ''
      : `"$NODE" "$CLI" --store "$work/store" data add ${q(d.name)} ${q(jobDatasetPath(dir, d.digest))} --digest ${q(d.digest)} &&\n  `;
  return `#!/bin/sh
# Lockstep ${spec.kind} ${spec.id}: runs one task. Usage: task.sh <index> (default: $SLURM_ARRAY_TASK_ID).
# Trains into a fresh store on node-local disk, exports the task's branch and moves the bundle
# into the job directory as task-<index>.lockstep (temp + rename: complete or absent).
set -u
JOB_DIR=${q(dir)}
NODE=${q(spec.node)}
CLI=${q(spec.cli)}
i="\${1:-\${SLURM_ARRAY_TASK_ID:-}}"
case "$i" in
${cases}
  *) echo "task.sh: no task '$i' in this job (0-${spec.tasks.length - 1})" >&2; exit 2 ;;
esac
mkdir -p "$JOB_DIR/state" "$JOB_DIR/logs"
work="$(mktemp -d "\${TMPDIR:-/tmp}/lockstep-task-$i.XXXXXX")" || exit 2
partial="$JOB_DIR/.task-$i.lockstep.partial-$$"
trap 'rm -rf "$work" "$partial"' EXIT
trap 'exit 143' TERM INT HUP
rm -f "$JOB_DIR/state/task-$i.failed"
echo "$(hostname) $$ \${SLURM_JOB_ID:-local} $(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$JOB_DIR/state/task-$i.running"
echo "lockstep task $i on $(hostname) (job \${SLURM_JOB_ID:-local}) in $work"
${addData}"$NODE" "$CLI" --store "$work/store" "$@" &&
  "$NODE" "$CLI" --store "$work/store" export "$BRANCH" -o "$work/task-$i.lockstep" &&
  cp "$work/task-$i.lockstep" "$partial" &&
  mv -f "$partial" "$JOB_DIR/task-$i.lockstep"
code=$?
rm -f "$JOB_DIR/state/task-$i.running"
if [ "$code" -ne 0 ]; then
  echo "$code $(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$JOB_DIR/state/task-$i.failed"
  echo "lockstep task $i failed (exit $code)" >&2
fi
exit "$code"
`;
}

/** The sbatch script: the whole array; `--array` on the command line narrows a resubmission. */
export function sbatchScript(spec: JobSpec, dir: string): string {
  const s = spec.slurm ?? {};
  const lines = [
    '#!/bin/sh',
    `#SBATCH --job-name=lockstep-${spec.id}`,
    `#SBATCH --array=0-${spec.tasks.length - 1}`,
    '#SBATCH --requeue',
    `#SBATCH --chdir=${dir}`,
    `#SBATCH --output=${join(dir, 'logs', 'task-%a.out')}`,
    '#SBATCH --open-mode=append',
    `#SBATCH --cpus-per-task=${s.cpusPerTask ?? 1}`,
    ...(s.partition ? [`#SBATCH --partition=${s.partition}`] : []),
    ...(s.time ? [`#SBATCH --time=${s.time}`] : []),
    ...(s.mem ? [`#SBATCH --mem=${s.mem}`] : []),
    ...(s.account ? [`#SBATCH --account=${s.account}`] : []),
    `# Lockstep ${spec.kind} ${spec.id}: ${spec.tasks.length} tasks; each runs task.sh with its index.`,
    `exec /bin/sh ${q(join(dir, TASK_SCRIPT))} "$SLURM_ARRAY_TASK_ID"`,
    '',
  ];
  return lines.join('\n');
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/**
 * Writes a new job directory (refuses a non-empty existing one). Returns its absolute path.
 * `datasetBytes`: the data object of `spec.dataset` (required exactly when the spec names one),
 * copied in before job.json, so a directory with a job.json holds its dataset.
 */
export async function writeJobDir(
  dirArg: string,
  spec: JobSpec,
  datasetBytes?: Uint8Array,
): Promise<string> {
  const dir = resolve(dirArg);
  if (existsSync(join(dir, JOB_FILE))) {
    throw new InputError(`${dir} already holds a job (${JOB_FILE}); pick a new --job-dir`);
  }
  checkSpec(spec);
  if ((spec.dataset === undefined) !== (datasetBytes === undefined)) {
    throw new Error('writeJobDir: dataset bytes are given exactly when the spec names a dataset');
  }
  if (dir.includes('\n') || dir.includes("'") || dir.includes('%')) {
    throw new InputError(`job directory path must not contain quotes, % or newlines: ${dir}`);
  }
  if (spec.dataset !== undefined && datasetBytes !== undefined) {
    await writeJobDataset(dir, spec.dataset, datasetBytes); // checks the bytes before any write
  }
  await mkdir(join(dir, 'state'), { recursive: true });
  await mkdir(join(dir, 'logs'), { recursive: true });
  await writeAtomic(join(dir, TASK_SCRIPT), taskScript(spec, dir));
  await chmod(join(dir, TASK_SCRIPT), 0o755);
  if (spec.executor === 'slurm') {
    await writeAtomic(join(dir, SBATCH_SCRIPT), sbatchScript(spec, dir));
  }
  await writeAtomic(join(dir, JOB_FILE), JSON.stringify(spec, null, 2) + '\n');
  return dir;
}

/** Reads and checks a job directory's job.json. */
export async function readJobDir(dirArg: string): Promise<{ dir: string; spec: JobSpec }> {
  const dir = resolve(dirArg);
  let text: string;
  try {
    text = await readFile(join(dir, JOB_FILE), 'utf8');
  } catch {
    throw new InputError(`${dir} is not a job directory (no readable ${JOB_FILE})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new InputError(`${join(dir, JOB_FILE)} is not valid JSON`);
  }
  const spec = checkSpec(raw);
  if (spec.dataset !== undefined) {
    await checkJobDataset(dir, spec.dataset);
  }
  return { dir, spec };
}

/** Every sbatch submission of the job, oldest first. */
export async function readSubmissions(dir: string): Promise<Submission[]> {
  let text: string;
  try {
    text = await readFile(join(dir, SUBMISSIONS_FILE), 'utf8');
  } catch {
    return [];
  }
  const raw = JSON.parse(text) as unknown;
  if (!Array.isArray(raw)) {
    throw new InputError(`${join(dir, SUBMISSIONS_FILE)} is not a list`);
  }
  return raw.map((s: unknown, k) => {
    const o = s as Partial<Submission> | null;
    if (
      !o ||
      typeof o.jobId !== 'string' ||
      !/^\d+$/.test(o.jobId) ||
      !Array.isArray(o.tasks) ||
      !o.tasks.every((t) => Number.isSafeInteger(t)) ||
      typeof o.at !== 'string'
    ) {
      throw new InputError(`${join(dir, SUBMISSIONS_FILE)}: entry ${k} is malformed`);
    }
    return { jobId: o.jobId, tasks: o.tasks, at: o.at };
  });
}

export async function appendSubmission(dir: string, s: Submission): Promise<void> {
  const all = await readSubmissions(dir);
  all.push(s);
  await writeAtomic(join(dir, SUBMISSIONS_FILE), JSON.stringify(all, null, 2) + '\n');
}

// ---------- checking job.json ----------

function fail(why: string): never {
  throw new InputError(`job.json is invalid: ${why}`);
}
const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);
const isInt = (v: unknown, min = 0): v is number => Number.isSafeInteger(v) && (v as number) >= min;
const isSeed = (v: unknown): v is number => isInt(v) && (v as number) <= 0xffffffff;
const isLr = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** `stored`: the name of the stored dataset job.json carries, if any (the only other name allowed). */
function checkConfig(c: unknown, where: string, stored: string | undefined): TrainingConfig {
  if (!isObj(c) || !isObj(c.model) || !isObj(c.optimizer)) {
    fail(`${where} is not a training config`);
  }
  const m = c.model;
  const o = c.optimizer;
  if (
    typeof c.dataset === 'string' &&
    !(DATASETS as readonly unknown[]).includes(c.dataset) &&
    c.dataset !== stored
  ) {
    fail(
      `${where} trains on dataset '${c.dataset.slice(0, 80)}', which is neither built in nor carried by the job (no dataset copy with its digest)`,
    );
  }
  if (
    !((DATASETS as readonly unknown[]).includes(c.dataset) || c.dataset === stored) ||
    !(MODELS as readonly unknown[]).includes(m.kind) ||
    !Array.isArray(m.hidden) ||
    !m.hidden.every((h) => isInt(h, 1)) ||
    !(OPTIMIZERS as readonly unknown[]).includes(o.kind) ||
    !isLr(o.lr) ||
    !isInt(c.batchSize, 1) ||
    !isSeed(c.seed) ||
    !(BACKENDS as readonly unknown[]).includes(c.backend)
  ) {
    fail(`${where} has a field out of range`);
  }
  return c as unknown as TrainingConfig;
}

/** The stored dataset's name when job.json carries one (its fields checked), else undefined. */
function checkDatasetField(d: unknown): string | undefined {
  if (d === undefined) {
    return undefined;
  }
  if (
    !isObj(d) ||
    typeof d.name !== 'string' ||
    !STORED_DATASET_NAME.test(d.name) ||
    (DATASETS as readonly string[]).includes(d.name) ||
    typeof d.digest !== 'string' ||
    !/^[0-9a-f]{64}$/.test(d.digest) ||
    !isInt(d.bytes, 1)
  ) {
    fail('dataset is not { name, digest, bytes } of a stored dataset');
  }
  return d.name;
}

function checkSpec(raw: unknown): JobSpec {
  if (!isObj(raw) || raw.format !== JOB_FORMAT) {
    fail(`format is not ${JOB_FORMAT}`);
  }
  if (raw.kind !== 'study' && raw.kind !== 'sweep') {
    fail('kind is neither study nor sweep');
  }
  if (typeof raw.id !== 'string' || !BRANCH.test(raw.id)) {
    fail('id is not a plain name');
  }
  if (!(EXECUTORS as readonly unknown[]).includes(raw.executor)) {
    fail('executor is not local or slurm');
  }
  for (const k of ['node', 'cli'] as const) {
    const p = raw[k];
    if (typeof p !== 'string' || !isAbsolute(p) || p.includes("'") || p.includes('\n')) {
      fail(`${k} is not an absolute path`);
    }
  }
  const stored = checkDatasetField(raw.dataset);
  const config = checkConfig(raw.config, 'config', stored);
  if (stored !== undefined && config.dataset !== stored) {
    fail(`dataset '${stored}' is carried but the config trains on '${config.dataset}'`);
  }
  if (!isInt(raw.steps, 1)) {
    fail('steps is not a positive integer');
  }
  if (raw.slurm !== undefined) {
    if (!isObj(raw.slurm)) {
      fail('slurm is not an object');
    }
    checkSlurmOptions(raw.slurm as SlurmOptions);
  }
  if (!Array.isArray(raw.tasks) || raw.tasks.length === 0 || raw.tasks.length > 10_000) {
    fail('tasks is not a list of 1 to 10000 tasks');
  }
  const branches = new Set<string>();
  raw.tasks.forEach((t: unknown, k: number) => {
    if (!isObj(t) || t.index !== k) {
      fail(`task ${k} is missing or out of order`);
    }
    if (t.group !== 'same' && t.group !== 'different' && t.group !== 'sweep') {
      fail(`task ${k}: group is not same, different or sweep`);
    }
    if (typeof t.branch !== 'string' || !BRANCH.test(t.branch) || branches.has(t.branch)) {
      fail(`task ${k}: branch is not a unique plain name`);
    }
    branches.add(t.branch);
    const c = checkConfig(t.config, `task ${k} config`, stored);
    if (!isSeed(t.seed) || t.seed !== c.seed) {
      fail(`task ${k}: seed does not match its config`);
    }
    if (!isInt(t.steps, 1) || !isInt(t.checkpointEvery, 1) || !isInt(t.evalEvery, 1)) {
      fail(`task ${k}: steps or intervals are not positive integers`);
    }
    for (const a of trainArgs(t as unknown as TaskSpec)) {
      if (!SAFE_ARG.test(a)) {
        fail(`task ${k}: argument '${a}' has characters a script must not see`);
      }
    }
  });
  return raw as unknown as JobSpec;
}
