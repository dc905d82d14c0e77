/**
 * The bundle library (verified bundles kept for re-application and audit,
 * content-addressed: library/<sha256>/<original name>) and its retention
 * (runbook 5.2): mirror bundles by age (from the export's createdAt), Trivy
 * bundles by count, always the latest full bundle and the last N deltas after
 * it, and never a bundle that rebuilding the current generation needs, nor
 * one an unfinished runbook 7.2 restore needs (those rules win over the others).
 */
import { removeTree } from '../safe-fs';
import { join } from 'node:path';
import { appendAudit } from '../audit/index';
import { removeFileIndex } from './files';
import type { Db } from '../db/index';
import { bumpCounter, logEvent, setGauge } from '../obs/index';
import { RESTORE_CHECKLIST_ID, restoreChain } from '../runbooks/restore';
import { currentGeneration, getGeneration, getTrivy, listLibrary, markLibraryPruned } from '../staging/store';
import type { LibraryRow } from '../staging/types';
import type { Workspace } from '../workspace/index';
import { compareBytewise } from '../../../shared/paths';

export interface RetentionDecision {
  sha256: string;
  file: string;
  kind: LibraryRow['kind'];
  exportId: string | null;
  generation: number | null;
  size: number;
  /** Why it is kept or pruned, in plain words. */
  reason: string;
}

export interface RetentionResult {
  dryRun: boolean;
  ranAt: string;
  policy: { mirrorDays: number; trivyCount: number; keepDeltas: number };
  pruned: RetentionDecision[];
  kept: RetentionDecision[];
  freedBytes: number;
}

function decision(r: LibraryRow, reason: string): RetentionDecision {
  return { sha256: r.sha256, file: r.file, kind: r.kind, exportId: r.export_id, generation: r.generation, size: r.size, reason };
}

/** Library entries (sha256) that rebuilding the current generation needs: its lineage back to the full/reset bundle. */
export function neededForCurrent(db: Db): Set<string> {
  const out = new Set<string>();
  let g = currentGeneration(db);
  const seen = new Set<number>();
  while (g && !seen.has(g.seq)) {
    seen.add(g.seq);
    if (g.library_sha256) out.add(g.library_sha256);
    if (g.base_seq === null) break;
    g = getGeneration(db, g.base_seq);
  }
  return out;
}

/**
 * Library entries (sha256 → the run that needs it) an unfinished runbook 7.2
 * restore needs: a restore checklist run that is running, blocked or not yet
 * started can resume, and it rebuilds from the library's chain (the newest
 * full bundle and the deltas after it) and from the bundles its steps located.
 */
export function neededByOpenRestore(db: Db): Map<string, string> {
  const out = new Map<string, string>();
  const runs = db.prepare("SELECT id FROM checklist_runs WHERE checklist_id = ? AND state <> 'done' ORDER BY started_at, id").all(RESTORE_CHECKLIST_ID) as { id: string }[];
  if (runs.length === 0) return out;
  const chain = restoreChain(db);
  for (const r of runs) {
    for (const row of [chain.full, ...chain.deltas]) if (row && !out.has(row.sha256)) out.set(row.sha256, r.id);
    const steps = db.prepare('SELECT evidence FROM checklist_steps WHERE run_id = ? AND evidence IS NOT NULL').all(r.id) as { evidence: string }[];
    for (const s of steps) {
      let ev: { plan?: { bundles?: { sha256?: unknown }[] } };
      try {
        ev = JSON.parse(s.evidence) as typeof ev;
      } catch {
        continue;
      }
      for (const b of ev.plan?.bundles ?? []) if (typeof b.sha256 === 'string' && !out.has(b.sha256)) out.set(b.sha256, r.id);
    }
  }
  return out;
}

/** Decides, without changing anything, what retention keeps and prunes. */
export function planRetention(ws: Workspace, db: Db, now: Date = new Date()): { keep: RetentionDecision[]; prune: RetentionDecision[] } {
  const policy = ws.settings.retention;
  const rows = listLibrary(db);
  const needed = neededForCurrent(db);
  const restoring = neededByOpenRestore(db);
  const keep: RetentionDecision[] = [];
  const prune: RetentionDecision[] = [];
  const mirror = rows.filter((r) => r.kind === 'mirror-full' || r.kind === 'mirror-delta');
  const fulls = mirror.filter((r) => r.kind === 'mirror-full' || r.reset_baseline === 1).sort((a, b) => (b.generation ?? 0) - (a.generation ?? 0) || compareBytewise(b.imported_at, a.imported_at));
  const latestFull = fulls[0];
  const recentDeltas = new Set(
    mirror
      .filter((r) => r.kind === 'mirror-delta' && r.reset_baseline !== 1 && latestFull && (r.generation ?? 0) > (latestFull.generation ?? 0))
      .sort((a, b) => (b.generation ?? 0) - (a.generation ?? 0))
      .slice(0, policy.keepDeltas)
      .map((r) => r.sha256),
  );
  const maxAgeMs = policy.mirrorDays * 86_400_000;
  for (const r of mirror) {
    if (needed.has(r.sha256)) keep.push(decision(r, 'needed to rebuild the current generation'));
    else if (restoring.has(r.sha256)) keep.push(decision(r, `needed by the unfinished restore (checklist run ${restoring.get(r.sha256)}); finish that run to let retention prune it`));
    else if (latestFull && r.sha256 === latestFull.sha256) keep.push(decision(r, 'the latest full bundle'));
    else if (recentDeltas.has(r.sha256)) keep.push(decision(r, `one of the last ${policy.keepDeltas} deltas after the latest full bundle`));
    else {
      const created = r.created_at ? Date.parse(r.created_at) : NaN;
      const age = Number.isNaN(created) ? Infinity : now.getTime() - created;
      if (age > maxAgeMs) prune.push(decision(r, `export created ${r.created_at ?? 'at an unknown time'}, older than ${policy.mirrorDays} days`));
      else keep.push(decision(r, `export created ${r.created_at}, within ${policy.mirrorDays} days`));
    }
  }
  for (const kind of ['trivy-db', 'trivy-java-db'] as const) {
    const installed = getTrivy(db, kind)?.library_sha256 ?? null;
    const list = rows.filter((r) => r.kind === kind).sort((a, b) => compareBytewise(b.imported_at, a.imported_at));
    list.forEach((r, i) => {
      if (r.sha256 === installed) keep.push(decision(r, 'the Trivy database in use'));
      else if (i < policy.trivyCount) keep.push(decision(r, `one of the ${policy.trivyCount} newest ${kind} bundles`));
      else prune.push(decision(r, `beyond the ${policy.trivyCount} newest ${kind} bundles`));
    });
  }
  return { keep, prune };
}

/**
 * Runs retention. The caller holds the write lock. Each pruned file: its
 * library row marked pruned with a `retention.pruned` audit row in one
 * transaction, then the file removed; a run (even pruning nothing) records
 * `retention.run`. A dry run changes and records nothing.
 */
export function runRetention(ws: Workspace, db: Db, opts: { dryRun?: boolean; now?: Date; operator?: string; reason?: string } = {}): RetentionResult {
  const now = opts.now ?? new Date();
  const at = now.toISOString();
  const { keep, prune } = planRetention(ws, db, now);
  const result: RetentionResult = { dryRun: !!opts.dryRun, ranAt: at, policy: { ...ws.settings.retention }, pruned: prune, kept: keep, freedBytes: prune.reduce((n, p) => n + p.size, 0) };
  if (opts.dryRun) return result;
  for (const p of prune) {
    db.transaction(() => {
      markLibraryPruned(db, p.sha256, at);
      appendAudit(db, { action: 'retention.pruned', subject: p.file, operator: opts.operator, details: { sha256: p.sha256, kind: p.kind, exportId: p.exportId, generation: p.generation, size: p.size, reason: p.reason } });
    })();
    removeTree(join(ws.layout.library, p.sha256));
    removeFileIndex(ws, p.sha256);
    bumpCounter(ws, 'retention_pruned_total', { kind: p.kind });
    logEvent(ws, { event: 'retention.pruned', exportId: p.exportId ?? undefined, file: p.file, kind: p.kind, reason: p.reason });
  }
  db.transaction(() => {
    appendAudit(db, { action: 'retention.run', subject: 'library', operator: opts.operator, details: { pruned: prune.length, kept: keep.length, freedBytes: result.freedBytes, policy: result.policy, ...(opts.reason ? { reason: opts.reason } : {}) } });
  })();
  logEvent(ws, { event: 'retention.run', pruned: prune.length, kept: keep.length, freedBytes: result.freedBytes });
  let lib = 0;
  for (const r of listLibrary(db)) lib += r.size;
  setGauge(ws, 'library_bytes', {}, lib);
  return result;
}
