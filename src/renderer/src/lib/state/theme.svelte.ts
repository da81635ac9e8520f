/**
 * Light or dark, following the system (prefers-color-scheme). Canvas drawings (charts, timeline)
 * read their colors from here; CSS follows the media query by itself.
 */
const query = window.matchMedia('(prefers-color-scheme: dark)');

export interface Palette {
  fg: string;
  muted: string;
  grid: string;
  bg: string;
  panel: string;
  accent: string;
  ok: string;
  warn: string;
  bad: string;
}

const LIGHT: Palette = {
  fg: '#1b1f24',
  muted: '#5b6470',
  grid: 'rgba(27, 31, 36, 0.1)',
  bg: '#ffffff',
  panel: '#f4f6f8',
  accent: '#2563eb',
  ok: '#15803d',
  warn: '#b45309',
  bad: '#b91c1c',
};

const DARK: Palette = {
  fg: '#e6e8eb',
  muted: '#9aa3ad',
  grid: 'rgba(230, 232, 235, 0.12)',
  bg: '#16181c',
  panel: '#1f2228',
  accent: '#60a5fa',
  ok: '#4ade80',
  warn: '#fbbf24',
  bad: '#f87171',
};

class Theme {
  dark = $state(query.matches);

  constructor() {
    query.addEventListener('change', (e) => {
      this.dark = e.matches;
    });
  }

  get palette(): Palette {
    return this.dark ? DARK : LIGHT;
  }
}

/** The app's theme (one per page). */
export const theme = new Theme();
