// PLACEHOLDER (issue 5 replaces this): structured JSON log lines and the Prometheus textfile.
import type { Workspace } from '../workspace/index';

export interface LogEvent {
  event: string;
  level?: 'info' | 'warn' | 'error';
  message?: string;
  runId?: string;
  exportId?: string;
  profile?: string;
  errorCode?: string;
  [key: string]: unknown;
}

/** Appends one JSON line to logs/<YYYY-MM-DD>.jsonl in the workspace. */
export function logEvent(_ws: Workspace, _e: LogEvent): void {}

/** Adds to a counter (persisted) and rewrites metrics/console.prom. */
export function bumpCounter(_ws: Workspace, _name: string, _labels: Record<string, string> = {}, _by = 1): void {}

/** Sets a gauge and rewrites metrics/console.prom. */
export function setGauge(_ws: Workspace, _name: string, _labels: Record<string, string>, _value: number): void {}
