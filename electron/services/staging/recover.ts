/**
 * Crash recovery, run whenever a workspace is opened for writing: finishes or
 * rolls back an interrupted apply / rollback / Trivy install from its
 * journal (audited as mirror.apply.recovered), then removes leftovers that no
 * kept generation, library entry or journal references.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { appendAudit } from '../audit/index';
import type { Db } from '../db/index';
import { logEvent } from '../obs/index';
import type { Workspace } from '../workspace/index';
import { applyJournalFile, generationName, parseGenerationName, trivyCacheLink } from '../workspace/layout';
import { discardApply, finishApplyInDb } from './apply';
import { discardLibraryPlacement } from './library-place';
import { finishRecycle } from './recycle';
import { hookedFs, type StagingFs, type StagingHooks } from './fsops';
import { readJournal, removeJournal, type Journal, type TrivyJournal } from './journal';
import { getGeneration, listGenerations, listLibrary, readState, setCurrent, getTrivy } from './store';
import { currentLinkSeq, readLinkTarget, switchLink } from './switch';
import { removeOrSetAside } from '../safe-fs';
import { finishTrivyInDb } from './trivy-install';

export interface RecoveryReport {
  /** What the journal said and what was done; null when nothing was interrupted. */
  recovered: null | { op: Journal['op']; outcome: 'rolled-back' | 'completed'; detail: string };
  removed: string[];
  /** Leftovers that could not be removed and were moved into lost+found/ instead (reported, never blocking). */
  setAside?: string[];
}

function auditRecovered(db: Db, detail: Record<string, unknown>): void {
  db.transaction(() => {
    appendAudit(db, { action: 'mirror.apply.recovered', subject: String(detail.subject ?? 'staging'), details: detail });
  })();
}

function recoverTrivy(ws: Workspace, db: Db, fs: StagingFs, j: TrivyJournal): RecoveryReport['recovered'] {
  const link = trivyCacheLink(ws.layout, j.kind);
  const target = readLinkTarget(link);
  if (j.phase === 'committed' || target === j.dir) {
    if (target !== j.dir) switchLink(fs, link, j.dir);
    finishTrivyInDb(db, j);
    if (j.prevDir && j.prevDir !== j.dir) fs.rm(join(ws.layout.trivy, j.prevDir));
    fs.rm(join(ws.layout.incoming, j.job));
    removeJournal(fs, ws.layout);
    return { op: 'trivy', outcome: 'completed', detail: `Trivy ${j.kind} install finished (${j.dir})` };
  }
  fs.rm(join(ws.layout.trivy, j.dir));
  discardLibraryPlacement(ws, fs, j.library);
  fs.rm(join(ws.layout.incoming, j.job));
  removeJournal(fs, ws.layout);
  return { op: 'trivy', outcome: 'rolled-back', detail: `Trivy ${j.kind} install rolled back; ${target ?? 'nothing'} stays in use` };
}

/**
 * Rolls back or finishes an interrupted operation. The caller holds the
 * write lock. Safe to call when nothing was interrupted (then it only tidies).
 */
export function recoverInterruptedApply(ws: Workspace, db: Db, hooks?: StagingHooks): RecoveryReport {
  const { fs } = hookedFs(hooks);
  const report: RecoveryReport = { recovered: null, removed: [] };
  const j = readJournal(ws.layout);
  if (j) {
    if (j.op === 'apply') {
      const linked = currentLinkSeq(ws.layout);
      if (j.phase === 'committed' || linked === j.seq) {
        // The tree was complete, fsynced and its digest checked: finish (switch if needed, then the DB).
        if (linked !== j.seq) switchLink(fs, ws.layout.current, generationName(j.seq));
        finishApplyInDb(db, j);
        finishRecycle(ws.layout, fs, j);
        fs.rm(join(ws.layout.incoming, j.job));
        removeJournal(fs, ws.layout);
        report.recovered = { op: 'apply', outcome: 'completed', detail: `apply of ${j.row.export_id} (generation ${j.row.generation}) finished as staging/${generationName(j.seq)}` };
      } else {
        discardApply(ws, fs, j);
        report.recovered = { op: 'apply', outcome: 'rolled-back', detail: `apply of ${j.row.export_id} (generation ${j.row.generation}) rolled back; staging stays at ${j.prevSeq === null ? 'nothing' : `staging/${generationName(j.prevSeq)}`}` };
      }
      auditRecovered(db, { subject: j.row.export_id, op: 'apply', outcome: report.recovered.outcome, seq: j.seq, previousSeq: j.prevSeq, generation: j.row.generation, job: j.job });
    } else if (j.op === 'rollback') {
      const linked = currentLinkSeq(ws.layout);
      if (linked === j.toSeq) {
        if (readState(db).current_seq !== j.toSeq) {
          db.transaction(() => {
            setCurrent(db, j.toSeq);
            for (const a of j.audits) appendAudit(db, a);
          })();
        }
        report.recovered = { op: 'rollback', outcome: 'completed', detail: `rollback to staging/${generationName(j.toSeq)} finished` };
      } else {
        report.recovered = { op: 'rollback', outcome: 'rolled-back', detail: `rollback to staging/${generationName(j.toSeq)} did not happen; staging stays where it was` };
      }
      removeJournal(fs, ws.layout);
      auditRecovered(db, { subject: 'staging', op: 'rollback', outcome: report.recovered.outcome, toSeq: j.toSeq, fromSeq: j.fromSeq });
    } else if (j.op === 'trivy') {
      report.recovered = recoverTrivy(ws, db, fs, j);
      auditRecovered(db, { subject: j.kind, op: 'trivy', outcome: report.recovered!.outcome, dir: j.dir });
    }
    logEvent(ws, { event: 'mirror.apply.recovered', level: 'warn', message: report.recovered?.detail });
  }
  const torn = !j && existsSync(applyJournalFile(ws.layout));
  tidy(ws, db, fs, report);
  if (torn) {
    // Unreadable journal (cannot happen with the atomic rename, but never trust it): the database
    // and its generations win; tidy() has already put staging back to the database's current generation.
    removeJournal(fs, ws.layout);
    report.recovered = { op: 'apply', outcome: 'rolled-back', detail: 'an unreadable apply journal was found; staging was returned to the generation the database records' };
    auditRecovered(db, { subject: 'staging', op: 'unknown', outcome: 'rolled-back', detail: report.recovered.detail });
  }
  return report;
}

function tidy(ws: Workspace, db: Db, fsIn: StagingFs, report: RecoveryReport): void {
  const l = ws.layout;
  // A leftover that cannot be removed (whatever its shape) is moved aside and reported, so it
  // cannot fail this and every later command.
  const fs: StagingFs = {
    ...fsIn,
    rm(p) {
      const r = removeOrSetAside(p, ws.dir, (x) => fsIn.rm(x));
      if ('setAside' in r) {
        (report.setAside ??= []).push(r.setAside);
        logEvent(ws, { event: 'workspace.leftover.set_aside', level: 'warn', path: p, movedTo: r.setAside, message: `could not remove ${p} (${r.reason}); moved it to ${r.setAside}` });
      }
    },
  };
  // Reconcile DB with the switch when no journal explains a difference (should not happen).
  const linked = currentLinkSeq(l);
  const st = readState(db);
  if (linked !== null && st.current_seq !== linked && getGeneration(db, linked)?.status === 'kept') {
    db.transaction(() => setCurrent(db, linked))();
  } else if (st.current_seq !== null && linked !== st.current_seq && existsSync(join(l.staging, generationName(st.current_seq)))) {
    switchLink(fs, l.current, generationName(st.current_seq));
  }
  const kept = new Set(listGenerations(db).map((g) => g.seq));
  const cur = currentLinkSeq(l);
  if (cur !== null) kept.add(cur);
  let changed = false;
  for (const name of readdirSync(l.staging)) {
    if (name === 'current') continue;
    const p = parseGenerationName(name);
    if (p && kept.has(p.seq)) continue;
    fs.rm(join(l.staging, name));
    report.removed.push(`staging/${name}`);
    changed = true;
  }
  if (changed) fs.fsyncDir(l.staging);
  for (const name of readdirSync(l.incoming)) {
    fs.rm(join(l.incoming, name));
    report.removed.push(`incoming/${name}`);
  }
  for (const name of readdirSync(l.journal)) {
    if (/\.tmp-\d+$/.test(name)) fs.rm(join(l.journal, name));
  }
  const libs = new Set(listLibrary(db).map((r) => r.sha256));
  for (const name of readdirSync(l.library)) {
    if (libs.has(name)) continue;
    fs.rm(join(l.library, name));
    report.removed.push(`library/${name}`);
  }
  const trivyKeep = new Set<string>(['db', 'java-db']);
  for (const kind of ['trivy-db', 'trivy-java-db'] as const) {
    const row = getTrivy(db, kind);
    if (row) trivyKeep.add(row.dir);
    const t = readLinkTarget(trivyCacheLink(l, kind));
    if (t) trivyKeep.add(t);
  }
  for (const name of readdirSync(l.trivy)) {
    if (trivyKeep.has(name)) continue;
    fs.rm(join(l.trivy, name));
    report.removed.push(`trivy/${name}`);
  }
}
