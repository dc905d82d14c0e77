// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { effectiveTheme, startThemeSync, THEME_STORAGE_KEY, useTheme } from './theme';
import { interpretKey } from './shortcuts';

describe('theme', () => {
  let stop: () => void = () => {};
  beforeEach(() => {
    localStorage.clear();
    useTheme.setState({ choice: 'system', prefersDark: false });
  });
  afterEach(() => stop());

  it('follows the OS when the choice is "system" and the choice otherwise', () => {
    expect(effectiveTheme('system', true)).toBe('dark');
    expect(effectiveTheme('system', false)).toBe('light');
    expect(effectiveTheme('light', true)).toBe('light');
    expect(effectiveTheme('dark', false)).toBe('dark');
  });

  it('puts the PatternFly dark class on <html>, tracks OS changes, and keeps an explicit choice in localStorage', () => {
    const root = document.createElement('html');
    stop = startThemeSync(root);
    expect(root.classList.contains('pf-v6-theme-dark')).toBe(false);
    useTheme.getState().setPrefersDark(true);
    expect(root.classList.contains('pf-v6-theme-dark')).toBe(true);
    expect(root.dataset.theme).toBe('dark');
    useTheme.getState().choose('light');
    expect(root.classList.contains('pf-v6-theme-dark')).toBe(false);
    expect(localStorage.getItem(THEME_STORAGE_KEY)).toBe('light');
    useTheme.getState().choose('system');
    expect(root.dataset.theme).toBe('dark');
  });
});

describe('shortcuts', () => {
  const key = (k: string, target: EventTarget | null = document.body, mods: Partial<{ ctrlKey: boolean; altKey: boolean; metaKey: boolean }> = {}) => ({
    key: k,
    ctrlKey: false,
    altKey: false,
    metaKey: false,
    target,
    ...mods,
  });

  it('"?" opens the list, "g" then a letter goes to a page, anything else nothing', () => {
    expect(interpretKey(key('?'), false)).toEqual({ type: 'help' });
    expect(interpretKey(key('g'), false)).toEqual({ type: 'pending' });
    expect(interpretKey(key('k'), true)).toEqual({ type: 'go', page: 'keys' });
    expect(interpretKey(key('k'), false)).toBeNull();
    expect(interpretKey(key('z'), true)).toBeNull();
    expect(interpretKey(key('g', document.body, { ctrlKey: true }), false)).toBeNull();
  });

  it('never fires while typing in a field', () => {
    const input = document.createElement('input');
    const area = document.createElement('textarea');
    const box = document.createElement('input');
    box.type = 'checkbox';
    expect(interpretKey(key('?', input), false)).toBeNull();
    expect(interpretKey(key('k', area), true)).toBeNull();
    expect(interpretKey(key('?', box), false)).toEqual({ type: 'help' });
  });
});
