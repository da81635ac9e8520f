/**
 * Bench section "convolutional networks next to the peer" (listed in ./bench.ts): lenet5 on
 * MNIST at batch 64 and resnet20 at batch 128 (CIFAR-10-shaped generated data), wasm, one
 * thread, one process each (./cnn-worker.ts); with `--peer`, the PyTorch peer scripts/peers/torch_cnn.py
 * (one thread) in the same invocation, and the ratio ours/peer against the goals (lenet5 ≤ 1.5×,
 * resnet20 ≤ 2×). When torch is not importable the peer rows say why.
 */
import { join } from 'node:path';
import { mnistDir } from '../engine/data';
import type { BenchContext, ExtraRow, ExtraSection } from './bench';
import type { CnnJob, CnnResult } from './cnn-worker';
import { peerUnavailable, runPeerScript } from './peer';
import { runWorkerProgram } from './run-worker';

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
  const r = runPeerScript(args, root);
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !last.startsWith('{')) {
    return `peer failed: ${(r.stderr ?? '').trim().split('\n').pop()}`;
  }
  const j = JSON.parse(last) as { msPerStep: number; version: string };
  return { msPerStep: j.msPerStep, version: j.version };
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
  for (const c of cases) {
    ctx.log(
      `cnn: ${c.model} batch ${c.batchSize} (wasm, ${c.warmup} warm-up steps, ${c.reps}×${c.steps})`,
    );
    const r = await runCnnWorker({ ...c });
    rows.push({
      label: `${c.model}, batch ${c.batchSize}, wasm`,
      value: r.msPerStep,
      unit: 'ms/step',
      note: `reps ${r.repsMs.map((x) => x.toFixed(1)).join(', ')}; peak RSS ${r.peakRssMB.toFixed(0)} MB`,
    });
    if (ctx.peer) {
      ctx.log(`cnn: peer ${c.model} (torch, one thread)`);
      const p = runPeer(c.model, c.model === 'lenet5' ? 200 : 10, ctx.repoRoot);
      if (typeof p === 'string') {
        rows.push({ label: `${c.model} peer`, value: NaN, unit: 'ms/step', note: `not run: ${p}` });
      } else {
        const ratio = r.msPerStep / p.msPerStep;
        const goal = CNN_GOALS[c.model];
        rows.push(
          {
            label: `${c.model} peer (torch ${p.version}, 1 thread)`,
            value: p.msPerStep,
            unit: 'ms/step',
          },
          {
            label: `${c.model} ours / peer`,
            value: ratio,
            unit: '×',
            note: `goal ≤ ${goal}×: ${ratio <= goal ? 'ok' : 'MISSED'}`,
          },
        );
      }
    }
  }
  return { title: 'convolutional networks (ms/step; next to the PyTorch peer with --peer)', rows };
}
