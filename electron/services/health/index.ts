/**
 * The workspace's health, computed once (issue 11): the dashboard (IPC
 * `health.get`) and `mirror status` show these very figures. The verdicts
 * come from the runbook's own checks (data.freshness, storage.capacity,
 * keys.tenants, logs.scan, imports.last, retention.recent), so the daily
 * checklist, the CLI and the app never disagree; this module adds the
 * structured facts around them (the delta-chain timeline, the storage trend,
 * the import/verification history, today's checklist run).
 *
 * Read-only: nothing here writes to the workspace.
 */
import { isErrorCode, runbookAdvice } from '../../../shared/errors';
import {
  worstStatus,
  type ChainHealth,
  type ChainPoint,
  type ChecklistHealth,
  type FailureItem,
  type FreshnessHealth,
  type HealthReport,
  type HealthStatus,
  type HistoryPoint,
  type KeysHealth,
  type StoragePoint,
} from '../../../shared/health';
import { findAudit, type AuditRow } from '../audit/index';
import type { Db } from '../db/index';
import { listKeyRecords } from '../keys/index';
import { CHECKS, type CheckResult } from '../runbooks/checks';
import { listRuns, type RunRecord } from '../runbooks/runs';
import type { RunbookServices } from '../runbooks/services';
import { ledgerBytes, listGenerations, listLibrary, readState } from '../staging/store';
import type { Workspace } from '../workspace/index';
import { unacknowledgedFailures } from '../runbooks/acknowledge';
import type { Settings } from '../../../shared/settings';

export type { HealthReport } from '../../../shared/health';

const APPLIED = ['mirror.bundle.imported', 'mirror.delta.applied'];
const APPLY_FAILED = ['mirror.full.apply_failed', 'mirror.delta.apply_failed'];
const VERIFY = ['mirror.verify.passed', 'mirror.verify.failed'];
/** The timeline's length: the newest generations of the chain (older ones are summarised). */
export const TIMELINE_MAX_POINTS = 200;
/** Gap ranges and failed generations named in the summary. */
const TIMELINE_RANGES_SHOWN = 20;
const HISTORY_ACTIONS = [...APPLIED, ...APPLY_FAILED, ...VERIFY, 'mirror.import.refused'];

export interface HealthContext {
  ws: Workspace;
  db: Db;
  settings: Settings;
  /** The services the runbook checks use (given by the composition root). */
  services: RunbookServices;
  now?: Date;
}

function adviceFor(code: string | null): { cause: string; action: string; followUp: string } | null {
  if (!code || !isErrorCode(code)) return null;
  const a = runbookAdvice(code);
  return a ? { cause: a.cause, action: a.action, followUp: a.followUp } : null;
}

async function check(name: string, ctx: HealthContext, now: Date): Promise<CheckResult> {
  const def = CHECKS[name];
  return def.run({ ws: ctx.ws, db: ctx.db, settings: ctx.settings, services: ctx.services, now, params: {}, previous: {} });
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v ? v : null;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function freshness(r: CheckResult, budget: number): FreshnessHealth {
  const ev = r.evidence as { newest?: { export_id: string; generation: number; created_at: string; applied_at: string }; latestSeen?: string; ageHours?: number };
  const clockBehind = r.status === 'unknown' && !!ev.newest;
  return {
    status: r.status,
    summary: r.summary,
    newest: ev.newest ? { exportId: ev.newest.export_id, generation: ev.newest.generation, createdAt: ev.newest.created_at, appliedAt: ev.newest.applied_at } : null,
    ageHours: clockBehind ? null : (ev.ageHours ?? null),
    budgetHours: budget,
    latestSeen: ev.latestSeen ?? null,
    clockBehind,
  };
}

/**
 * The delta chain of the chain tenant: from the newest full bundle (applied
 * or in the library) up to the highest generation seen, each generation
 * marked current / applied / library / failed / missing.
 */
export function chainTimeline(db: Db): ChainHealth {
  const state = readState(db);
  const gens = listGenerations(db, { includePruned: true });
  const cur = gens.find((g) => g.seq === state.current_seq) ?? null;
  const tenant = state.chain_tenant ?? cur?.tenant ?? null;
  const lib = listLibrary(db, { includePruned: true }).filter((l) => (l.kind === 'mirror-full' || l.kind === 'mirror-delta') && l.generation !== null);
  const failures = findAudit(db, { actions: [...APPLY_FAILED, 'mirror.verify.failed'], newestFirst: true, limit: 2000 }).filter((r) => r.action !== 'mirror.verify.failed' || r.details.source === undefined || r.details.source === 'import');
  type Acc = { kind: 'full' | 'delta' | null; exportId: string | null; applied: string | null; library: string | null; failed: AuditRow | null };
  const by = new Map<number, Acc>();
  const acc = (g: number): Acc => {
    let a = by.get(g);
    if (!a) by.set(g, (a = { kind: null, exportId: null, applied: null, library: null, failed: null }));
    return a;
  };
  for (const g of gens) {
    if (tenant && g.tenant !== tenant) continue;
    const a = acc(g.generation);
    a.kind = g.variant === 'full' ? 'full' : (a.kind ?? 'delta');
    a.exportId = g.export_id;
    if (!a.applied || g.applied_at > a.applied) a.applied = g.applied_at;
  }
  for (const l of lib) {
    const a = acc(l.generation!);
    if (l.kind === 'mirror-full') a.kind = 'full';
    else a.kind ??= 'delta';
    a.exportId ??= l.export_id;
    a.library ??= l.imported_at;
  }
  for (const f of failures) {
    const g = num(f.details.generation);
    if (g === null) continue;
    const a = acc(g);
    const kind = str(f.details.kind);
    if (!a.kind) a.kind = f.action === 'mirror.full.apply_failed' || kind === 'mirror-full' ? 'full' : 'delta';
    a.exportId ??= str(f.details.exportId) ?? (f.subject.includes('/') ? null : f.subject);
    if (!a.failed) a.failed = f; // newest first
  }
  const all = [...by.keys()].sort((x, y) => x - y);
  const fulls = all.filter((g) => by.get(g)!.kind === 'full');
  // The chain starts at the full bundle the current generation builds on (else the newest full seen).
  const curGen = cur?.generation ?? null;
  const start = fulls.filter((g) => curGen === null || g <= curGen).pop() ?? fulls[fulls.length - 1] ?? all[0];
  const points: ChainPoint[] = [];
  const gaps: number[] = [];
  const failed: number[] = [];
  let missingCount = 0;
  let gapText = '';
  if (start !== undefined) {
    const max = all[all.length - 1];
    // Missing generations as ranges, from the known ones only: a failure row naming
    // generation 1,000,000 costs one range, not a million points.
    const known = all.filter((g) => g >= start);
    const ranges: [number, number][] = [];
    for (let i = 1; i < known.length; i++) if (known[i] > known[i - 1] + 1) ranges.push([known[i - 1] + 1, known[i] - 1]);
    for (const [a, b] of ranges) missingCount += b - a + 1;
    gapText = ranges
      .slice(0, TIMELINE_RANGES_SHOWN)
      .map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`))
      .join(', ');
    if (ranges.length > TIMELINE_RANGES_SHOWN) gapText += ` and ${ranges.length - TIMELINE_RANGES_SHOWN} more range(s)`;
    // The timeline shows the newest TIMELINE_MAX_POINTS generations of the chain.
    for (let g = Math.max(start, max - TIMELINE_MAX_POINTS + 1); g <= max; g++) {
      const a = by.get(g);
      if (!a) {
        gaps.push(g);
        points.push({ generation: g, kind: 'delta', exportId: null, state: 'missing', at: null, code: null });
        continue;
      }
      const failedAfterApply = a.failed && (!a.applied || a.failed.ts > a.applied);
      let st: ChainPoint['state'];
      if (g === curGen && cur) st = 'current';
      else if (failedAfterApply) st = 'failed';
      else if (a.applied) st = 'applied';
      else st = 'library';
      if (st === 'failed') failed.push(g);
      points.push({
        generation: g,
        kind: a.kind ?? 'delta',
        exportId: a.exportId,
        state: st,
        at: st === 'failed' ? a.failed!.ts : (a.applied ?? a.library),
        code: st === 'failed' ? str(a.failed!.details.errorCode) : null,
      });
    }
    // Failures before the window still count (their generations are listed, a bounded number).
    for (const g of known) {
      if (g >= max - TIMELINE_MAX_POINTS + 1) break;
      const a = by.get(g)!;
      if (g !== curGen && a.failed && (!a.applied || a.failed.ts > a.applied)) failed.unshift(g);
    }
    failed.sort((x, y) => x - y);
  }
  let status: HealthStatus = 'pass';
  let summary: string;
  if (!points.length) {
    status = 'unknown';
    summary = 'No bundle has been applied or kept yet: import a full bundle first.';
  } else {
    const span = points[points.length - 1].generation - start + 1;
    const parts = [`full ${start}${curGen !== null ? ` → current ${curGen}` : ''}, ${span} generation(s)${span > points.length ? ` (the newest ${points.length} shown)` : ''}`];
    if (missingCount) parts.push(`missing ${gapText}`);
    if (failed.length) parts.push(`failed ${failed.slice(0, TIMELINE_RANGES_SHOWN).join(', ')}${failed.length > TIMELINE_RANGES_SHOWN ? ` and ${failed.length - TIMELINE_RANGES_SHOWN} more` : ''}`);
    if (missingCount || failed.length) status = 'fail';
    else if (curGen !== null && points[points.length - 1].generation > curGen) status = 'warn';
    summary = `Delta chain${tenant ? ` (tenant ${tenant})` : ''}: ${parts.join('; ')}.${missingCount ? ' Bring the missing deltas (or a newer full bundle).' : ''}${!missingCount && failed.length ? ' See the failure and its runbook action below.' : ''}`;
  }
  return { status, summary, tenant, profileId: state.chain_profile_id ?? null, currentGeneration: curGen, points, gaps, failed };
}

/**
 * Storage over time: at each applied generation, each pruning and each
 * library change, staging = what the generations kept then held (the storage
 * check's rule, from what each build recorded: its last point is the check's
 * staging figure when nothing else lies in staging/; a generation applied
 * before those figures counts its whole tree), library = bytes of the entries
 * present then (pruned ones counted until their pruning).
 */
export function storageTrend(db: Db): StoragePoint[] {
  const gens = listGenerations(db, { includePruned: true });
  const lib = listLibrary(db, { includePruned: true });
  const instants = new Set<string>();
  for (const g of gens) {
    instants.add(g.applied_at);
    if (g.pruned_at) instants.add(g.pruned_at);
  }
  for (const l of lib) {
    instants.add(l.imported_at);
    if (l.pruned_at) instants.add(l.pruned_at);
  }
  const out: StoragePoint[] = [];
  for (const at of [...instants].sort()) {
    const kept = gens.filter((g) => g.applied_at <= at && (!g.pruned_at || g.pruned_at > at));
    const staging = ledgerBytes(kept, true) ?? 0;
    let library = 0;
    for (const l of lib) if (l.imported_at <= at && (!l.pruned_at || l.pruned_at > at)) library += l.size;
    out.push({ at, stagingBytes: staging, libraryBytes: library });
  }
  return out.slice(-500);
}

/** Imports and verifications over time, oldest first. */
export function history(db: Db, limit = 500): HistoryPoint[] {
  return findAudit(db, { actions: HISTORY_ACTIONS, newestFirst: true, limit })
    .reverse()
    .map((r) => ({
      at: r.ts,
      action: r.action,
      kind: VERIFY.includes(r.action) ? ('verify' as const) : ('import' as const),
      ok: APPLIED.includes(r.action) || r.action === 'mirror.verify.passed',
      subject: r.subject,
      generation: num(r.details.generation),
      code: str(r.details.errorCode),
    }));
}

function keysHealth(db: Db, r: CheckResult): KeysHealth {
  const ev = r.evidence as { tenants?: string[]; missing?: string[] };
  const seen = new Set(ev.tenants ?? []);
  const byTenant = new Map<string, string[]>();
  for (const k of listKeyRecords(db, {})) {
    if (k.status !== 'active' || !k.tenant) continue;
    byTenant.set(k.tenant, [...(byTenant.get(k.tenant) ?? []), k.fingerprint]);
  }
  const names = [...new Set([...seen, ...byTenant.keys()])].sort();
  return {
    status: r.status,
    summary: r.summary,
    tenants: names.map((t) => ({ tenant: t, active: byTenant.get(t)?.length ?? 0, fingerprints: byTenant.get(t) ?? [], seen: seen.has(t) })),
    missing: ev.missing ?? [],
  };
}

function checklistHealth(db: Db, now: Date): ChecklistHealth {
  const today = now.toISOString().slice(0, 10);
  const run: RunRecord | undefined = listRuns(db, { checklistId: 'daily', limit: 10 }).find((r) => r.startedAt.slice(0, 10) === today);
  if (!run) return { status: 'warn', summary: `The daily checklist has not been started today (${today}).`, runId: null, state: null, done: 0, total: 0, startedAt: null };
  const total = run.steps.length;
  const done = run.steps.filter((s) => s.status !== 'pending').length;
  const bad = run.steps.filter((s) => s.status === 'failed' || s.status === 'declined').length;
  let status: HealthStatus = 'pass';
  let summary: string;
  if (run.state === 'done') {
    status = bad ? 'fail' : run.steps.some((s) => s.status === 'warned' || s.status === 'unknown') ? 'warn' : 'pass';
    summary = `Today's daily checklist is done (${done}/${total} steps${bad ? `, ${bad} failed` : ''}).`;
  } else if (run.state === 'blocked') {
    status = 'fail';
    summary = `Today's daily checklist is blocked at ${done}/${total}: ${run.blockedReason ?? 'see the run'}.`;
  } else {
    status = 'warn';
    summary = `Today's daily checklist is in progress: ${done}/${total} steps done.`;
  }
  return { status, summary, runId: run.id, state: run.state, done, total, startedAt: run.startedAt };
}

/** Computes the workspace's health (read-only). */
export async function computeHealth(ctx: HealthContext): Promise<HealthReport> {
  const now = ctx.now ?? new Date();
  const [fresh, storage, keys, logs, last, retention] = await Promise.all(['data.freshness', 'storage.capacity', 'keys.tenants', 'logs.scan', 'imports.last', 'retention.recent'].map((n) => check(n, ctx, now)));
  const st = storage.evidence as { stagingBytes: number; libraryBytes: number; usedBytes: number; freeBytes: number | null; thresholds: HealthReport['storage']['thresholds'] };
  const lastEv = last.evidence as { last?: { ts: string; action: string; subject: string; details: Record<string, unknown> } };
  const lastCode = lastEv.last ? str(lastEv.last.details.errorCode) : null;
  const u = unacknowledgedFailures(ctx.ws, ctx.db, { now });
  const items: FailureItem[] = u.lines
    .slice(-20)
    .reverse()
    .map((l) => ({ ts: l.ts, event: l.event, code: l.errorCode, message: l.message, advice: adviceFor(l.errorCode) }));
  const retEv = retention.evidence as { last?: { ts: string } };
  const state = readState(ctx.db);
  const report: Omit<HealthReport, 'overall'> = {
    generatedAt: now.toISOString(),
    workspace: ctx.ws.dir,
    freshness: freshness(fresh, ctx.settings.stalenessHours),
    chain: chainTimeline(ctx.db),
    storage: { status: storage.status, summary: storage.summary, ...st, trend: storageTrend(ctx.db) },
    lastImport: {
      status: last.status,
      summary: last.summary,
      at: lastEv.last?.ts ?? null,
      subject: lastEv.last?.subject ?? null,
      action: lastEv.last?.action ?? null,
      ok: lastEv.last ? APPLIED.includes(lastEv.last.action) : null,
      code: lastCode,
      advice: adviceFor(lastCode),
    },
    failures: { status: logs.status, summary: logs.summary, count: u.lines.length, since: u.since, counts: u.counts, items },
    keys: keysHealth(ctx.db, keys),
    checklist: checklistHealth(ctx.db, now),
    retention: { status: retention.status, summary: retention.summary, lastRun: retEv.last?.ts ?? null },
    importsFrozen: state.imports_frozen ? { since: state.frozen_at, reason: state.frozen_reason } : null,
    history: history(ctx.db),
  };
  const overall = worstStatus(report.freshness.status, report.chain.status, report.storage.status, report.lastImport.status, report.failures.status, report.keys.status, report.checklist.status, report.retention.status);
  return { ...report, overall };
}
