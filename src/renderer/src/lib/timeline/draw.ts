/**
 * Draws the timeline layout on a canvas: a step axis, one lane per branch, checkpoints as dots,
 * branch points as connectors from the base checkpoint, running branches animated. Only the rows
 * in view are drawn, and within a lane only one dot per pixel column (plus the selected one), so
 * the cost follows the viewport, not the store: 50 branches × 1,000 checkpoints draw in a frame.
 */
import type { Palette } from '../state/theme.svelte';
import { lowerBound, type Lane, type TimelineLayout } from './layout';

export const ROW_H = 26;
export const AXIS_H = 24;

/** What is in view and how steps map to pixels. */
export interface Viewport {
  width: number;
  height: number;
  scrollTop: number;
  x0: number;
  x1: number;
  padLeft: number;
  padRight: number;
}

export interface RunningBranch {
  step: number;
  toStep: number;
}

export interface DrawInput {
  layout: TimelineLayout;
  view: Viewport;
  palette: Palette;
  selected: string | null;
  /**
   * the row whose lane shows the selection: a checkpoint shared by several lanes is ringed on
   * this one only (the lane the label highlight and the arrow keys use), never on another
   */
  selectedRow?: number | null;
  running: ReadonlyMap<string, RunningBranch>;
  /** animation phase in [0, 1) */
  phase: number;
  /** branch name → its colour (lib/colors); a missing branch is drawn in the muted colour */
  colors?: ReadonlyMap<string, string>;
}

/** Step → x pixel. */
export function stepToX(view: Viewport, step: number): number {
  const span = Math.max(1e-9, view.x1 - view.x0);
  return view.padLeft + ((step - view.x0) / span) * (view.width - view.padLeft - view.padRight);
}

/** x pixel → step. */
export function xToStep(view: Viewport, x: number): number {
  const span = view.x1 - view.x0;
  return view.x0 + ((x - view.padLeft) / (view.width - view.padLeft - view.padRight)) * span;
}

/** y pixel (canvas coordinates) of the center of a row. */
export function rowToY(view: Viewport, row: number): number {
  return AXIS_H + row * ROW_H + ROW_H / 2 - view.scrollTop;
}

/** "Nice" tick spacing for a step range. */
function tickStep(span: number, target: number): number {
  const raw = span / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-9)));
  for (const m of [1, 2, 5, 10]) {
    if (m * mag >= raw) {
      return Math.max(1, m * mag);
    }
  }
  return Math.max(1, 10 * mag);
}

/** A lane's colour is its branch's (status is shown by the label's dot and the lane's end). */
function laneColor(
  lane: Lane,
  p: Palette,
  colors: ReadonlyMap<string, string> | undefined,
): string {
  return colors?.get(lane.branch.name) ?? p.muted;
}

/** What a frame drew that the page exposes (tests read it): where the selection ring is. */
export interface DrawOutput {
  ring: { row: number; x: number; y: number } | null;
}

/** Draws one frame. `ctx` is already scaled for devicePixelRatio. */
export function drawTimeline(ctx: CanvasRenderingContext2D, d: DrawInput): DrawOutput {
  const { layout, view, palette: p } = d;
  ctx.clearRect(0, 0, view.width, view.height);
  ctx.font = '11px system-ui, sans-serif';

  // grid + axis
  const ts = tickStep(view.x1 - view.x0, Math.floor(view.width / 90));
  ctx.strokeStyle = p.grid;
  ctx.fillStyle = p.muted;
  ctx.lineWidth = 1;
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'center';
  for (let s = Math.ceil(view.x0 / ts) * ts; s <= view.x1; s += ts) {
    const x = Math.round(stepToX(view, s)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(x, AXIS_H - 4);
    ctx.lineTo(x, view.height);
    ctx.stroke();
    ctx.fillText(s.toLocaleString('en-US'), x, AXIS_H / 2 - 1);
  }

  const first = Math.max(0, Math.floor(view.scrollTop / ROW_H) - 1);
  const last = Math.min(layout.rows.length - 1, Math.ceil((view.scrollTop + view.height) / ROW_H));

  ctx.save();
  ctx.beginPath();
  ctx.rect(0, AXIS_H, view.width, view.height - AXIS_H);
  ctx.clip();

  // run and study separators
  for (let r = first; r <= last; r++) {
    const row = layout.rows[r];
    if (row.kind !== 'branch') {
      const y = Math.round(rowToY(view, r) - ROW_H / 2) + 0.5;
      ctx.strokeStyle = p.grid;
      ctx.beginPath();
      ctx.moveTo(0, y);
      ctx.lineTo(view.width, y);
      ctx.stroke();
    }
  }

  // connectors (all lanes: a connector may cross the viewport with both ends outside it)
  const topY = AXIS_H;
  const stubs: { x: number; y0: number; y1: number; r: number; color: string }[] = [];
  for (const lane of layout.lanes) {
    if (lane.parentRow === null || lane.branch.baseStep === null) {
      continue;
    }
    const y0 = rowToY(view, lane.parentRow);
    const y1 = rowToY(view, lane.row);
    if (Math.max(y0, y1) < topY || Math.min(y0, y1) > view.height) {
      continue;
    }
    const x = stepToX(view, lane.branch.baseStep);
    const xEnd = stepToX(view, lane.nodes.length > 0 ? lane.nodes[0].step : lane.endStep);
    const color = laneColor(lane, p, d.colors);
    ctx.strokeStyle = color;
    ctx.globalAlpha = 0.8;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.moveTo(x, y0);
    const r = Math.min(8, Math.abs(y1 - y0) / 2, Math.max(0, xEnd - x));
    ctx.lineTo(x, y1 - r);
    ctx.quadraticCurveTo(x, y1, x + r, y1);
    ctx.stroke();
    ctx.globalAlpha = 1;
    stubs.push({ x, y0, y1, r, color });
  }

  // halos: each lane line is cut out of the connectors it crosses, so a connector reads as
  // passing under a lane instead of joining it
  ctx.strokeStyle = p.panel;
  ctx.lineWidth = 7;
  for (let r = first; r <= last; r++) {
    const lane = layout.rows[r];
    if (lane.kind !== 'branch') {
      continue;
    }
    const y = rowToY(view, r);
    ctx.beginPath();
    ctx.moveTo(Math.max(-10, stepToX(view, lane.startStep)), y);
    ctx.lineTo(Math.min(view.width + 10, stepToX(view, lane.endStep)), y);
    ctx.stroke();
  }
  // ... but not out of a connector's own ends (the branch point and the bend into its lane)
  ctx.lineWidth = 1.5;
  ctx.globalAlpha = 0.8;
  for (const c of stubs) {
    ctx.strokeStyle = c.color;
    ctx.beginPath();
    ctx.moveTo(c.x, c.y0);
    ctx.lineTo(c.x, c.y0 + 5);
    ctx.moveTo(c.x, Math.max(c.y0, c.y1 - c.r - 5));
    ctx.lineTo(c.x, c.y1 - c.r);
    ctx.quadraticCurveTo(c.x, c.y1, c.x + c.r, c.y1);
    ctx.stroke();
  }
  ctx.globalAlpha = 1;

  // lanes
  let selectedAt: { row: number; x: number; y: number } | null = null;
  const ringRow = d.selectedRow ?? (d.selected === null ? null : layout.where.get(d.selected)?.row);
  for (let r = first; r <= last; r++) {
    const lane = layout.rows[r];
    if (lane.kind !== 'branch') {
      continue;
    }
    const y = rowToY(view, r);
    const run = d.running.get(lane.branch.name);
    const color = laneColor(lane, p, d.colors);
    const xs = stepToX(view, lane.startStep);
    const xe = stepToX(view, lane.endStep);
    ctx.strokeStyle = color;
    ctx.lineWidth = run !== undefined ? 3 : 2;
    ctx.beginPath();
    ctx.moveTo(Math.max(-10, xs), y);
    ctx.lineTo(Math.min(view.width + 10, xe), y);
    ctx.stroke();
    const status = lane.branch.status;
    if (
      run === undefined &&
      (status === 'diverged' || status === 'failed' || status === 'stopped')
    ) {
      // the lane's end says how it ended: a bar for stopped, a cross for diverged or failed
      ctx.strokeStyle = status === 'stopped' ? p.warn : p.bad;
      ctx.lineWidth = 2;
      ctx.beginPath();
      if (status === 'stopped') {
        ctx.moveTo(xe + 7, y - 5);
        ctx.lineTo(xe + 7, y + 5);
      } else {
        ctx.moveTo(xe + 4, y - 4);
        ctx.lineTo(xe + 12, y + 4);
        ctx.moveTo(xe + 12, y - 4);
        ctx.lineTo(xe + 4, y + 4);
      }
      ctx.stroke();
    }

    if (run !== undefined && run.toStep > lane.endStep) {
      // the running job: marching dashes up to the target step and a pulsing head
      const xh = stepToX(view, Math.max(run.step, lane.endStep));
      const xt = stepToX(view, run.toStep);
      ctx.setLineDash([4, 4]);
      ctx.lineDashOffset = -d.phase * 16;
      ctx.globalAlpha = 0.5;
      ctx.beginPath();
      ctx.moveTo(xe, y);
      ctx.lineTo(xt, y);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.globalAlpha = 1;
      ctx.lineWidth = 3;
      ctx.beginPath();
      ctx.moveTo(xe, y);
      ctx.lineTo(xh, y);
      ctx.stroke();
      const pulse = 3 + 3 * Math.abs(Math.sin(d.phase * Math.PI));
      ctx.globalAlpha = 0.35;
      ctx.fillStyle = color;
      ctx.beginPath();
      ctx.arc(xh, y, 4 + pulse, 0, Math.PI * 2);
      ctx.fill();
      ctx.globalAlpha = 1;
      ctx.beginPath();
      ctx.arc(xh, y, 3, 0, Math.PI * 2);
      ctx.fill();
    }

    // checkpoints in view, one per pixel column
    const lo = lowerBound(lane.steps, xToStep(view, -6));
    const hi = lowerBound(lane.steps, xToStep(view, view.width + 6));
    ctx.fillStyle = color;
    ctx.strokeStyle = p.bg;
    ctx.lineWidth = 1.5;
    let lastPx = -Infinity;
    for (let i = lo; i < hi; i++) {
      const node = lane.nodes[i];
      const x = stepToX(view, node.step);
      // a checkpoint shared by several lanes is ringed on one lane only (selectedRow)
      if (node.id === d.selected && ringRow === r) {
        selectedAt = { row: r, x, y };
      }
      if (x - lastPx < 2.5 && i !== hi - 1) {
        continue;
      }
      lastPx = x;
      ctx.beginPath();
      if (node.checkpoint.eval) {
        // an evaluated checkpoint: a larger dot with a ring
        ctx.arc(x, y, 5, 0, Math.PI * 2);
        ctx.fill();
        ctx.stroke();
        ctx.strokeStyle = color;
        ctx.lineWidth = 1;
        ctx.beginPath();
        ctx.arc(x, y, 7, 0, Math.PI * 2);
        ctx.stroke();
        ctx.strokeStyle = p.bg;
        ctx.lineWidth = 1.5;
      } else {
        ctx.arc(x, y, 3.5, 0, Math.PI * 2);
        ctx.fill();
        ctx.stroke();
      }
    }
  }
  if (selectedAt !== null) {
    ctx.strokeStyle = p.fg;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(selectedAt.x, selectedAt.y, 9.5, 0, Math.PI * 2);
    ctx.stroke();
  }
  ctx.restore();
  return { ring: selectedAt };
}
