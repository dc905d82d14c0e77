/**
 * Keyboard shortcuts of the shell: "?" lists them, "g" then a letter goes to a
 * page. Keys typed into a field never count. Pure, so it is unit tested.
 */
import type { PageId } from './navStore';

/** "g" + letter → page. Pages without a letter here simply have no shortcut. */
export const GO_KEYS: Partial<Record<PageId, string>> = {
  dashboard: 'd',
  import: 'i',
  library: 'l',
  staging: 's',
  checklists: 'c',
  audit: 'a',
  keys: 'k',
  settings: 'e',
  help: 'h',
};

export const OTHER_SHORTCUTS: { keys: string; what: string }[] = [
  { keys: '?', what: 'Show this list of keyboard shortcuts' },
  { keys: 'Tab (first, on any page)', what: 'Skip to the page content' },
  { keys: 'Escape', what: 'Close a dialog without doing anything' },
];

export type ShortcutAction = { type: 'help' } | { type: 'go'; page: PageId } | { type: 'pending' } | null;

export function isTypingTarget(t: EventTarget | null): boolean {
  if (!t || typeof (t as HTMLElement).tagName !== 'string') return false;
  const el = t as HTMLElement;
  const tag = el.tagName.toLowerCase();
  if (tag === 'textarea' || tag === 'select' || el.isContentEditable) return true;
  if (tag === 'input') {
    const type = ((el as HTMLInputElement).type || 'text').toLowerCase();
    return !['checkbox', 'radio', 'button', 'submit', 'reset'].includes(type);
  }
  return false;
}

/** Decides what a key press means, given whether "g" was just pressed. */
export function interpretKey(e: { key: string; ctrlKey: boolean; metaKey: boolean; altKey: boolean; target: EventTarget | null }, afterG: boolean): ShortcutAction {
  if (e.ctrlKey || e.metaKey || e.altKey || isTypingTarget(e.target)) return null;
  if (e.key === '?') return { type: 'help' };
  if (afterG) {
    const hit = (Object.entries(GO_KEYS) as [PageId, string][]).find(([, k]) => k === e.key.toLowerCase());
    return hit ? { type: 'go', page: hit[0] } : null;
  }
  if (e.key === 'g') return { type: 'pending' };
  return null;
}
