import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** Svelte options shared by vite-plugin-svelte, svelte-check and eslint-plugin-svelte. */
export default {
  preprocess: vitePreprocess(),
};
