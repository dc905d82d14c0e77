import { create } from 'zustand';

interface ChecklistUi {
  selectedRunId: string | null;
  select(runId: string | null): void;
}

export const useChecklistUi = create<ChecklistUi>((set) => ({
  selectedRunId: null,
  select: (selectedRunId) => set({ selectedRunId }),
}));
