/**
 * Keyboard shortcuts of the app. One table, used both by the key handler and the help dialog.
 * Shortcuts are single keys without modifiers and are ignored while typing in a field.
 */
export interface Shortcut {
  key: string;
  label: string;
  action: ShortcutAction;
}

export type ShortcutAction =
  | 'new'
  | 'runs'
  | 'charts'
  | 'compare'
  | 'study'
  | 'bundles'
  | 'help'
  | 'pause'
  | 'branch'
  | 'timeline';

export const SHORTCUTS: readonly Shortcut[] = [
  { key: 'n', label: 'New run', action: 'new' },
  { key: 'b', label: 'Branch from the selected checkpoint', action: 'branch' },
  { key: 'p', label: 'Pause or resume the live job', action: 'pause' },
  {
    key: 't',
    label: 'Focus the timeline (then arrow keys move between checkpoints)',
    action: 'timeline',
  },
  { key: 'r', label: 'Runs view', action: 'runs' },
  { key: 'g', label: 'Charts view', action: 'charts' },
  { key: 'c', label: 'Compare view', action: 'compare' },
  { key: 's', label: 'Seed study view', action: 'study' },
  { key: 'e', label: 'Export / import / verify bundles', action: 'bundles' },
  { key: '?', label: 'This help', action: 'help' },
];

/** The action of a key event, or null (modifiers held, or typing in a field). */
export function shortcutFor(ev: KeyboardEvent): ShortcutAction | null {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.defaultPrevented) {
    return null;
  }
  const t = ev.target as HTMLElement | null;
  if (
    t !== null &&
    (t.tagName === 'INPUT' ||
      t.tagName === 'TEXTAREA' ||
      t.tagName === 'SELECT' ||
      t.isContentEditable ||
      t.closest('dialog') !== null)
  ) {
    return null;
  }
  return SHORTCUTS.find((s) => s.key === ev.key)?.action ?? null;
}
