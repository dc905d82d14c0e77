/** The Import page's local state: what the operator chose, and the job it started. */
import { create } from 'zustand';

interface ImportStore {
  path: string;
  keyFiles: string[];
  identityFiles: string[];
  jobId: string | null;
  setPath(path: string): void;
  setKeyFiles(files: string[]): void;
  setIdentityFiles(files: string[]): void;
  setJob(jobId: string | null): void;
  prefill(path: string, keyFiles: string[]): void;
}

export const useImportStore = create<ImportStore>((set) => ({
  path: '',
  keyFiles: [],
  identityFiles: [],
  jobId: null,
  setPath: (path) => set({ path }),
  setKeyFiles: (keyFiles) => set({ keyFiles }),
  setIdentityFiles: (identityFiles) => set({ identityFiles }),
  setJob: (jobId) => set({ jobId }),
  prefill: (path, keyFiles) => set({ path, keyFiles, jobId: null }),
}));
