/**
 * Import freeze (runbook 7.3, KMS / signing outage): while frozen, the
 * staging engine refuses imports with ERR_IMPORTS_FROZEN. Freezing and
 * resuming need a reason and are audited (imports.frozen / imports.resumed)
 * in the same transaction as the state change.
 *
 * The state lives in the staging engine's `staging_state` row (migration 002)
 * when that table exists, else in `console_state` under `imports.frozen`.
 */
import { OpsError } from '../../../shared/errors';
import { appendAudit } from '../audit/index';
import type { Db } from '../db/index';
import { logEvent } from '../obs/index';
import type { Workspace } from '../workspace/index';

export interface FreezeState {
  frozen: boolean;
  reason: string | null;
  since: string | null;
}

function hasStagingState(db: Db): boolean {
  const t = db.prepare("SELECT 1 AS ok FROM sqlite_master WHERE type = 'table' AND name = 'staging_state'").get();
  if (!t) return false;
  const cols = (db.prepare('PRAGMA table_info(staging_state)').all() as { name: string }[]).map((c) => c.name);
  return cols.includes('imports_frozen') && cols.includes('frozen_reason') && cols.includes('frozen_at');
}

/** The freeze state with its reason and since when. */
export function freezeState(db: Db): FreezeState {
  if (hasStagingState(db)) {
    const r = db.prepare('SELECT imports_frozen, frozen_reason, frozen_at FROM staging_state WHERE id = 1').get() as { imports_frozen: number; frozen_reason: string | null; frozen_at: string | null } | undefined;
    if (r) return { frozen: r.imports_frozen === 1, reason: r.frozen_reason, since: r.frozen_at };
  }
  const kv = db.prepare("SELECT value FROM console_state WHERE key = 'imports.frozen'").get() as { value: string } | undefined;
  if (!kv) return { frozen: false, reason: null, since: null };
  const v = JSON.parse(kv.value) as FreezeState;
  return { frozen: !!v.frozen, reason: v.reason ?? null, since: v.since ?? null };
}

/** True while imports are frozen (what an import checks before any work). */
export function importsFrozen(db: Db): boolean {
  return freezeState(db).frozen;
}

function write(db: Db, s: FreezeState): void {
  if (hasStagingState(db)) {
    const n = db.prepare('UPDATE staging_state SET imports_frozen = ?, frozen_reason = ?, frozen_at = ? WHERE id = 1').run(s.frozen ? 1 : 0, s.reason, s.since).changes;
    if (n === 1) return;
  }
  db.prepare("INSERT INTO console_state (key, value, updated_at) VALUES ('imports.frozen', ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at").run(JSON.stringify(s), new Date().toISOString());
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

export function freezeImports(ws: Workspace | null, db: Db, reason: string, operator?: string): FreezeState {
  const r = reasonOf(reason, 'freeze');
  const state = db.transaction(() => {
    const cur = freezeState(db);
    if (cur.frozen) throw new OpsError('ERR_IMPORTS_FROZEN', `Imports are already frozen since ${cur.since} (${cur.reason}).`, { details: { ...cur } });
    const row = appendAudit(db, { action: 'imports.frozen', subject: 'imports', operator, details: { reason: r } });
    const s: FreezeState = { frozen: true, reason: r, since: row.ts };
    write(db, s);
    return s;
  }).immediate();
  if (ws) logEvent(ws, { event: 'imports.frozen', level: 'warn', message: r });
  return state;
}

export function resumeImports(ws: Workspace | null, db: Db, reason: string, operator?: string): FreezeState {
  const r = reasonOf(reason, 'resume');
  const state = db.transaction(() => {
    const cur = freezeState(db);
    if (!cur.frozen) throw new OpsError('ERR_USAGE', 'Imports are not frozen: nothing to resume.');
    appendAudit(db, { action: 'imports.resumed', subject: 'imports', operator, details: { reason: r, frozenSince: cur.since, frozenReason: cur.reason } });
    const s: FreezeState = { frozen: false, reason: null, since: null };
    write(db, s);
    return s;
  }).immediate();
  if (ws) logEvent(ws, { event: 'imports.resumed', message: r });
  return state;
}
