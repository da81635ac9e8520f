import { build } from 'esbuild';
import { join, basename, dirname } from 'node:path';
const ROOT = '/work/wt-start3';
const out = process.argv[2];
const LIGHT = new Set((process.argv[3] ?? 'log,show,trace,fsck,remove').split(','));
const heavy = {
  name: 'heavy', setup(b) {
    b.onResolve({ filter: /.*/ }, (a) => {
      if (a.kind === 'dynamic-import' && dirname(a.importer) === join(ROOT, 'src/cli/commands') && !LIGHT.has(basename(a.importer, '.ts')))
        return { path: a.path, namespace: 'heavy' };
      if (a.kind === 'dynamic-import' && /executor-options|training-options/.test(a.importer)) return { path: a.path, namespace: 'heavy' };
    });
    b.onLoad({ filter: /.*/, namespace: 'heavy' }, (a) => ({ contents: `throw new Error(${JSON.stringify('not in front: ' + a.path)})`, loader: 'js' }));
  },
};
const r = await build({
  absWorkingDir: ROOT,
  entryPoints: { front: join(ROOT, 'src/cli/front.ts') },
  outdir: out, outExtension: { '.js': '.cjs' },
  bundle: true, format: 'cjs', platform: 'node', target: 'node20.19',
  mainFields: ['module', 'main'], minifyWhitespace: true, minifySyntax: true,
  external: ['tsx', 'esbuild', 'electron', '@tensorflow/*'], plugins: [heavy],
  define: { 'import.meta.url': '__lockstepImportMetaUrl', 'import.meta.dirname': '__dirname' },
  banner: { js: '"use strict";const __lockstepImportMetaUrl=require("node:url").pathToFileURL(__filename).href;' },
  tsconfig: join(ROOT, 'tsconfig.node.json'), logLevel: 'error', metafile: true,
});
const outs = r.metafile.outputs; for (const k in outs) console.log(k, outs[k].bytes);
const ins = Object.entries(outs[Object.keys(outs)[0]].inputs).sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput);
for (const [k, v] of ins.slice(0, 40)) console.log(String(v.bytesInOutput).padStart(8), k);
