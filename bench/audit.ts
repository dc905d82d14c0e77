/**
 * Benchmark (issue 5's audit log, measured here): append 1,000,000 events
 * (amortised ms/event, in transactions of BENCH_AUDIT_BATCH events, and a
 * sample committed one event per transaction), a filtered paged query (by
 * action and time range), and a full chain verification.
 *
 *   npx tsx bench/audit.ts   (BENCH_AUDIT_EVENTS=1000000 BENCH_AUDIT_BATCH=1000 BENCH_AUDIT_SINGLE=2000)
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { envInt, mb, metric, newResult, runBench, skip, workDir, type BenchResult } from './lib';

const EVENTS = envInt('BENCH_AUDIT_EVENTS', 1_000_000);
const BATCH = envInt('BENCH_AUDIT_BATCH', 1000);
const SINGLE = envInt('BENCH_AUDIT_SINGLE', 2000);
const r: BenchResult = newResult('audit', { events: EVENTS, batch: BATCH, singleCommitSample: SINGLE });

const ACTIONS = [
  'mirror.bundle.imported',
  'mirror.delta.applied',
  'mirror.verify.passed',
  'mirror.verify.failed',
  'keys.added',
  'checklist.step.completed',
  'retention.pruned',
  'retention.run',
];

const secs = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;

runBench(r, async () => {
  console.log(`audit: ${EVENTS} appends (batches of ${BATCH}), filtered paged query, chain verify`);
  let db: typeof import('../electron/services/db/index');
  let audit: typeof import('../electron/services/audit/index');
  try {
    db = await import('../electron/services/db/index');
    audit = await import('../electron/services/audit/index');
  } catch (e) {
    return skip(r, `the audit engine cannot be loaded (${(e as Error).message})`);
  }
  if (typeof audit.appendAudit !== 'function' || typeof audit.queryAudit !== 'function' || typeof audit.verifyAuditChain !== 'function') {
    return skip(r, 'the audit engine has no appendAudit/queryAudit/verifyAuditChain yet');
  }
  const w = workDir('audit');
  try {
    const file = join(w.dir, 'workspace.layout.db');
    const conn = db.openDatabase(file);
    const start = Date.parse('2025-01-01T00:00:00Z');
    const spanMs = 365 * 86_400_000;
    const tsOf = (i: number) => new Date(start + Math.floor((i / EVENTS) * spanMs)).toISOString();
    const entry = (i: number) => ({
      action: ACTIONS[i % ACTIONS.length],
      subject: `exp-acme-mirror-nightly-${String(i % 10_000).padStart(4, '0')}`,
      details: { seq: i, bytes: (i * 7919) % 1_000_000, generation: i % 500 },
      operator: 'bench',
      ts: tsOf(i),
    });
    const t0 = process.hrtime.bigint();
    const batch = conn.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) audit.appendAudit(conn, entry(i));
    });
    let lastReport = Date.now();
    for (let i = 0; i < EVENTS; i += BATCH) {
      batch(i, Math.min(EVENTS, i + BATCH));
      if (Date.now() - lastReport > 10_000) {
        console.log(`  ... ${i + BATCH} events, ${secs(t0).toFixed(1)} s`);
        lastReport = Date.now();
      }
    }
    const appendS = secs(t0);
    metric(r, { name: `append ${EVENTS} events (batches of ${BATCH})`, value: appendS, unit: 's' });
    metric(r, { name: 'append amortised', value: Math.round((appendS / EVENTS) * 1e3 * 10_000) / 10_000, unit: 'ms/event' });

    // One event per transaction (each commit durable as the DB's synchronous setting makes it).
    const t1 = process.hrtime.bigint();
    for (let i = 0; i < SINGLE; i++) audit.appendAudit(conn, { ...entry(EVENTS - 1), details: { single: i } });
    const singleS = secs(t1);
    metric(r, { name: `append one per transaction (${SINGLE} events)`, value: Math.round((singleS / SINGLE) * 1e3 * 1000) / 1000, unit: 'ms/event' });

    // Filtered, paged query: one action over a 30-day window, 100 rows a page.
    const from = '2025-06-01T00:00:00.000Z';
    const to = '2025-07-01T00:00:00.000Z';
    const t2 = process.hrtime.bigint();
    const first = audit.queryAudit(conn, { action: 'mirror.verify.failed', from, to, limit: 100 });
    const firstS = secs(t2);
    let pages = 1;
    let rows = first.rows.length;
    let cursor = first.nextCursor;
    const t3 = process.hrtime.bigint();
    while (cursor && pages < 50) {
      const p = audit.queryAudit(conn, { action: 'mirror.verify.failed', from, to, limit: 100, cursor });
      rows += p.rows.length;
      cursor = p.nextCursor;
      pages++;
    }
    const pageS = pages > 1 ? secs(t3) / (pages - 1) : 0;
    metric(r, { name: 'query first page (action + 30-day range, 100 rows)', value: Math.round(firstS * 1e3 * 100) / 100, unit: 'ms' });
    metric(r, { name: `query next pages (mean of ${pages - 1})`, value: Math.round(pageS * 1e3 * 100) / 100, unit: 'ms' });
    const t4 = process.hrtime.bigint();
    const unfiltered = audit.queryAudit(conn, { limit: 100 });
    metric(r, { name: 'query newest 100, no filter', value: Math.round(secs(t4) * 1e3 * 100) / 100, unit: 'ms' });
    if (rows === 0 || unfiltered.rows.length !== 100) throw new Error(`the query returned ${rows} filtered / ${unfiltered.rows.length} unfiltered rows: the data set is not what was appended`);

    const t5 = process.hrtime.bigint();
    const v = audit.verifyAuditChain(conn);
    const verifyS = secs(t5);
    if (!v.ok || v.rows !== EVENTS + SINGLE) throw new Error(`chain verify: ok=${v.ok} rows=${v.rows}: ${v.message}`);
    metric(r, { name: `verify chain (${v.rows} rows)`, value: verifyS, unit: 's' });
    conn.close();
    const size = statSync(file).size + (existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0);
    metric(r, { name: 'database size', value: mb(size), unit: 'MB' });
  } finally {
    w.cleanup();
  }
});
