import { create } from 'zustand';

interface AuditUi {
  page: number;
  action: string;
  setPage(page: number): void;
  setAction(action: string): void;
}

export const useAuditUi = create<AuditUi>((set) => ({
  page: 1,
  action: '',
  setPage: (page) => set({ page }),
  setAction: (action) => set({ action, page: 1 }),
}));
