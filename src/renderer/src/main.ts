/**
 * Renderer entry: mounts the app into #app. It wires, it does not compute.
 * `?perf=1` mounts the benchmark harness instead: synthetic data only, no service (PerfBench).
 */
import { mount } from 'svelte';
import './styles.css';
import App from './App.svelte';
import PerfBench from './PerfBench.svelte';

const target = document.getElementById('app');
if (target === null) {
  throw new Error('index.html has no #app element');
}

const perf = new URLSearchParams(window.location.search).get('perf') === '1';

export default perf ? mount(PerfBench, { target }) : mount(App, { target });
