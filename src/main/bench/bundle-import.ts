/**
 * Bench section of bundle import (issue 20): import and idempotent re-import time of a run with
 * 2,000 branches (200 with --quick). Import plans read the store's branches once: O(n log n) in
 * branches. The measurement itself is in ../bundle/measure.ts.
 */
import { measureManyBranchImport } from '../bundle/measure';
import type { BenchContext, ExtraSection } from './bench';

export async function bundleImportSection(ctx: BenchContext): Promise<ExtraSection> {
  const n = ctx.quick ? 200 : 2000;
  ctx.log(`import: a ${n}-branch bundle, imported then re-imported`);
  const r = await measureManyBranchImport(n);
  const note = `${r.branches} branches, ${(r.bundleBytes / 1024).toFixed(0)} KiB bundle; planning is O(n log n) in branches`;
  return {
    title: 'bundle import of many branches',
    rows: [
      { label: `import, ${r.branches} branches`, value: r.firstImportMs / 1000, unit: 's', note },
      {
        label: `re-import (idempotent), ${r.branches} branches`,
        value: r.reImportMs / 1000,
        unit: 's',
        note,
      },
    ],
  };
}
