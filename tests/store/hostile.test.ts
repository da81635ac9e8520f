/**
 * Hostile and damaged stores (issue 20, issue 19's store side): every refusal is quick, clear and
 * leaves the store byte-for-byte unchanged; fsck names every damage that would make another
 * command fail; no walk loops on a damaged graph.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  closeSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { encodeState } from '../../src/main/engine/state';
import { canonicalJson } from '../../src/main/engine/canonical-json';
import { RefError, StoreCorruptError } from '../../src/main/store/api';
import { Store } from '../../src/main/store/store';
import { graphView } from '../../src/main/service/inspect';
import { MAX_STEP } from '../../src/shared/limits';
import { continueFrom } from '../../src/main/service/train';
import { InputError } from '../../src/main/engine/types';
import {
  branchRecord,
  cleanup,
  enc,
  makeState,
  runRecord,
  snapshot,
  tempDir,
  writeLine,
} from './helpers';

async function withStore(f: (store: Store, dir: string) => Promise<void>): Promise<void> {
  const dir = tempDir();
  try {
    await f(await Store.open(dir), dir);
  } finally {
    cleanup(dir);
  }
}

/** Rewrites a node record on disk, as a hand edit or a damaged disk would. */
function editNode(store: Store, id: string, change: (r: Record<string, unknown>) => void): void {
  const file = store.layout.node(id);
  const r = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  change(r);
  writeFileSync(file, canonicalJson(r) + '\n');
}

const refusal = (re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof RefError, `a RefError, got ${String(e)}`);
  assert.match(e.message, re);
  assert.doesNotMatch(e.message, /TypeError|RangeError/);
  return true;
};

test(
  'a name under an existing branch is refused at once, naming the clash (no endless -N search)',
  { timeout: 20_000 },
  async () => {
    await withStore(async (store, dir) => {
      await writeLine(store, 'r1', 'main', [0, 10]);
      await writeLine(store, 'r2', 'team/a', [0], 1);
      const before = snapshot(dir);
      await assert.rejects(
        store.uniqueBranchName('main/x'),
        refusal(/branch 'main' exists.*namespace/),
      );
      await assert.rejects(store.uniqueBranchName('main/deep/er'), refusal(/branch 'main' exists/));
      const root = await store.resolveRef('main@0');
      await assert.rejects(
        store.createBranch(branchRecord('main/x', 'r1', root)),
        refusal(/branch 'main' exists/),
      );
      // a name whose namespace is taken by branches: a -N suffix is free
      assert.equal(await store.uniqueBranchName('team'), 'team-2');
      assert.equal(await store.uniqueBranchName('main'), 'main-2');
      assert.deepEqual(snapshot(dir), before);
    });
  },
);

test('names that collide on case-insensitive or normalising file systems, or that Windows refuses, are refused at creation', async () => {
  await withStore(async (store, dir) => {
    await writeLine(store, 'r1', 'main', [0]);
    await writeLine(store, 'r2', 'Café', [0], 1);
    const root = await store.resolveRef('main');
    const before = snapshot(dir);
    const cases: [string, RegExp][] = [
      ['Main', /clashes with 'main'.*letter case/],
      ['MAIN/x', /clashes with 'main'/],
      ['cafÉ', /clashes with 'Café'/],
      ['Cafe\u0301', /not in Unicode NFC form/],
      ['a|b', /'\|', which Windows does not allow/],
      ['a<b', /'<'/],
      ['say"hi"', /'"'/],
      ['ns/aux.json', /reserved device name/],
      ['x/dot.', /ends with '.'/],
      ['变'.repeat(100), /longer than 200 bytes in UTF-8/],
    ];
    for (const [name, re] of cases) {
      await assert.rejects(store.createBranch(branchRecord(name, 'r1', root)), refusal(re), name);
      if (!/clashes/.test(re.source) || name.includes('/')) {
        await assert.rejects(store.uniqueBranchName(name), refusal(re), name);
      }
    }
    // a clash of the last part only: the next free name
    assert.equal(await store.uniqueBranchName('Main'), 'Main-2');
    assert.deepEqual(snapshot(dir), before);
  });
});

test('steps past MAX_STEP and values the store cannot write are refused before the first write', async () => {
  await withStore(async (store, dir) => {
    const [root] = await writeLine(store, 'r1', 'main', [0]);
    const before = snapshot(dir);
    const big = encodeState(makeState(MAX_STEP + 1));
    await assert.rejects(
      store.putCheckpoint(big, { parent: root, step: MAX_STEP + 1 }),
      refusal(/step/),
    );
    const near = encodeState(makeState(2 ** 53));
    await assert.rejects(store.putCheckpoint(near, { parent: root, step: 2 ** 53 }), RefError);
    await assert.rejects(
      store.putCheckpoint(enc(5), { parent: root, step: 5, loss: Infinity }),
      refusal(/loss/),
    );
    for (const id of ['con', 'AUX.json', 'lpt1', 'nul.txt']) {
      await assert.rejects(store.createRun(runRecord(id, root)), refusal(/device name/), id);
    }
    const lying = { ...runRecord('r9', root), seed: 8 };
    await assert.rejects(store.createRun(lying), refusal(/seed is not its config's seed/));
    assert.deepEqual(snapshot(dir), before);
  });
});

test('damaged records (1e400, 6,000 levels deep, step near 2^53) are StoreCorruptErrors naming the file', async () => {
  await withStore(async (store) => {
    const [root, tip] = await writeLine(store, 'r1', 'main', [0, 10]);
    const file = store.layout.node(tip);
    const text = readFileSync(file, 'utf8') as string;
    const corrupt = async (bytes: string, re: RegExp) => {
      writeFileSync(file, bytes);
      await assert.rejects(store.getNode(tip), (e: unknown) => {
        assert.ok(e instanceof StoreCorruptError, String(e));
        assert.match(e.message, re);
        assert.match(e.message, /nodes\//);
        return true;
      });
    };
    await corrupt(text.replace(/"loss":[^,}]+/, '"loss":1e400'), /loss is not a finite number/);
    await corrupt(
      text.replace('"createdAt"', `"deep":${'['.repeat(6000)}${']'.repeat(6000)},"createdAt"`),
      /nested deeper/,
    );
    await corrupt(text.replace('"step":10', `"step":${2 ** 53}`), /step/);
    editNode(store, root, (r) => r);
    const run = store.layout.run('r1');
    writeFileSync(run, readFileSync(run, 'utf8').replace('"seed":7', '"seed":1e400'));
    await assert.rejects(store.getRun('r1'), StoreCorruptError);
  });
});

test(
  'fsck reports cycles, self-parents and parents at a later step; graph walks stay bounded',
  { timeout: 30_000 },
  async () => {
    await withStore(async (store) => {
      const [a, b, c] = await writeLine(store, 'r1', 'main', [0, 10, 20]);
      const [x] = await writeLine(store, 'r2', 'self', [0], 1);
      editNode(store, a, (r) => (r.parent = c)); // a → c → b → a
      editNode(store, x, (r) => (r.parent = x));
      const report = await store.fsck();
      assert.equal(report.ok, false);
      const text = report.problems.map((p) => p.message).join('\n');
      assert.match(text, /form a cycle of parents/);
      assert.match(text, new RegExp(`checkpoint ${x} \\(step 0\\) is its own parent`));
      assert.match(text, new RegExp(`checkpoint ${a} \\(step 0\\) has its parent ${c} at step 20`));
      void b;
      // log / listGraph's walk returns instead of looping or dying
      const view = await graphView(store);
      assert.ok(view.length >= 1);
      await assert.rejects(store.lineage(c), StoreCorruptError);
    });
  },
);

test('a symlinked refs folder is refused everywhere, reported by fsck, and gc refuses instead of deleting', async () => {
  await withStore(async (store, dir) => {
    await writeLine(store, 'r1', 'main', [0, 10]);
    await writeLine(store, 'r2', 'team/a', [0, 10], 1);
    const team = path.join(store.layout.heads, 'team');
    const outside = path.join(dir, '..', path.basename(dir) + '-outside');
    renameSync(team, outside);
    try {
      symlinkSync(outside, team);
      await assert.rejects(store.getBranch('team/a'), /symbolic link/);
      assert.equal(await store.hasBranch('team/a'), false);
      await assert.rejects(store.resolveRef('team/a'), RefError);
      const report = await store.fsck();
      assert.equal(report.ok, false);
      assert.ok(
        report.problems.some(
          (p) => p.name === 'refs/heads/team' && /symbolic link/.test(p.message),
        ),
        JSON.stringify(report.problems),
      );
      const objects = snapshot(store.layout.objects);
      await assert.rejects(
        store.gc({ graceMs: 0 }),
        /gc refused: refs\/heads\/team is a symbolic link/,
      );
      assert.deepEqual(snapshot(store.layout.objects), objects);
    } finally {
      cleanup(outside);
    }
  });
});

test('a folder named like a temp file in refs: gc works, fsck names it honestly', async () => {
  await withStore(async (store) => {
    await writeLine(store, 'r1', 'main', [0, 10]);
    mkdirSync(path.join(store.layout.heads, '.tmp-1-abcdef'));
    const gc = await store.gc({ graceMs: 0 });
    assert.equal(gc.removedTempFiles, 0);
    const report = await store.fsck();
    const p = report.problems.find((q) => q.name === 'refs/heads/.tmp-1-abcdef');
    assert.ok(p, JSON.stringify(report.problems));
    assert.match(p.message, /gc leaves it alone/);
    assert.equal(report.ok, true);
  });
});

test('an object over 2 GiB (sparse) is reported oversized by fsck and refused cleanly by reads', async () => {
  await withStore(async (store) => {
    const [, tip] = await writeLine(store, 'r1', 'main', [0, 10]);
    const manifest = JSON.parse(Buffer.from(await store.getObject(tip)).toString()) as {
      tensors: { blob: string };
    };
    const blob = store.layout.object(manifest.tensors.blob);
    const fd = openSync(blob, 'r+');
    ftruncateSync(fd, 2 ** 31 + 10); // sparse: nothing is written
    closeSync(fd);
    const report = await store.fsck();
    const p = report.problems.find((q) => q.name === manifest.tensors.blob);
    assert.ok(p, JSON.stringify(report.problems));
    assert.match(p.message, /oversized/);
    await assert.rejects(store.readState(tip), (e: unknown) => {
      assert.ok(e instanceof StoreCorruptError, String(e));
      assert.match(e.message, /oversized/);
      return true;
    });
    await assert.rejects(store.getObject(manifest.tensors.blob), StoreCorruptError);
  });
});

test('a trace that points at another kind of object is reported by fsck', async () => {
  await withStore(async (store) => {
    const [root] = await writeLine(store, 'r1', 'main', [0]);
    const e = enc(10);
    await store.putObject(e.blobBytes);
    const { id } = await store.putCheckpoint(e, { parent: root, step: 10, trace: e.blobId });
    await store.updateBranch('main', { tip: id });
    const report = await store.fsck();
    assert.equal(report.ok, false);
    assert.ok(
      report.problems.some((p) => p.name === e.blobId && /is not a trace/.test(p.message)),
      JSON.stringify(report.problems),
    );
  });
});

test('continue past MAX_STEP is refused before anything is trained or written', async () => {
  await withStore(async (store, dir) => {
    await writeLine(store, 'r1', 'main', [0, MAX_STEP - 5]);
    const before = snapshot(dir);
    await assert.rejects(
      continueFrom(store, { from: 'main', steps: 10, checkpointEvery: 1 }),
      (e: unknown) => e instanceof InputError && /would pass the largest step/.test(e.message),
    );
    assert.deepEqual(snapshot(dir), before);
  });
});
