/** Renderer entry: mounts the Svelte app into #app. It wires, it does not compute. */
import { mount } from 'svelte';
import App from './App.svelte';

const target = document.getElementById('app');
if (target === null) {
  throw new Error('index.html has no #app element');
}

export default mount(App, { target });
