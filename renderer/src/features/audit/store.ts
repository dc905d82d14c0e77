import { create } from 'zustand';

interface AuditUi {
  /** Cursors of the pages visited: [null] is the newest page. */
  cursors: (string | null)[];
  action: string;
  /** Inclusive first day and last day (YYYY-MM-DD, UTC), or ''. */
  fromDay: string;
  toDay: string;
  next(cursor: string): void;
  previous(): void;
  setAction(action: string): void;
  setRange(fromDay: string, toDay: string): void;
}

export const useAuditUi = create<AuditUi>((set) => ({
  cursors: [null],
  action: '',
  fromDay: '',
  toDay: '',
  next: (cursor) => set((s) => ({ cursors: [...s.cursors, cursor] })),
  previous: () => set((s) => ({ cursors: s.cursors.length > 1 ? s.cursors.slice(0, -1) : s.cursors })),
  setAction: (action) => set({ action, cursors: [null] }),
  setRange: (fromDay, toDay) => set({ fromDay, toDay, cursors: [null] }),
}));
