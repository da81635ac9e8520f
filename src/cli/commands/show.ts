/**
 * `show <ref>`: one checkpoint — config, step, stateHash, parent, eval, tensors, branches. A gan's
 * text also names both networks' layers (noise size, hidden sizes) with each one's optimizer, and
 * any config's text names a non-default shuffle (`shuffle    buffer:N`); `--json` is unchanged.
 */
import type { Command } from 'commander';
import { describeFingerprint } from '../../main/engine/fingerprint';
import type { CheckpointDetails } from '../../main/service/inspect';
import { emit, openStore } from '../context';

export function register(program: Command): void {
  program
    .command('show')
    .description('show one checkpoint')
    .argument('<ref>', 'checkpoint id or prefix, branch, or branch@step')
    .action(async (ref: string, _opts: unknown, cmd: Command) => {
      const store = await openStore(cmd, false);
      const { describeCheckpoint } = await import('../../main/service/inspect'); // not for --help
      const d = await describeCheckpoint(store, await store.resolveRef(ref));
      emit(cmd, d, () => formatDetails(d));
    });
}

/** "adam lr 0.001, beta1 0.5": the kind and lr first, then the other hyperparameters by name. */
function optimizerText(o: object): string {
  const { kind, lr, ...rest } = o as { kind: string; lr: number } & Record<string, unknown>;
  return [`${kind} lr ${lr}`, ...Object.entries(rest).map(([k, v]) => `${k} ${String(v)}`)].join(
    ', ',
  );
}

/** A gan's shape and its second optimizer, and the input order when not the default. */
function shapeLines(c: CheckpointDetails['config']): string[] {
  const lines: string[] = [];
  const gan = c.model.gan;
  if (c.model.kind === 'gan' && gan !== undefined) {
    const chain = (xs: number[]): string => xs.map((x) => `${x} → `).join('');
    lines.push(
      `generator  noise ${gan.noiseDims} → ${chain(gan.generator)}784 (tanh) · ${optimizerText(c.optimizer)}`,
    );
    const d = c.discriminatorOptimizer ?? c.optimizer;
    lines.push(`discrim.   784 → ${chain(gan.discriminator)}1 logit · ${optimizerText(d)}`);
  }
  if (c.shuffle !== undefined) {
    lines.push(`shuffle    ${c.shuffle.kind}:${c.shuffle.size}`);
  }
  return lines;
}

function formatDetails(d: CheckpointDetails): string {
  const c = d.config;
  const opt = optimizerText(c.optimizer);
  const lines = [
    `checkpoint ${d.stateHash}`,
    `step       ${d.step}   (cursor ${d.cursor} examples)`,
    `parent     ${d.parent ?? '(none: step 0)'}`,
    `branches   ${d.branches.length > 0 ? d.branches.join(', ') : '(none)'}`,
    `config     ${c.dataset} · ${c.model.kind}${c.model.hidden.length ? ' ' + c.model.hidden.join(',') : ''} · ${opt} · batch ${c.batchSize} · seed ${c.seed} · ${c.backend}`,
    ...shapeLines(c),
    `backend    ${describeFingerprint(d.backend)}`,
    `dataset    ${d.datasetDigest}`,
  ];
  if (d.loss !== undefined) {
    lines.push(`loss       ${d.loss.toFixed(6)}`);
  }
  for (const [split, e] of Object.entries(d.eval ?? {})) {
    lines.push(
      `${split.padEnd(10)} precision@1 ${(e.precision * 100).toFixed(2)}% (${e.correct}/${e.examples})`,
    );
  }
  lines.push('tensors');
  for (const t of d.tensors) {
    lines.push(`  ${t.name.padEnd(34)} [${t.shape.join(', ')}]`);
  }
  return lines.join('\n');
}
