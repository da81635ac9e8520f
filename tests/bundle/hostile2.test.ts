/**
 * Hostile bundles, round two (issue 20): namespace clashes, steps near 2^53, names the store
 * cannot write, 1e400, deep nesting, forged metadata, wrong object kinds and a 2,000-branch
 * re-import. Every refusal is quick, leaves the store byte-for-byte unchanged, and names the
 * problem without a `TypeError:`; a forged certificate is a negative answer.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BundleError } from '../../src/main/bundle/errors';
import { exportBundle } from '../../src/main/bundle/export';
import { importBundle } from '../../src/main/bundle/import';
import { readBundle } from '../../src/main/bundle/read';
import { verifyBundle } from '../../src/main/bundle/verify';
import { Store } from '../../src/main/store/store';
import { hashTree, rewriteBundle, trainSmall } from './helpers';

let dir = '';
let storeDir = '';
let store: Store;
let good = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lockstep-hostile2-'));
  const source = await Store.open(join(dir, 'source'));
  await trainSmall(source, 'main');
  good = join(dir, 'good.lockstep');
  await exportBundle(source, 'main', good);
  storeDir = join(dir, 'store');
  store = await Store.open(storeDir);
  await trainSmall(store, 'mine');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Manifest = Record<string, unknown> & {
  runs: Record<string, unknown>[];
  branches: Record<string, unknown>[];
  nodes: Record<string, unknown>[];
};

let n = 0;
/** A copy of the good bundle with its manifest.json rewritten as text by `change`. */
async function withManifest(change: (m: Manifest) => string | void): Promise<string> {
  const file = join(dir, `case-${++n}.lockstep`);
  await rewriteBundle(good, file, (entries) => {
    const m = JSON.parse(new TextDecoder().decode(entries.get('manifest.json'))) as Manifest;
    const text = change(m) ?? JSON.stringify(m);
    entries.set('manifest.json', new TextEncoder().encode(text));
  });
  return file;
}

/** import refuses (fast, store unchanged, no TypeError) and verify refuses or says no. */
async function refused(file: string, re: RegExp, alsoVerify = true): Promise<void> {
  const beforeTree = await hashTree(storeDir);
  await assert.rejects(importBundle(store, file), (e: unknown) => {
    assert.ok(e instanceof BundleError, String(e));
    assert.match(e.message, re);
    assert.doesNotMatch(e.message, /TypeError|RangeError/);
    return true;
  });
  assert.deepEqual(await hashTree(storeDir), beforeTree);
  if (alsoVerify) {
    await assert.rejects(verifyBundle(file), (e: unknown) => e instanceof BundleError);
  }
}

test(
  'a bundle holding `ns` and `ns/child`, or `main` and `Main`, is refused at once',
  { timeout: 60_000 },
  async () => {
    await refused(
      await withManifest((m) => {
        m.branches.push({ ...m.branches[0], name: 'main/child' });
      }),
      /'main' and 'main\/child'.*namespace/,
    );
    await refused(
      await withManifest((m) => {
        m.branches.push({ ...m.branches[0], name: 'Main' });
      }),
      /one file on macOS and Windows/,
    );
  },
);

test(
  'importing `mine/sub` into a store with `mine` is refused with a clear line, nothing written',
  { timeout: 60_000 },
  async () => {
    const file = await withManifest((m) => {
      m.branches[0].name = 'mine/sub';
    });
    // (verify imports into an empty store, where the name is free)
    await refused(
      file,
      /branch 'mine\/sub' of the bundle cannot be imported: branch 'mine'/,
      false,
    );
  },
);

test(
  'steps near 2^53, run ids the store cannot name, 1e400, deep nesting, long CJK names: refused before any write',
  { timeout: 120_000 },
  async () => {
    await refused(
      await withManifest((m) => {
        m.nodes[m.nodes.length - 1].step = 2 ** 53 - 2;
      }),
      /step/,
    );
    for (const id of ['con', 'AUX.json']) {
      await refused(
        await withManifest((m) => {
          const old = m.runs[0].id as string;
          m.runs[0].id = id;
          m.branches.forEach((b) => (b.run = id));
          void old;
        }),
        /device name/,
      );
    }
    await refused(
      await withManifest((m) => {
        const text = JSON.stringify(m);
        return text.replace(/"loss":[0-9.e-]+/, '"loss":1e400');
      }),
      /not a finite number/,
    );
    await refused(
      await withManifest((m) => {
        m.runs[0].seed = -424242;
        return JSON.stringify(m).replace('"seed":-424242', '"seed":1e400');
      }),
      /finite|seed/,
    );
    await refused(
      await withManifest((m) => {
        const text = JSON.stringify(m);
        return text.replace('"nodes":', `"deep":${'['.repeat(6000)}${']'.repeat(6000)},"nodes":`);
      }),
      /nested deeper/,
    );
    await refused(
      await withManifest((m) => {
        m.branches[0].name = '枝'.repeat(100);
      }),
      /longer than 200 bytes/,
    );
  },
);

test(
  'verify says no when the displayed metadata lies: fake eval, run seed, branch lr',
  { timeout: 300_000 },
  async () => {
    const plain = await verifyBundle(good);
    assert.equal(plain.verified, true, JSON.stringify(plain));
    const fakeEval = await withManifest((m) => {
      const node = m.nodes.find((x) => x.eval !== undefined)!;
      const ev = node.eval as Record<
        string,
        { precision: number; correct: number; examples: number }
      >;
      const k = Object.keys(ev)[0];
      ev[k] = { ...ev[k], correct: ev[k].examples, precision: 1 };
    });
    const r1 = await verifyBundle(fakeEval);
    assert.equal(r1.verified, false);
    assert.match(r1.firstMismatch!.detail, /precision 1 .*evaluating it gives/);
    const lr = await withManifest((m) => {
      (m.branches[0].config as { optimizer: { lr: number } }).optimizer.lr = 0.5;
    });
    const r2 = await verifyBundle(lr);
    assert.equal(r2.verified, false);
    assert.match(r2.firstMismatch!.detail, /lr 0.5/);
    // a run seed that is not the config's seed cannot even be read
    const seed = await withManifest((m) => {
      m.runs[0].seed = 12345;
    });
    await refused(seed, /seed is not its config's seed/);
  },
);

test(
  'a trace that is really a tensor blob is refused by import (in the bundle or in the store)',
  { timeout: 120_000 },
  async () => {
    const b = await readBundle(good);
    const withTrace = b.checkpoints.find((c) => c.node.trace !== undefined)!;
    const inBundle = join(dir, 'wrong-kind.lockstep');
    await rewriteBundle(good, inBundle, (entries) => {
      const m = JSON.parse(new TextDecoder().decode(entries.get('manifest.json'))) as Manifest;
      const oldTrace = withTrace.node.trace!;
      m.nodes.find((x) => x.id === withTrace.node.id)!.trace = withTrace.blobId;
      entries.delete(`objects/${oldTrace}`);
      m.objects = (m.objects as { id: string }[]).filter((o) => o.id !== oldTrace);
      entries.set('manifest.json', new TextEncoder().encode(JSON.stringify(m)));
    });
    await refused(inBundle, /as tensors|not a trace/);

    // the same lie pointing into the store: the bundle holds only the tip, whose parent and
    // "trace" (really the root's tensor blob) are in the importing store
    const target = await Store.open(join(dir, 'target'));
    await importBundle(target, good);
    const [root] = b.checkpoints;
    const tip = b.checkpoints[b.checkpoints.length - 1];
    const outside = join(dir, 'wrong-kind-store.lockstep');
    await rewriteBundle(good, outside, (entries) => {
      const m = JSON.parse(new TextDecoder().decode(entries.get('manifest.json'))) as Manifest;
      const keep = new Set([tip.node.id, tip.blobId]);
      for (const name of [...entries.keys()]) {
        if (name.startsWith('objects/') && !keep.has(name.slice(8))) {
          entries.delete(name);
        }
      }
      m.objects = (m.objects as { id: string }[]).filter((o) => keep.has(o.id));
      m.nodes = m.nodes
        .filter((x) => x.id === tip.node.id)
        .map((x) => ({ ...x, trace: root.blobId }));
      m.runs = [];
      m.branches = m.branches.map((x) => ({ ...x, name: 'elsewhere', base: tip.node.id }));
      entries.set('manifest.json', new TextEncoder().encode(JSON.stringify(m)));
    });
    const beforeTree = await hashTree(join(dir, 'target'));
    await assert.rejects(importBundle(target, outside), (e: unknown) => {
      assert.ok(e instanceof BundleError, String(e));
      assert.match(e.message, /is not a trace segment/);
      return true;
    });
    assert.deepEqual(await hashTree(join(dir, 'target')), beforeTree);
  },
);

test(
  'import plans read the store branches once, however many branches clash (no O(n²) re-import)',
  { timeout: 300_000 },
  async () => {
    const { measureManyBranchImport } = await import('../../src/main/bundle/measure');
    const r = await measureManyBranchImport(30);
    assert.ok(r.reImportMs > 0);
    // the structural check: re-importing a bundle of 30 identical branches lists the store's
    // branches once, not once per branch
    const target = await Store.open(join(dir, 'once'));
    await importBundle(target, good);
    const real = target.listBranches.bind(target);
    let calls = 0;
    target.listBranches = () => {
      calls++;
      return real();
    };
    const many = join(dir, 'many.lockstep');
    await rewriteBundle(good, many, (entries) => {
      const m = JSON.parse(new TextDecoder().decode(entries.get('manifest.json'))) as Manifest;
      const b0 = m.branches[0];
      m.branches = Array.from({ length: 30 }, (_, i) => ({ ...b0, name: `copy-${i}` }));
      entries.set('manifest.json', new TextEncoder().encode(JSON.stringify(m)));
    });
    await importBundle(target, many);
    calls = 0;
    const again = await importBundle(target, many);
    assert.equal(again.existing.length, 30);
    assert.equal(calls, 1);
  },
);
