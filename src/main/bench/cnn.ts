/**
 * Bench section "convolutional networks next to the peer" (listed in ./bench.ts): lenet5 on
 * MNIST at batch 64 and resnet20 at batch 128 (CIFAR-10-shaped generated data), wasm, one
 * thread, one process each (./cnn-worker.ts); with `--peer`, the PyTorch peer scripts/peers/torch_cnn.py
 * (one thread) in the same invocation, and the ratio ours/peer against the goals (lenet5 ≤ 1.5×,
 * resnet20 ≤ 2×), each round's two on the core that was fastest at its start (./cores.ts). When
 * torch is not importable the peer rows say why.
 */
import { join } from 'node:path';
import { mnistDir } from '../engine/data';
import type { BenchContext, ExtraRow, ExtraSection, GoalCheck } from './bench';
import type { CnnJob, CnnResult } from './cnn-worker';
import { median } from './worker';
import { peerOutput, peerUnavailable, runPeerScript } from './peer';
import { runWorkerProgram } from './run-worker';
import { pinToFastestCore } from './cores';

/** Goals of issue 13: ours / peer ms/step. */
export const CNN_GOALS = { lenet5: 1.5, resnet20: 2 } as const;

/** One CNN job in a fresh process (./run-worker.ts), its kernels on `threads` threads (1: next to the peer). */
export function runCnnWorker(job: CnnJob, threads = 1): Promise<CnnResult> {
  return runWorkerProgram<CnnResult>('cnn-worker', job, threads);
}

/** The peer's ms/step for a model, or the reason it did not run. */
function runPeer(
  model: 'lenet5' | 'resnet20',
  steps: number,
  root: string,
): { msPerStep: number; version: string } | string {
  const script = join(root, 'scripts', 'peers', 'torch_cnn.py');
  const why = peerUnavailable();
  if (why !== null) {
    return why;
  }
  const args = [script, '--model', model, '--steps', String(steps), '--threads', '1'];
  if (model === 'lenet5') {
    args.push('--data', mnistDir());
  }
  const j = peerOutput<{ msPerStep: number; version: string }>(runPeerScript(args, root));
  return typeof j === 'string' ? j : { msPerStep: j.msPerStep, version: j.version };
}

export async function cnnSection(ctx: BenchContext): Promise<ExtraSection> {
  const rows: ExtraRow[] = [];
  const cases = [
    {
      model: 'lenet5',
      batchSize: 64,
      // V8 optimises the kernels over the first ~100 steps (the peer has no such warm-up):
      // measured here, reps right after 20 warm-up steps ran 5–15 % slower than later ones
      warmup: ctx.quick ? 5 : 150,
      reps: 5,
      steps: ctx.quick ? 5 : 40,
    },
    { model: 'resnet20', batchSize: 128, warmup: 1, reps: 3, steps: ctx.quick ? 1 : 3 },
  ] as const;
  // ours and the peer alternate, and the ratio is the median of the rounds' ratios: the host's
  // speed drifts within minutes (the same peer run measured ResNet-20 at 397 and 713 ms/step
  // within an hour here), and a single pair can land on either side of a goal
  const rounds = ctx.peer && !ctx.quick ? 3 : 1;
  const goals: GoalCheck[] = [];
  for (const c of cases) {
    const ours: CnnResult[] = [];
    const peers: { msPerStep: number; version: string }[] = [];
    let peerMissing: string | null = null;
    for (let round = 0; round < rounds; round++) {
      ctx.log(
        `cnn: ${c.model} batch ${c.batchSize} (wasm, ${c.warmup} warm-up steps, ${c.reps}×${c.steps}), round ${round + 1} of ${rounds}`,
      );
      await pinToFastestCore(`cnn ${c.model}, round ${round + 1}`, ctx.log);
      ours.push(await runCnnWorker({ ...c }));
      if (ctx.peer && peerMissing === null) {
        ctx.log(`cnn: peer ${c.model} (torch, one thread), round ${round + 1} of ${rounds}`);
        const p = runPeer(c.model, c.model === 'lenet5' ? 200 : 10, ctx.repoRoot);
        if (typeof p === 'string') {
          peerMissing = p;
        } else {
          peers.push(p);
        }
      }
    }
    const list = (xs: number[], digits: number): string => xs.map((x) => x.toFixed(digits)).join(', '); // prettier-ignore
    rows.push({
      label: `${c.model}, batch ${c.batchSize}, wasm`,
      value: median(ours.map((r) => r.msPerStep)),
      unit: 'ms/step',
      note: `${rounds > 1 ? `median of rounds ${list(ours.map((r) => r.msPerStep), 2)}; ` : ''}reps ${list(ours[0].repsMs, 1)}; peak RSS ${Math.max(...ours.map((r) => r.peakRssMB)).toFixed(0)} MB`, // prettier-ignore
    });
    if (peerMissing !== null) {
      rows.push({ label: `${c.model} peer`, value: NaN, unit: 'ms/step', note: `not run: ${peerMissing}` }); // prettier-ignore
    } else if (peers.length > 0) {
      const ratios = peers.map((p, i) => ours[i].msPerStep / p.msPerStep);
      const ratio = median(ratios);
      const goal = CNN_GOALS[c.model];
      rows.push(
        {
          label: `${c.model} peer (torch ${peers[0].version}, 1 thread)`,
          value: median(peers.map((p) => p.msPerStep)),
          unit: 'ms/step',
          note: rounds > 1 ? `median of rounds ${list(peers.map((p) => p.msPerStep), 2)}` : undefined, // prettier-ignore
        },
        {
          label: `${c.model} ours / peer`,
          value: ratio,
          unit: '×',
          note: `${rounds > 1 ? `median of rounds ${list(ratios, 2)}; ` : ''}goal ≤ ${goal}×: ${ratio <= goal ? 'ok' : 'MISSED'}`, // prettier-ignore
        },
      );
      goals.push({
        goal: `${c.model} ms/step ≤ ${goal}× the PyTorch peer (one thread, median of ${rounds} alternating rounds)`, // prettier-ignore
        value: ratio,
        limit: goal,
        ok: ratio <= goal,
      });
    }
  }
  return { title: 'convolutional networks (ms/step; next to the PyTorch peer with --peer)', rows, goals }; // prettier-ignore
}
