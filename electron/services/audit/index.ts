// PLACEHOLDER (issue 5 replaces this with the hash-chained, append-only log).
import type { Db } from '../db/index';

export interface AuditEntryInput {
  action: string;
  subject: string;
  details?: Record<string, unknown>;
  /** Operator name given at the console; the OS user is added automatically. */
  operator?: string;
}

export interface AuditRow {
  id: number;
  ts: string;
  actor: string;
  action: string;
  subject: string;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/** Appends one event. Synchronous, so it can run inside the caller's db.transaction(). */
export function appendAudit(_db: Db, entry: AuditEntryInput): AuditRow {
  return { id: 0, ts: new Date().toISOString(), actor: '', action: entry.action, subject: entry.subject, details: entry.details ?? {}, prevHash: '', hash: '' };
}
