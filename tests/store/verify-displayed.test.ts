/**
 * `verify <ref>` in a store checks what the store displays of each checkpoint outside its hashed
 * state (issue 20, "Forged certificates"): a node record whose evaluation or loss was changed by
 * hand (as `show` and `log` would display it) makes the replay's answer negative, naming the lie;
 * the honest record verifies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { verifyRef } from '../../src/main/service/verify';
import { encodeRecord } from '../../src/main/store/records';
import { Store } from '../../src/main/store/store';
import type { CheckpointNode } from '../../src/main/store/api';
import { trainSmall } from '../bundle/helpers';
import { useTempDir } from '../helpers/fixtures';

async function rewriteNode(store: Store, node: CheckpointNode): Promise<void> {
  await writeFile(store.layout.node(node.id), encodeRecord(`checkpoint ${node.id}`, node));
}

test('store verify refuses a hand-edited evaluation or loss of a checkpoint', async (t) => {
  const store = await Store.open(useTempDir(t, 'lockstep-verify-displayed-'));
  await trainSmall(store, 'main');
  const line = await store.lineage(await store.resolveRef('main'));
  const node = line.find((n) => n.step === 80 && n.eval?.test !== undefined);
  assert.ok(node, 'a checkpoint with an evaluation at step 80');
  assert.equal((await verifyRef(store, 'main')).verified, true);

  const test = node.eval!.test!;
  const correct = test.correct === test.examples ? test.correct - 1 : test.correct + 1;
  await rewriteNode(store, {
    ...node,
    eval: { ...node.eval, test: { ...test, correct, precision: correct / test.examples } },
  });
  const lie = await verifyRef(store, 'main');
  assert.equal(lie.verified, false);
  assert.equal(lie.firstMismatch?.step, 80);
  assert.match(lie.firstMismatch?.detail ?? '', /displays test precision .* evaluating it gives/);

  await rewriteNode(store, { ...node, loss: (node.loss ?? 1) * 2 });
  const loss = await verifyRef(store, 'main');
  assert.equal(loss.verified, false);
  assert.match(loss.firstMismatch?.detail ?? '', /displays loss .* the replayed trace has/);

  await rewriteNode(store, node);
  assert.equal((await verifyRef(store, 'main')).verified, true);
});
