/**
 * Failures stay visible until an operator acknowledges them. The daily log
 * scan (runbook 4.1) reports every failure event logged after the last
 * acknowledgement, however often it runs; acknowledging needs a reason and
 * writes an audit row (`failures.acknowledged`) that records what was
 * acknowledged and up to when. The audit row is the bookmark: nothing else
 * stores it, so it cannot move without a trace.
 */
import { OpsError } from '../../../shared/errors';
import { appendAudit, latestAudit } from '../audit/index';
import type { Db } from '../db/index';
import { logEvent, readLogs, type LogLine } from '../obs/index';
import type { Workspace } from '../workspace/index';

/** Log events the daily scan reports (runbook 4.1's two, and the other refusals of an import or a verification). */
export const FAILURE_EVENTS = [
  'adapter.trivy.unsupported_schema_version',
  'mirror.delta.apply_failed',
  'mirror.full.apply_failed',
  'mirror.verify.failed',
  'trivy.verify.failed',
  'trivy.install_failed',
  'mirror.import.refused',
];

export interface Acknowledgement {
  id: number;
  ts: string;
  actor: string;
  until: string;
  reason: string;
  count: number;
}

export interface UnacknowledgedFailures {
  /** The last acknowledgement's "until" (null: never acknowledged, all logs count). */
  since: string | null;
  acknowledgement: Acknowledgement | null;
  lines: LogLine[];
  counts: Record<string, number>;
  codes: string[];
}

export function lastAcknowledgement(db: Db): Acknowledgement | null {
  const r = latestAudit(db, ['failures.acknowledged']);
  if (!r) return null;
  return { id: r.id, ts: r.ts, actor: r.actor, until: String(r.details.until ?? r.ts), reason: String(r.details.reason ?? ''), count: Number(r.details.count ?? 0) };
}

/** Failure events logged after the last acknowledgement (up to `now`). */
export function unacknowledgedFailures(ws: Workspace, db: Db, opts: { events?: string[]; now?: Date } = {}): UnacknowledgedFailures {
  const events = opts.events ?? FAILURE_EVENTS;
  const ack = lastAcknowledgement(db);
  const since = ack?.until ?? null;
  const until = (opts.now ?? new Date()).toISOString();
  const lines = readLogs(ws, since ?? undefined).filter((l) => events.includes(l.event) && l.ts <= until);
  const counts: Record<string, number> = {};
  for (const l of lines) counts[l.event] = (counts[l.event] ?? 0) + 1;
  const codes = [...new Set(lines.map((l) => l.errorCode).filter((c): c is string => typeof c === 'string' && !!c))];
  return { since, acknowledgement: ack, lines, counts, codes };
}

/**
 * Acknowledges every failure logged up to now, with a reason (audited).
 * Refuses when there is nothing to acknowledge, so the log holds no empty
 * acknowledgements.
 */
export function acknowledgeFailures(ws: Workspace, db: Db, opts: { reason: string; operator?: string; now?: Date }): Acknowledgement {
  const reason = (opts.reason ?? '').trim();
  if (reason.length < 3) throw new OpsError('ERR_USAGE', 'A reason is required to acknowledge failures (what was done about them, for example "re-copied the delta, CHG-12").');
  const now = opts.now ?? new Date();
  const u = unacknowledgedFailures(ws, db, { now });
  if (u.lines.length === 0) throw new OpsError('ERR_USAGE', `There is no unacknowledged failure${u.since ? ` since ${u.since}` : ''}: nothing to acknowledge.`);
  const until = now.toISOString();
  const row = appendAudit(db, {
    action: 'failures.acknowledged',
    subject: 'failures',
    operator: opts.operator,
    details: { reason, since: u.since, until, count: u.lines.length, counts: u.counts, codes: u.codes },
  });
  logEvent(ws, { event: 'failures.acknowledged', message: `${u.lines.length} failure(s) acknowledged: ${reason}` });
  return { id: row.id, ts: row.ts, actor: row.actor, until, reason, count: u.lines.length };
}
