/** `show <ref>`: one checkpoint — config, step, stateHash, parent, eval, tensors, branches. */
import type { Command } from 'commander';
import { describeFingerprint } from '../../main/engine/fingerprint';
import { describeCheckpoint, type CheckpointDetails } from '../../main/service/inspect';
import { emit, openStore } from '../context';

export function register(program: Command): void {
  program
    .command('show')
    .description('show one checkpoint')
    .argument('<ref>', 'checkpoint id or prefix, branch, or branch@step')
    .action(async (ref: string, _opts: unknown, cmd: Command) => {
      const store = await openStore(cmd, false);
      const d = await describeCheckpoint(store, await store.resolveRef(ref));
      emit(cmd, d, () => formatDetails(d));
    });
}

function formatDetails(d: CheckpointDetails): string {
  const c = d.config;
  // the kind and lr first, then the other hyperparameters by name
  const { kind, lr, ...rest } = c.optimizer as { kind: string; lr: number } & Record<
    string,
    unknown
  >;
  const opt = [
    `${kind} lr ${lr}`,
    ...Object.entries(rest).map(([k, v]) => `${k} ${String(v)}`),
  ].join(', ');
  const lines = [
    `checkpoint ${d.stateHash}`,
    `step       ${d.step}   (cursor ${d.cursor} examples)`,
    `parent     ${d.parent ?? '(none: step 0)'}`,
    `branches   ${d.branches.length > 0 ? d.branches.join(', ') : '(none)'}`,
    `config     ${c.dataset} · ${c.model.kind}${c.model.hidden.length ? ' ' + c.model.hidden.join(',') : ''} · ${opt} · batch ${c.batchSize} · seed ${c.seed} · ${c.backend}`,
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
