/** Jobs for every page: jobs.list merged with live progress, and whether a job that changes staging runs (useJobBusy). */
import { useQuery } from '@tanstack/react-query';
import { WRITER_JOB_KINDS, type JobInfo, type JobKind } from '../../../../shared/contract';
import type { JobProgress } from '../../../../shared/types';
import { useInvoke } from '../../api/ApiProvider';
import { useJobStore } from '../../api/jobStore';

export const KIND_LABEL: Record<JobKind, string> = { verify: 'Verification', import: 'Import', 'restore-preview': 'Restore preview', 'restore-apply': 'Restore' };

/** jobs.list (newest first), each with its latest progress event and final state applied. */
export function useJobs(): JobInfo[] {
  const invoke = useInvoke();
  const q = useQuery({ queryKey: ['jobs', 'list'], queryFn: () => invoke('jobs.list', {}) });
  const progressById = useJobStore((s) => s.progressById);
  const doneById = useJobStore((s) => s.doneById);
  return (q.data ?? []).map((j) => {
    const done = doneById[j.jobId];
    if (done) return done;
    const p: JobProgress | undefined = progressById[j.jobId];
    return p ? { ...j, progress: p } : j;
  });
}

export interface JobBusy {
  busy: boolean;
  /** Why colliding actions are disabled, in plain words (null when not busy). */
  reason: string | null;
  job: JobInfo | null;
}

/** Whether a job that changes staging (an import, a restore) is running: pages disable colliding actions with this reason. */
export function useJobBusy(): JobBusy {
  const jobs = useJobs();
  const job = jobs.find((j) => j.state === 'running' && WRITER_JOB_KINDS.includes(j.kind)) ?? null;
  if (!job) return { busy: false, reason: null, job: null };
  const pct = job.progress?.percent;
  return {
    busy: true,
    reason: `${KIND_LABEL[job.kind]} running${job.progress?.step ? ` (${job.progress.step}${typeof pct === 'number' ? ` ${pct} %` : ''})` : ''}: wait for it to finish or cancel it in Tasks.`,
    job,
  };
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h ? `${h} h ${m} min` : m ? `${m} min ${r} s` : `${r} s`;
}
