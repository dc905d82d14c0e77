/** Named engine jobs: what a worker thread (or the CLI, in process) can run. */
import type { JobProgress } from '../../../shared/types';

export interface JobRunContext {
  jobId: string;
  signal: AbortSignal;
  onProgress: (p: JobProgress) => void;
}

/** A job takes structured-clonable params and returns a structured-clonable result. */
export type JobFn = (params: Record<string, unknown>, ctx: JobRunContext) => Promise<unknown> | unknown;

const JOBS = new Map<string, JobFn>();

export function registerJob(name: string, fn: JobFn): void {
  JOBS.set(name, fn);
}

export function getJob(name: string): JobFn | undefined {
  return JOBS.get(name);
}

export function jobNames(): string[] {
  return [...JOBS.keys()].sort();
}
