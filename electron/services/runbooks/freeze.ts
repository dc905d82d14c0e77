/**
 * Import freeze (runbook 7.3, KMS / signing outage): while frozen, the
 * staging engine refuses imports with ERR_IMPORTS_FROZEN. Freezing and
 * resuming need a reason and are audited (imports.frozen / imports.resumed)
 * in the same transaction as the state change.
 *
 * The state lives in the staging engine's state row, read and written only
 * through its store functions (readState, setImportsFrozen).
 */
import { OpsError } from '../../../shared/errors';
import { appendAudit } from '../audit/index';
import type { Db } from '../db/index';
import { logEvent } from '../obs/index';
import { readState, setImportsFrozen } from '../staging/index';
import type { Workspace } from '../workspace/index';

export interface FreezeState {
  frozen: boolean;
  reason: string | null;
  since: string | null;
}

/** The freeze state with its reason and since when. */
export function freezeState(db: Db): FreezeState {
  const r = readState(db);
  const frozen = r.imports_frozen === 1;
  return { frozen, reason: frozen ? r.frozen_reason : null, since: frozen ? r.frozen_at : null };
}

/** True while imports are frozen (what an import checks before any work). */
export function importsFrozen(db: Db): boolean {
  return freezeState(db).frozen;
}

function write(db: Db, s: FreezeState): void {
  setImportsFrozen(db, s.frozen, s.reason, s.since ?? new Date().toISOString());
}

/** Throws ERR_IMPORTS_FROZEN when imports are frozen (for the import path to call before any work). */
export function assertImportsNotFrozen(db: Db): void {
  const s = freezeState(db);
  if (s.frozen) {
    throw new OpsError('ERR_IMPORTS_FROZEN', `Imports are frozen since ${s.since} (${s.reason}). Nothing was imported. Resume imports once signing is healthy again: mirror checklist run kms-outage (runbook 7.3).`, {
      details: { ...s },
    });
  }
}

function reasonOf(reason: string | undefined, what: string): string {
  const r = (reason ?? '').trim();
  if (r.length < 3) throw new OpsError('ERR_USAGE', `A reason is required to ${what} imports (for example the incident id and what happened).`);
  return r;
}

export function freezeImports(ws: Workspace | null, db: Db, reason: string, operator?: string, link: { runId?: string } = {}): FreezeState {
  const r = reasonOf(reason, 'freeze');
  const state = db.transaction(() => {
    const cur = freezeState(db);
    if (cur.frozen) throw new OpsError('ERR_IMPORTS_FROZEN', `Imports are already frozen since ${cur.since} (${cur.reason}).`, { details: { ...cur } });
    const row = appendAudit(db, { action: 'imports.frozen', subject: 'imports', operator, details: { reason: r, ...(link.runId ? { runId: link.runId } : {}) } });
    const s: FreezeState = { frozen: true, reason: r, since: row.ts };
    write(db, s);
    return s;
  }).immediate();
  if (ws) logEvent(ws, { event: 'imports.frozen', level: 'warn', message: r });
  return state;
}

export function resumeImports(ws: Workspace | null, db: Db, reason: string, operator?: string, link: { runId?: string } = {}): FreezeState {
  const r = reasonOf(reason, 'resume');
  const state = db.transaction(() => {
    const cur = freezeState(db);
    if (!cur.frozen) throw new OpsError('ERR_USAGE', 'Imports are not frozen: nothing to resume.');
    appendAudit(db, { action: 'imports.resumed', subject: 'imports', operator, details: { reason: r, frozenSince: cur.since, frozenReason: cur.reason, ...(link.runId ? { runId: link.runId } : {}) } });
    const s: FreezeState = { frozen: false, reason: null, since: null };
    write(db, s);
    return s;
  }).immediate();
  if (ws) logEvent(ws, { event: 'imports.resumed', message: r });
  return state;
}
