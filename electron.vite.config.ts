/**
 * Build configuration for the three Electron processes (electron-vite 6 on Vite 8).
 *
 * - main: `src/main/index.ts` plus every other main-side entry listed in `MAIN_ENTRIES` that
 *   exists on disk (the trainer process is written separately; until its file exists it is
 *   simply left out). Node dependencies stay external (electron-vite's default
 *   `build.externalizeDeps`), so the engine's native/wasm packages load from node_modules.
 * - preload: `src/preload/index.ts`, emitted as CommonJS because sandboxed preload scripts
 *   cannot be ES modules (https://www.electronjs.org/docs/latest/tutorial/esm#preload-scripts).
 * - renderer: `src/renderer/index.html` with Svelte 5.
 *
 * Everything is written under `out/`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

/** The app version from package.json, compiled into the preload as `__LOCKSTEP_VERSION__`. */
const version = (
  JSON.parse(readFileSync(resolve(import.meta.dirname, 'package.json'), 'utf8')) as {
    version: string;
  }
).version;

/** Main-process entries: output name → source file. Add a line here for a new entry. */
const MAIN_ENTRIES: Record<string, string> = {
  index: 'src/main/index.ts',
  'trainer-process': 'src/main/trainer-process.ts',
};

/** The entries whose source file exists, as absolute paths (`index` must exist). */
function existingEntries(entries: Record<string, string>): Record<string, string> {
  const input: Record<string, string> = {};
  for (const [name, file] of Object.entries(entries)) {
    const path = resolve(import.meta.dirname, file);
    if (existsSync(path)) {
      input[name] = path;
    } else if (name === 'index') {
      throw new Error(`electron.vite.config.ts: the main entry ${file} is missing`);
    }
  }
  return input;
}

export default defineConfig({
  main: {
    build: {
      rolldownOptions: {
        input: existingEntries(MAIN_ENTRIES),
      },
    },
  },
  preload: {
    define: { __LOCKSTEP_VERSION__: JSON.stringify(version) },
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
