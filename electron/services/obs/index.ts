/**
 * Observability on an isolated host: structured JSON log lines (one file per
 * UTC day, old days removed) and a Prometheus text-format file for
 * node_exporter's textfile collector. Counter values live in a small state
 * file beside the .prom file so they survive restarts (and never need a
 * database connection, so they are safe to call inside a caller's transaction).
 */
import { appendFileSync, closeSync, constants as fsc, existsSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { terminalSafeJson } from '../../../shared/escape';
import { compareBytewise } from '../../../shared/paths';
import { join } from 'node:path';
import type { Workspace } from '../workspace/index';
import { writeFileAtomic } from '../durability';

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

/** Days of log files kept (today included). */
export const LOG_KEEP_DAYS = 30;
export const METRIC_PREFIX = 'okc_';

export function logFileFor(ws: Workspace, date: Date = new Date()): string {
  return join(ws.layout.logs, `${date.toISOString().slice(0, 10)}.jsonl`);
}

const rotatedFor = new Map<string, string>();

/** Removes log files older than `keepDays` days (by their UTC date name). Returns the removed names. */
export function rotateLogs(ws: Workspace, keepDays = LOG_KEEP_DAYS, now: Date = new Date()): string[] {
  if (!existsSync(ws.layout.logs)) return [];
  const cutoff = new Date(now.getTime() - (keepDays - 1) * 86_400_000).toISOString().slice(0, 10);
  const removed: string[] = [];
  for (const name of readdirSync(ws.layout.logs)) {
    const m = /^(\d{4}-\d{2}-\d{2})\.jsonl$/.exec(name);
    if (m && m[1] < cutoff) {
      try {
        unlinkSync(join(ws.layout.logs, name));
        removed.push(name);
      } catch {
        /* another process removed it */
      }
    }
  }
  return removed;
}

/** Appends one JSON line to logs/<YYYY-MM-DD>.jsonl (UTC). Never throws: logging must not break the engine. */
export function logEvent(ws: Workspace, e: LogEvent): void {
  try {
    const now = new Date();
    const day = now.toISOString().slice(0, 10);
    mkdirSync(ws.layout.logs, { recursive: true });
    if (rotatedFor.get(ws.layout.logs) !== day) {
      rotatedFor.set(ws.layout.logs, day);
      rotateLogs(ws, LOG_KEEP_DAYS, now);
    }
    const { event, level, message, runId, exportId, profile, errorCode, ...rest } = e;
    const line = {
      ts: now.toISOString(),
      level: level ?? (errorCode ? 'error' : 'info'),
      event,
      runId: runId ?? null,
      exportId: exportId ?? null,
      profile: profile ?? null,
      errorCode: errorCode ?? null,
      message: message ?? '',
      ...rest,
    };
    // O_NOFOLLOW: a symbolic link planted as logs/<date>.jsonl is refused (ELOOP), never appended through.
    // Bundle-derived strings in the line are escaped (JSON escapes plus DEL, C1 and bidi controls).
    const fd = openSync(logFileFor(ws, now), fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o600);
    try {
      appendFileSync(fd, terminalSafeJson(JSON.stringify(line)) + '\n');
    } finally {
      closeSync(fd);
    }
  } catch {
    /* a full disk must not turn a verification into a crash */
  }
}

export interface LogLine {
  ts: string;
  level: string;
  event: string;
  runId: string | null;
  exportId: string | null;
  profile: string | null;
  errorCode: string | null;
  message: string;
  [key: string]: unknown;
}

/** Reads log lines with ts > `since` (all when absent), oldest first, across the day files. Skips unparseable lines. */
export function readLogs(ws: Workspace, since?: string): LogLine[] {
  if (!existsSync(ws.layout.logs)) return [];
  const sinceDay = since ? since.slice(0, 10) : '';
  const out: LogLine[] = [];
  const files = readdirSync(ws.layout.logs).filter((n) => /^\d{4}-\d{2}-\d{2}\.jsonl$/.test(n)).sort();
  for (const name of files) {
    if (sinceDay && name.slice(0, 10) < sinceDay) continue;
    const text = readFileSync(join(ws.layout.logs, name), 'utf8');
    for (const raw of text.split('\n')) {
      if (!raw.trim()) continue;
      try {
        const l = JSON.parse(raw) as LogLine;
        if (typeof l.ts === 'string' && typeof l.event === 'string' && (!since || l.ts > since)) out.push(l);
      } catch {
        /* partial line from a crash */
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- metrics

type Kind = 'counter' | 'gauge';
interface Series {
  kind: Kind;
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface MetricsState {
  version: 1;
  series: Record<string, Series>;
}

const HELP: Record<string, string> = {
  okc_imports_total: 'Bundles imported into staging.',
  okc_apply_failures_total: 'Failed applies, by error code.',
  okc_verify_failures_total: 'Failed verifications.',
  okc_retention_pruned_total: 'Bundles or generations removed by retention.',
  okc_staging_bytes: 'Bytes held by staging generations.',
  okc_library_bytes: 'Bytes held by the bundle library.',
  okc_last_successful_apply_timestamp_seconds: 'Unix time of the last successful apply.',
};

/** Known metrics always present in the .prom file (zero until they happen). */
const DEFAULTS: { kind: Kind; name: string }[] = [
  { kind: 'counter', name: 'okc_imports_total' },
  { kind: 'counter', name: 'okc_verify_failures_total' },
  { kind: 'counter', name: 'okc_retention_pruned_total' },
  { kind: 'counter', name: 'okc_apply_failures_total' },
];

/** `imports_total` and `okc_imports_total` name the same metric. */
export function metricName(name: string): string {
  const n = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  return n.startsWith(METRIC_PREFIX) || n.startsWith('export_console_') ? n : METRIC_PREFIX + n;
}

function stateFile(ws: Workspace): string {
  return join(ws.layout.metrics, 'console-metrics.json');
}
export function promFile(ws: Workspace): string {
  return join(ws.layout.metrics, 'console.prom');
}

function seriesKey(name: string, labels: Record<string, string>): string {
  return `${name}{${Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
}

function readState(ws: Workspace): MetricsState {
  try {
    const s = JSON.parse(readFileSync(stateFile(ws), 'utf8')) as MetricsState;
    if (s && s.version === 1 && s.series && typeof s.series === 'object') return s;
  } catch {
    /* missing or damaged: start over (counters are informational) */
  }
  return { version: 1, series: {} };
}

function escLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** Renders the Prometheus text exposition format (version 0.0.4). */
export function renderProm(state: MetricsState): string {
  const byName = new Map<string, Series[]>();
  for (const d of DEFAULTS) byName.set(d.name, []);
  for (const s of Object.values(state.series)) {
    const list = byName.get(s.name) ?? [];
    list.push(s);
    byName.set(s.name, list);
  }
  const lines: string[] = [];
  for (const name of [...byName.keys()].sort()) {
    const list = byName.get(name)!;
    const kind = list[0]?.kind ?? DEFAULTS.find((d) => d.name === name)!.kind;
    lines.push(`# HELP ${name} ${HELP[name] ?? name}`);
    lines.push(`# TYPE ${name} ${kind}`);
    if (list.length === 0 && name !== 'okc_apply_failures_total') lines.push(`${name} 0`);
    // Bytewise order (not localeCompare: the same on every host, and no ICU collator to build at each command's start, ~10 ms).
    for (const s of list.sort((a, b) => compareBytewise(seriesKey(a.name, a.labels), seriesKey(b.name, b.labels)))) {
      const ls = Object.keys(s.labels).sort().map((k) => `${k}="${escLabel(s.labels[k])}"`).join(',');
      lines.push(`${name}${ls ? `{${ls}}` : ''} ${Number.isFinite(s.value) ? s.value : 0}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** One change of recordMetrics: a counter added to, or a gauge set. `name` with or without the okc_ prefix. */
export type MetricChange = { counter: string; labels?: Record<string, string>; by?: number } | { gauge: string; labels?: Record<string, string>; value: number };

/**
 * Applies several changes at once: one read of the persisted state and one
 * rewrite of each file (two fsyncs however many series change; an apply
 * changes four).
 */
export function recordMetrics(ws: Workspace, changes: readonly MetricChange[]): void {
  if (changes.length === 0) return;
  try {
    mkdirSync(ws.layout.metrics, { recursive: true });
    const state = readState(ws);
    for (const c of changes) {
      const labels = c.labels ?? {};
      const kind: Kind = 'counter' in c ? 'counter' : 'gauge';
      const name = metricName('counter' in c ? c.counter : c.gauge);
      const key = seriesKey(name, labels);
      const value = 'counter' in c ? (state.series[key]?.value ?? 0) + (c.by ?? 1) : c.value;
      state.series[key] = { kind, name, labels: { ...labels }, value };
    }
    writeFileAtomic(stateFile(ws), JSON.stringify(state));
    writeFileAtomic(promFile(ws), renderProm(state));
  } catch {
    /* metrics must never break the engine */
  }
}

/** Adds to a counter (persisted) and rewrites metrics/console.prom. `name` with or without the okc_ prefix. */
export function bumpCounter(ws: Workspace, name: string, labels: Record<string, string> = {}, by = 1): void {
  recordMetrics(ws, [{ counter: name, labels, by }]);
}

/** Sets a gauge and rewrites metrics/console.prom. */
export function setGauge(ws: Workspace, name: string, labels: Record<string, string>, value: number): void {
  recordMetrics(ws, [{ gauge: name, labels, value }]);
}

/** Current value of a series (0 when never set). */
export function metricValue(ws: Workspace, name: string, labels: Record<string, string> = {}): number {
  return readState(ws).series[seriesKey(metricName(name), labels)]?.value ?? 0;
}

/** Rewrites console.prom from the persisted state (e.g. at start, so the file exists). */
export function writeMetricsFile(ws: Workspace): string {
  mkdirSync(ws.layout.metrics, { recursive: true });
  const text = renderProm(readState(ws));
  writeFileAtomic(promFile(ws), text);
  return text;
}
