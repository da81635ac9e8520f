/**
 * Build configuration for the three Electron processes (electron-vite 6 on Vite 8).
 *
 * - main: `src/main/index.ts` and the job process's Electron entry
 *   (`src/main/job-process/entry-electron.ts` → `out/main/job-process.js`). Node dependencies
 *   stay external (electron-vite's default `build.externalizeDeps`), so the engine's
 *   native/wasm packages load from node_modules.
 * - preload: `src/preload/index.ts`, emitted as CommonJS because sandboxed preload scripts
 *   cannot be ES modules (https://www.electronjs.org/docs/latest/tutorial/esm#preload-scripts).
 * - renderer: `src/renderer/index.html` with Svelte 5.
 *
 * Everything is written under `out/`.
 */
import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

/** Main-process entries: output name → source file. */
const MAIN_ENTRIES: Record<string, string> = {
  index: resolve(import.meta.dirname, 'src/main/index.ts'),
  'job-process': resolve(import.meta.dirname, 'src/main/job-process/entry-electron.ts'),
};

export default defineConfig({
  main: {
    build: {
      rolldownOptions: {
        input: MAIN_ENTRIES,
      },
    },
  },
  preload: {
    build: {
      rolldownOptions: {
        input: { index: resolve(import.meta.dirname, 'src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(import.meta.dirname, 'src/renderer'),
    build: {
      rolldownOptions: {
        input: { index: resolve(import.meta.dirname, 'src/renderer/index.html') },
      },
    },
    plugins: [svelte({ configFile: resolve(import.meta.dirname, 'svelte.config.js') })],
  },
});
