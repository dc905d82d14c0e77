/** Which page the shell shows. Local UI state: a zustand store. */
import { create } from 'zustand';

export const PAGES = [
  { id: 'dashboard', label: 'Dashboard' },
  { id: 'import', label: 'Import' },
  { id: 'library', label: 'Library' },
  { id: 'staging', label: 'Staging' },
  { id: 'restore', label: 'Restore' },
  { id: 'checklists', label: 'Checklists' },
  { id: 'audit', label: 'Audit' },
  { id: 'keys', label: 'Keys' },
  { id: 'settings', label: 'Settings' },
  { id: 'help', label: 'Help' },
] as const;

export type PageId = (typeof PAGES)[number]['id'];

interface NavStore {
  page: PageId;
  go(page: PageId): void;
}

export const useNav = create<NavStore>((set) => ({
  page: 'dashboard',
  go: (page) => set({ page }),
}));
