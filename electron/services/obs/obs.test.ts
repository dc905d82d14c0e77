import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../testing/fixtures';
import { openWorkspace, type Workspace } from '../workspace/index';
import { bumpCounter, logEvent, logFileFor, metricValue, promFile, readLogs, recordMetrics, rotateLogs, setGauge, writeMetricsFile } from './index';

let ws: Workspace;
let cleanup: () => void;
beforeEach(() => {
  const t = tempDir('okc-obs-');
  cleanup = t.cleanup;
  ws = openWorkspace(join(t.dir, 'ws'), { create: true });
});
afterEach(() => cleanup());

describe('logEvent', () => {
  it('appends JSON lines with the fixed fields to the UTC day file', () => {
    logEvent(ws, { event: 'mirror.delta.apply_failed', errorCode: 'ERR_EXPORT_BASE_MISSING', exportId: 'exp-1', runId: 'r1', profile: 'mirror-nightly', message: 'gap' });
    logEvent(ws, { event: 'mirror.bundle.imported', exportId: 'exp-2', extra: 5 });
    const lines = readFileSync(logFileFor(ws), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 'error', event: 'mirror.delta.apply_failed', errorCode: 'ERR_EXPORT_BASE_MISSING', exportId: 'exp-1', runId: 'r1', profile: 'mirror-nightly', message: 'gap' });
    expect(lines[1]).toMatchObject({ level: 'info', event: 'mirror.bundle.imported', errorCode: null, runId: null, extra: 5 });
    expect(Date.parse(lines[0].ts)).not.toBeNaN();
    expect(readLogs(ws).map((l) => l.event)).toEqual(['mirror.delta.apply_failed', 'mirror.bundle.imported']);
    expect(readLogs(ws, '2999-01-01T00:00:00.000Z')).toEqual([]);
  });

  it('rotation removes day files older than the kept days only', () => {
    for (const d of ['2025-01-01', '2025-01-20', '2025-01-29', '2025-01-30']) writeFileSync(join(ws.layout.logs, `${d}.jsonl`), '{}\n');
    writeFileSync(join(ws.layout.logs, 'notes.txt'), 'keep');
    const removed = rotateLogs(ws, 10, new Date('2025-01-30T12:00:00Z'));
    expect(removed.sort()).toEqual(['2025-01-01.jsonl', '2025-01-20.jsonl']);
    expect(readdirSync(ws.layout.logs).sort()).toEqual(['2025-01-29.jsonl', '2025-01-30.jsonl', 'notes.txt']);
  });
});

describe('metrics', () => {
  it('writes a Prometheus textfile with counters and gauges, persisted across restarts', () => {
    bumpCounter(ws, 'imports_total');
    bumpCounter(ws, 'okc_imports_total');
    bumpCounter(ws, 'apply_failures_total', { error_code: 'ERR_VERIFY_DIGEST' });
    bumpCounter(ws, 'apply_failures_total', { error_code: 'ERR_EXPORT_BASE_MISSING' }, 3);
    setGauge(ws, 'staging_bytes', {}, 12345);
    setGauge(ws, 'last_successful_apply_timestamp_seconds', {}, 1761703200);
    const text = readFileSync(promFile(ws), 'utf8');
    expect(text).toContain('# TYPE okc_imports_total counter');
    expect(text).toMatch(/^okc_imports_total 2$/m);
    expect(text).toMatch(/^okc_apply_failures_total\{error_code="ERR_EXPORT_BASE_MISSING"\} 3$/m);
    expect(text).toMatch(/^okc_apply_failures_total\{error_code="ERR_VERIFY_DIGEST"\} 1$/m);
    expect(text).toMatch(/^okc_verify_failures_total 0$/m);
    expect(text).toContain('# TYPE okc_staging_bytes gauge');
    expect(text).toMatch(/^okc_staging_bytes 12345$/m);
    expect(text).toMatch(/^okc_last_successful_apply_timestamp_seconds 1761703200$/m);
    // No temp files left behind (atomic rename).
    expect(readdirSync(ws.layout.metrics).filter((n) => n.includes('.tmp-'))).toEqual([]);
    // "Restart": a fresh workspace object reads the persisted counters.
    const again = openWorkspace(ws.dir);
    bumpCounter(again, 'imports_total');
    expect(metricValue(again, 'imports_total')).toBe(3);
    expect(readFileSync(promFile(again), 'utf8')).toMatch(/^okc_imports_total 3$/m);
  });

  it('recordMetrics applies several changes in one write: counters added to what was persisted, gauges set, the same text as one call each', () => {
    bumpCounter(ws, 'imports_total', { kind: 'mirror-delta' }, 2);
    setGauge(ws, 'staging_bytes', {}, 7);
    recordMetrics(ws, [
      { counter: 'imports_total', labels: { kind: 'mirror-delta' } },
      { counter: 'okc_apply_failures_total', labels: { error_code: 'ERR_NO_SPACE' }, by: 4 },
      { gauge: 'staging_bytes', value: 12345 },
      { gauge: 'okc_library_bytes', value: 99 },
    ]);
    const text = readFileSync(promFile(ws), 'utf8');
    expect(text).toMatch(/^okc_imports_total\{kind="mirror-delta"\} 3$/m);
    expect(text).toMatch(/^okc_apply_failures_total\{error_code="ERR_NO_SPACE"\} 4$/m);
    expect(text).toMatch(/^okc_staging_bytes 12345$/m);
    expect(text).toMatch(/^okc_library_bytes 99$/m);
    expect(metricValue(openWorkspace(ws.dir), 'imports_total', { kind: 'mirror-delta' })).toBe(3);
    // The same changes one call at a time give the same file.
    const t2 = tempDir('okc-obs-');
    try {
      const other = openWorkspace(join(t2.dir, 'ws'), { create: true });
      bumpCounter(other, 'imports_total', { kind: 'mirror-delta' }, 3);
      bumpCounter(other, 'apply_failures_total', { error_code: 'ERR_NO_SPACE' }, 4);
      setGauge(other, 'staging_bytes', {}, 12345);
      setGauge(other, 'library_bytes', {}, 99);
      expect(readFileSync(promFile(other), 'utf8')).toBe(text);
    } finally {
      t2.cleanup();
    }
    expect(readdirSync(ws.layout.metrics).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('writeMetricsFile creates the file with zeroed counters', () => {
    expect(existsSync(promFile(ws))).toBe(false);
    const text = writeMetricsFile(ws);
    expect(text).toMatch(/^okc_retention_pruned_total 0$/m);
    expect(readFileSync(promFile(ws), 'utf8')).toBe(text);
  });
});
