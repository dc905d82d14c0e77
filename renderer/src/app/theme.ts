/**
 * Light and dark themes. The operator chooses "system" (follow the OS through
 * prefers-color-scheme), "light" or "dark"; the choice is kept in localStorage
 * (a per-machine display preference, not a workspace setting, so it is not audited).
 * PatternFly 6 switches its tokens with the `pf-v6-theme-dark` class on <html>.
 */
import { create } from 'zustand';

export type ThemeChoice = 'system' | 'light' | 'dark';
export const THEME_STORAGE_KEY = 'okc.theme';
const DARK_CLASS = 'pf-v6-theme-dark';

function readChoice(): ThemeChoice {
  try {
    const v = globalThis.localStorage?.getItem(THEME_STORAGE_KEY);
    return v === 'light' || v === 'dark' || v === 'system' ? v : 'system';
  } catch {
    return 'system';
  }
}

function systemPrefersDark(): boolean {
  return typeof globalThis.matchMedia === 'function' && globalThis.matchMedia('(prefers-color-scheme: dark)').matches;
}

export function effectiveTheme(choice: ThemeChoice, prefersDark: boolean = systemPrefersDark()): 'light' | 'dark' {
  return choice === 'system' ? (prefersDark ? 'dark' : 'light') : choice;
}

interface ThemeStore {
  choice: ThemeChoice;
  /** What the OS asks for right now (kept current by a media query listener). */
  prefersDark: boolean;
  choose(choice: ThemeChoice): void;
  setPrefersDark(dark: boolean): void;
}

export const useTheme = create<ThemeStore>((set) => ({
  choice: readChoice(),
  prefersDark: systemPrefersDark(),
  choose: (choice) => {
    try {
      globalThis.localStorage?.setItem(THEME_STORAGE_KEY, choice);
    } catch {
      // Storage unavailable: the choice holds for this session only.
    }
    set({ choice });
  },
  setPrefersDark: (prefersDark) => set({ prefersDark }),
}));

/** Applies the effective theme to <html> and follows OS changes; returns a disposer. */
export function startThemeSync(root: HTMLElement = document.documentElement): () => void {
  const apply = () => {
    const { choice, prefersDark } = useTheme.getState();
    const theme = effectiveTheme(choice, prefersDark);
    root.classList.toggle(DARK_CLASS, theme === 'dark');
    root.dataset.theme = theme;
    root.style.colorScheme = theme;
  };
  const mq = typeof globalThis.matchMedia === 'function' ? globalThis.matchMedia('(prefers-color-scheme: dark)') : null;
  const onChange = (e: MediaQueryListEvent) => useTheme.getState().setPrefersDark(e.matches);
  mq?.addEventListener('change', onChange);
  const unsub = useTheme.subscribe(apply);
  apply();
  return () => {
    mq?.removeEventListener('change', onChange);
    unsub();
  };
}
