/**
 * Chart.js registration (only the parts the views use) and the two small plugins of our own:
 * vertical markers (branch points, divergence steps) and x-axis zoom and pan (Ctrl/Shift/⌘ +
 * wheel zooms around the cursor — a plain wheel scrolls the page, as on the timeline —, drag pans,
 * double-click resets). Our own zoom instead of chartjs-plugin-zoom keeps
 * hammerjs out of the bundle; the x axis is all these charts need.
 */
import {
  Chart,
  Decimation,
  Filler,
  Legend,
  LineController,
  LineElement,
  LinearScale,
  LogarithmicScale,
  PointElement,
  ScatterController,
  Tooltip,
  type Plugin,
} from 'chart.js';

Chart.register(
  LineController,
  ScatterController,
  LineElement,
  PointElement,
  LinearScale,
  LogarithmicScale,
  Decimation,
  Filler,
  Legend,
  Tooltip,
);

export { Chart };

/** A vertical line at x with a label. */
export interface Marker {
  x: number;
  label: string;
  color: string;
  dash?: number[];
}

/** A plugin drawing `getMarkers()` as vertical lines over the chart area. */
export function markerPlugin(getMarkers: () => readonly Marker[]): Plugin<'line' | 'scatter'> {
  return {
    id: 'lockstepMarkers',
    afterDatasetsDraw(chart) {
      const { ctx, chartArea, scales } = chart;
      const x = scales.x;
      if (!x) {
        return;
      }
      ctx.save();
      ctx.font = '11px system-ui, sans-serif';
      ctx.textBaseline = 'top';
      const all = getMarkers();
      // labels are staggered in rows so that markers at nearby steps do not print over each other
      let row = 0;
      for (const m of all) {
        if (m.x < x.min || m.x > x.max) {
          continue;
        }
        const px = Math.round(x.getPixelForValue(m.x)) + 0.5;
        ctx.strokeStyle = m.color;
        ctx.fillStyle = m.color;
        ctx.lineWidth = 1.5;
        ctx.setLineDash(m.dash ?? [4, 3]);
        ctx.beginPath();
        ctx.moveTo(px, chartArea.top);
        ctx.lineTo(px, chartArea.bottom);
        ctx.stroke();
        ctx.setLineDash([]);
        if (m.label !== '') {
          const w = ctx.measureText(m.label).width;
          const tx = px + 4 + w > chartArea.right ? px - 4 - w : px + 4;
          ctx.fillText(m.label, tx, chartArea.top + 2 + (row % 4) * 13);
          row++;
        }
      }
      ctx.restore();
    },
  };
}

/** The x range of the data of a chart. */
function dataRange(chart: Chart<'line' | 'scatter'>): { min: number; max: number } | null {
  let min = Infinity;
  let max = -Infinity;
  for (const ds of chart.data.datasets) {
    const data = ds.data as { x: number }[];
    if (data.length > 0) {
      min = Math.min(min, data[0].x);
      max = Math.max(max, data[data.length - 1].x);
    }
  }
  return Number.isFinite(min) && max > min ? { min, max } : null;
}

/**
 * Installs x zoom and pan on a chart's canvas; returns a disposer. `onChange(zoomed)` is told
 * whether the view is zoomed in.
 */
export function installZoom(
  chart: Chart<'line' | 'scatter'>,
  onChange: (zoomed: boolean) => void,
  /** the unzoomed x range the caller asked for (undefined: the data's) */
  home: () => { min?: number; max?: number } = () => ({}),
  /**
   * When given, the x range is the caller's (several charts share one axis): zoom, pan and reset
   * report the new range here (null = reset) instead of changing this chart by themselves.
   */
  onRange?: (range: { min: number; max: number } | null) => void,
): () => void {
  const canvas = chart.canvas;
  const x = chart.options.scales?.x;
  if (!x) {
    return () => undefined;
  }
  const setRange = (min: number | undefined, max: number | undefined): void => {
    const h = home();
    const reset = min === undefined && max === undefined;
    if (onRange) {
      onRange(reset ? null : { min: min!, max: max! });
      return;
    }
    x.min = reset ? h.min : min;
    x.max = reset ? h.max : max;
    chart.update('none');
    onChange(!reset);
  };
  /** the range zoom and pan stay within: the caller's home range, else the data's */
  const fullRange = (): { min: number; max: number } | null => {
    const h = home();
    return h.min !== undefined && h.max !== undefined && h.max > h.min
      ? { min: h.min, max: h.max }
      : dataRange(chart);
  };
  const onWheel = (ev: WheelEvent): void => {
    if (!ev.ctrlKey && !ev.shiftKey && !ev.metaKey) {
      return; // a plain wheel scrolls the page
    }
    const full = fullRange();
    const scale = chart.scales.x;
    if (!full || !scale) {
      return;
    }
    ev.preventDefault();
    const delta = ev.deltaY !== 0 ? ev.deltaY : ev.deltaX;
    const factor = Math.exp(delta * 0.0015);
    const at = scale.getValueForPixel(ev.offsetX) ?? (scale.min + scale.max) / 2;
    let min = at - (at - scale.min) * factor;
    let max = at + (scale.max - at) * factor;
    if (max - min >= full.max - full.min) {
      setRange(undefined, undefined);
      return;
    }
    min = Math.max(full.min, min);
    max = Math.min(full.max, max);
    setRange(min, max);
  };
  let drag: { px: number; min: number; max: number } | null = null;
  const onDown = (ev: PointerEvent): void => {
    const scale = chart.scales.x;
    if (ev.button !== 0 || !scale || x.min === undefined) {
      return;
    }
    drag = { px: ev.clientX, min: scale.min, max: scale.max };
    canvas.setPointerCapture(ev.pointerId);
  };
  const onMove = (ev: PointerEvent): void => {
    const scale = chart.scales.x;
    const full = fullRange();
    if (!drag || !scale || !full) {
      return;
    }
    const perPx = (drag.max - drag.min) / Math.max(1, scale.width);
    let shift = -(ev.clientX - drag.px) * perPx;
    shift = Math.max(full.min - drag.min, Math.min(full.max - drag.max, shift));
    setRange(drag.min + shift, drag.max + shift);
  };
  const onUp = (): void => {
    drag = null;
  };
  const onDbl = (): void => setRange(undefined, undefined);
  canvas.addEventListener('wheel', onWheel, { passive: false });
  canvas.addEventListener('pointerdown', onDown);
  canvas.addEventListener('pointermove', onMove);
  canvas.addEventListener('pointerup', onUp);
  canvas.addEventListener('dblclick', onDbl);
  return () => {
    canvas.removeEventListener('wheel', onWheel);
    canvas.removeEventListener('pointerdown', onDown);
    canvas.removeEventListener('pointermove', onMove);
    canvas.removeEventListener('pointerup', onUp);
    canvas.removeEventListener('dblclick', onDbl);
  };
}

/** Chart colors that read well on light and dark backgrounds. */
export const SERIES_COLORS = [
  '#3b82f6',
  '#f97316',
  '#10b981',
  '#e11d48',
  '#8b5cf6',
  '#eab308',
  '#06b6d4',
  '#ec4899',
  '#84cc16',
  '#64748b',
];

/** The color of the i-th series. */
export function seriesColor(i: number): string {
  return SERIES_COLORS[i % SERIES_COLORS.length];
}
