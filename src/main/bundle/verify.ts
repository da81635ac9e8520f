/**
 * `verify run.lockstep`: replay a bundle without importing it into the user's store.
 *
 * `verifyBundle(path, opts)` validates the bundle (./read.ts), imports it into a fresh temporary
 * store under os.tmpdir() (objects go to disk one at a time, so memory stays bounded as for
 * import: the replay loads one checkpoint's tensors at a time from that store), and replays every branch tip with the service's
 * `verifyRef(store, tip, opts)` (src/main/service/verify.ts), combining the reports: verified only
 * if every branch verified; shared history is replayed once (a branch is replayed from the
 * latest checkpoint an earlier replay certified, see replayPlan), so `checkpoints` and `steps`
 * add up without double counting; `firstMismatch` is the first one found.
 * Every field the bundle displays is checked against the replay: node losses against the replayed
 * trace and node evaluations by evaluating the checkpoint again (verifyRef does this for every
 * checkpoint it reproduces), then run and branch configs against the checkpoints they name
 * (checkDisplayed); a lie is a negative answer naming it.
 * The temporary store is always removed. A damaged object (HASH_MISMATCH, MISSING_OBJECT,
 * BAD_OBJECT with an object named) is a negative answer, not an error: the report says
 * verified false and its firstMismatch names the object and the checkpoint that needs it.
 * Any other refusal (not a zip, not a bundle, unknown version, unsafe entries) is thrown as the
 * BundleError. `onProgress(done, total)` counts replayed steps.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VerifyReport } from '../../shared/contract';
import { canonicalJson } from '../engine/canonical-json';
import { Store } from '../store/store';
import { BundleError } from './errors';
import { applyImport, planImport } from './import';
import { readBundle, type ReadBundle } from './read';

export interface VerifyBundleOptions {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/** A negative report for a damaged object of the bundle. */
export function damagedReport(e: BundleError): VerifyReport {
  return {
    verified: false,
    checkpoints: 0,
    steps: 0,
    firstMismatch: {
      step: e.detail.step ?? 0,
      ...(e.detail.checkpoint ? { checkpoint: e.detail.checkpoint } : {}),
      detail: e.message,
    },
    ...(e.detail.checkpoint ? { checkpoint: e.detail.checkpoint } : {}),
    fromStep: 0,
    msPerStep: 0,
  };
}

const DAMAGE = new Set(['HASH_MISMATCH', 'MISSING_OBJECT', 'BAD_OBJECT']);

export async function verifyBundle(
  path: string,
  opts: VerifyBundleOptions = {},
): Promise<VerifyReport> {
  let bundle: ReadBundle;
  try {
    bundle = await readBundle(path);
  } catch (e) {
    if (e instanceof BundleError && DAMAGE.has(e.code) && e.detail.object !== undefined) {
      return damagedReport(e);
    }
    throw e;
  }
  const { verifyRef } = await import('../service/verify');
  opts.signal?.throwIfAborted();
  const dir = await mkdtemp(join(tmpdir(), 'lockstep-verify-'));
  try {
    const store = await Store.open(dir);
    let importPlan;
    try {
      importPlan = await planImport(store, bundle);
    } catch (e) {
      // an empty store has nothing the bundle lacks: a missing parent or trace is damage
      if (e instanceof BundleError && e.code === 'MISSING_OBJECT') {
        return damagedReport(e);
      }
      throw e;
    }
    await applyImport(store, bundle, importPlan);
    const plan = replayPlan(bundle);
    const total = plan.reduce((n, p) => n + p.steps, 0);
    // the report names the bundle's (first) tip, like a ref's report names its checkpoint
    const out: VerifyReport = {
      verified: true,
      checkpoints: 0,
      steps: 0,
      firstMismatch: null,
      ...(plan.length > 0 ? { checkpoint: plan[0].tip } : {}),
      fromStep: 0,
      msPerStep: 0,
    };
    let replayMs = 0;
    let offset = 0;
    opts.onProgress?.(0, total);
    for (const p of plan) {
      opts.signal?.throwIfAborted();
      const r = await verifyRef(store, p.tip, {
        ...(p.from !== null ? { from: p.from } : {}),
        signal: opts.signal,
        onProgress: (done) => opts.onProgress?.(offset + done, total),
      });
      offset += p.steps;
      out.checkpoints += r.checkpoints;
      out.steps += r.steps;
      replayMs += (r.msPerStep ?? 0) * r.steps;
      if (!r.verified) {
        out.verified = false;
        out.firstMismatch ??= r.firstMismatch;
      }
    }
    if (out.verified) {
      const lie = checkDisplayed(bundle);
      if (lie !== null) {
        out.verified = false;
        out.firstMismatch = lie;
      }
    }
    opts.onProgress?.(total, total);
    out.msPerStep = out.steps > 0 ? replayMs / out.steps : 0;
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

type Mismatch = NonNullable<VerifyReport['firstMismatch']>;

/**
 * The bundle's displayed records against what the replay certified (null when all of it holds):
 * a run's config is its root checkpoint's, a branch's config is the config its own checkpoints
 * were trained with. (Node losses and evaluations: verifyRef's checkDisplayedNode. A run's seed is
 * its config's seed: the record schema refuses anything else.)
 */
function checkDisplayed(b: ReadBundle): Mismatch | null {
  const byId = new Map(b.checkpoints.map((c) => [c.node.id, c]));
  const same = (x: unknown, y: unknown): boolean => canonicalJson(x) === canonicalJson(y);
  for (const r of b.manifest.runs) {
    const root = byId.get(r.root);
    if (root !== undefined && !same(r.config, root.manifest.config)) {
      return {
        step: 0,
        checkpoint: r.root,
        detail: `run '${r.id}' displays a config that is not its root checkpoint's`,
      };
    }
  }
  for (const br of b.manifest.branches) {
    const tip = byId.get(br.tip);
    if (tip !== undefined && br.tip !== br.base && !same(br.config, tip.manifest.config)) {
      return {
        step: tip.node.step,
        checkpoint: br.tip,
        detail: `branch '${br.name}' displays a config (lr ${br.config.optimizer.lr}) that is not the one its checkpoints were trained with (lr ${tip.manifest.config.optimizer.lr})`,
      };
    }
  }
  return null;
}

/**
 * Which tips to replay from where: every tip once, each from the latest of its ancestors that an
 * earlier replay of this plan already certified (null: from step 0), so shared history is
 * replayed once. Tips already certified are left out.
 */
export function replayPlan(b: ReadBundle): { tip: string; from: string | null; steps: number }[] {
  const byId = new Map(b.manifest.nodes.map((n) => [n.id, n]));
  const covered = new Set<string>();
  const plan: { tip: string; from: string | null; steps: number }[] = [];
  const tips = [...b.manifest.tips].sort((x, y) => byId.get(x)!.step - byId.get(y)!.step);
  // longer histories first, so that a shorter branch inside one is covered by it
  tips.reverse();
  for (const tip of tips) {
    if (covered.has(tip)) {
      continue;
    }
    const line: string[] = [];
    let from: string | null = null;
    for (let n = byId.get(tip); n; n = n.parent === null ? undefined : byId.get(n.parent)) {
      if (covered.has(n.id)) {
        from = n.id;
        break;
      }
      line.push(n.id);
    }
    line.forEach((id) => covered.add(id));
    const fromStep = from === null ? 0 : byId.get(from)!.step;
    plan.push({ tip, from, steps: byId.get(tip)!.step - fromStep });
  }
  return plan;
}
