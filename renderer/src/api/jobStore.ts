/** Live job state fed by the engine's job.progress / job.done events. */
import { create } from 'zustand';
import type { JobInfo } from '../../../shared/contract';
import type { JobProgress } from '../../../shared/types';

interface JobStore {
  progressById: Record<string, JobProgress>;
  doneById: Record<string, JobInfo>;
  progress(p: JobProgress): void;
  done(info: JobInfo): void;
}

export const useJobStore = create<JobStore>((set) => ({
  progressById: {},
  doneById: {},
  progress: (p) => set((s) => ({ progressById: { ...s.progressById, [p.jobId]: p } })),
  done: (info) => set((s) => ({ doneById: { ...s.doneById, [info.jobId]: info } })),
}));
