/**
 * The shape of the render benchmark's results (`?perf=1`, PerfBench.svelte), which the page
 * leaves on `window.__lockstepPerf` for the e2e perf test to read. Types only, no imports: the
 * Node-side test imports it too.
 */

/** One timed render: until the next animation frame, and until that frame has painted. */
export interface Timing {
  /** state change → layout + canvas draw done (next animation frame) */
  renderMs: number;
  /** state change → after the frame was painted */
  paintMs: number;
}

export interface PerfResults {
  synthetic: true;
  timeline: {
    branches: number;
    checkpoints: number;
    first: Timing;
    /** layout + draw inside the component, per full draw */
    drawMs: number;
    /** redraws on selection changes (the layout is kept) */
    selectRedrawMs: number[];
  };
  timelineLarge: { branches: number; checkpoints: number; first: Timing; drawMs: number };
  chart: {
    points: number;
    /** points Chart.js actually drew after decimation */
    drawnPoints: number;
    first: Timing;
    updateMs: number[];
    zoomRedrawMs: number[];
  };
  userAgent: string;
  devicePixelRatio: number;
  viewport: { width: number; height: number };
}
