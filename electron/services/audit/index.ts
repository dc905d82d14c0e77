/**
 * The audit log: append-only (triggers refuse UPDATE and DELETE) and
 * hash-chained so that editing, deleting, reordering or inserting rows behind
 * the console's back is detected.
 *
 * Chain definition (what an auditor re-computes offline):
 *   row      = { id, ts, actor, action, subject, details, prevHash }
 *   hash     = lowercase hex SHA-256 of UTF-8( prevHash || canonicalJson(row) )
 *   prevHash = hash of the row with id - 1; the first row (id 1) has 64 zeros.
 * `id` is 1, 2, 3, ... without gaps; `ts` is RFC 3339 UTC with milliseconds;
 * `details` is a JSON object; canonicalJson sorts keys and writes no white space.
 * The `hash` field itself is not part of the hashed row.
 */
import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { userInfo } from 'node:os';
import { OpsError } from '../../../shared/errors';
import type { Db } from '../db/index';
import { canonicalJson } from './canonical';
import type { AuditRow } from '../../../shared/types';

export { canonicalJson } from './canonical';

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditEntryInput {
  action: string;
  subject: string;
  details?: Record<string, unknown>;
  /** Operator name given at the console; the OS user is added automatically. */
  operator?: string;
  /** Override the timestamp (RFC 3339 UTC). For imports of historical data and benchmarks; defaults to now. */
  ts?: string;
}

export type { AuditRow } from '../../../shared/types';

/** The chain head: how many rows, the last id, and its hash. */
export interface ChainHead {
  count: number;
  lastId: number;
  hash: string;
}

let cachedOsUser: string | null = null;
function osUser(): string {
  if (cachedOsUser === null) {
    try {
      cachedOsUser = userInfo().username || String(process.getuid?.() ?? 'unknown');
    } catch {
      cachedOsUser = process.env.USER || process.env.USERNAME || 'unknown';
    }
  }
  return cachedOsUser;
}

/** The actor string: `<os user>` or `<os user> (operator: <name>)`. */
export function actorFor(operator?: string): string {
  const op = operator?.trim();
  return op ? `${osUser()} (operator: ${op})` : osUser();
}

/**
 * The canonical text of a row (without `hash`). `detailsJson` must already be
 * canonical JSON (as stored); this avoids re-serialising on the hot path and
 * equals canonicalJson({...row, details}) for a canonical details text.
 */
/** Characters JSON.stringify escapes in a string (quote, backslash, controls, lone surrogates). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what must be found
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
/** JSON.stringify(s) for a string, without its cost when nothing needs escaping (the common case). */
function q(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

function rowText(id: number, ts: string, actor: string, action: string, subject: string, detailsJson: string, prevHash: string): string {
  return `{"action":${q(action)},"actor":${q(actor)},"details":${detailsJson},"id":${id},"prevHash":${q(prevHash)},"subject":${q(subject)},"ts":${q(ts)}}`;
}

const oneShot = (crypto as unknown as { hash?: (alg: string, data: string, enc: 'hex') => string }).hash;

export function computeRowHash(prevHash: string, id: number, ts: string, actor: string, action: string, subject: string, detailsJson: string): string {
  const text = prevHash + rowText(id, ts, actor, action, subject, detailsJson, prevHash);
  return oneShot ? oneShot('sha256', text, 'hex') : createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Re-computes a row's hash from its exported form (what an offline auditor does). */
export function hashOfRow(row: Omit<AuditRow, 'hash'>): string {
  return computeRowHash(row.prevHash, row.id, row.ts, row.actor, row.action, row.subject, canonicalJson(row.details));
}

interface Stmts {
  head: Database.Statement;
  insert: Database.Statement;
}
const stmtCache = new WeakMap<Db, Stmts>();
function stmts(db: Db): Stmts {
  let s = stmtCache.get(db);
  if (!s) {
    s = {
      head: db.prepare('SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1').raw(true),
      insert: db.prepare('INSERT INTO audit_log (id, ts, actor, action, subject, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
    };
    stmtCache.set(db, s);
  }
  return s;
}

function wellFormed(s: string): string {
  return (s as string & { toWellFormed?: () => string }).toWellFormed?.() ?? s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

const ACTION_RE = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/;

/**
 * Appends one event. Synchronous, so it runs inside the caller's
 * db.transaction() with the state change it records; outside a transaction it
 * takes an immediate one of its own, so two writers cannot fork the chain.
 * The head is read from the last row (an index seek), so appending costs the
 * same at a million rows as at ten.
 */
export function appendAudit(db: Db, entry: AuditEntryInput): AuditRow {
  if (typeof entry.action !== 'string' || !ACTION_RE.test(entry.action)) {
    throw new OpsError('ERR_INTERNAL', `Audit action "${String(entry.action)}" is not a dotted lowercase name such as mirror.bundle.imported.`);
  }
  const details = entry.details ?? {};
  const detailsJson = canonicalJson(details);
  // SQLite stores UTF-8: a lone surrogate would come back as U+FFFD and break the row's hash,
  // so text is made well-formed before it is hashed (details are canonical JSON, escaped already).
  const ts = wellFormed(entry.ts ?? new Date().toISOString());
  const actor = wellFormed(actorFor(entry.operator));
  const subject = wellFormed(String(entry.subject ?? ''));
  const s = stmts(db);
  const write = (): AuditRow => {
    const head = s.head.get() as [number, string] | undefined;
    const id = head ? head[0] + 1 : 1;
    const prevHash = head ? head[1] : GENESIS_HASH;
    const hash = computeRowHash(prevHash, id, ts, actor, entry.action, subject, detailsJson);
    s.insert.run(id, ts, actor, entry.action, subject, detailsJson, prevHash, hash);
    return { id, ts, actor, action: entry.action, subject, details: JSON.parse(detailsJson) as Record<string, unknown>, prevHash, hash };
  };
  return db.inTransaction ? write() : db.transaction(write).immediate();
}

/** Reads the chain head without verifying anything. */
export function auditHead(db: Db): ChainHead {
  const row = db.prepare('SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1').get() as { id: number; hash: string } | undefined;
  const count = (db.prepare('SELECT count(*) AS n FROM audit_log').get() as { n: number }).n;
  return row ? { count, lastId: row.id, hash: row.hash } : { count: 0, lastId: 0, hash: GENESIS_HASH };
}

type RawRow = [number, string, string, string, string, string, string, string];

function toRow(r: RawRow): AuditRow {
  let details: Record<string, unknown>;
  try {
    details = JSON.parse(r[5]) as Record<string, unknown>;
  } catch {
    details = { _unparseable: r[5] };
  }
  return { id: r[0], ts: r[1], actor: r[2], action: r[3], subject: r[4], details, prevHash: r[6], hash: r[7] };
}

export interface ChainBreak {
  /** The id of the first row that does not fit the chain (or where a row is missing). */
  id: number;
  /** 1-based position of that row in id order. */
  position: number;
  reason: 'hash_mismatch' | 'prev_hash_mismatch' | 'id_gap' | 'details_not_json';
  message: string;
}

export interface AgainstResult {
  ok: boolean;
  expected: ChainHead;
  message: string;
}

export interface ChainVerification {
  ok: boolean;
  /** Rows walked. */
  rows: number;
  head: ChainHead;
  firstBroken: ChainBreak | null;
  against: AgainstResult | null;
  message: string;
}

/**
 * Walks the whole chain in id order (streaming: one row in memory at a time)
 * and names the first broken row. With `against` (a head recorded by an
 * earlier export), also checks that the log still reaches that head, which
 * detects a cut tail.
 */
export function verifyAuditChain(db: Db, opts: { against?: ChainHead } = {}): ChainVerification {
  if (db.inTransaction) return walkChain(db, opts);
  // Memory-mapped reads make the sequential walk noticeably cheaper; restored afterwards.
  const mmap = db.pragma('mmap_size', { simple: true }) as number;
  try {
    if (mmap < 1 << 30) db.pragma(`mmap_size = ${1 << 30}`);
    return db.transaction(() => walkChain(db, opts)).deferred();
  } finally {
    if (mmap < 1 << 30) db.pragma(`mmap_size = ${mmap}`);
  }
}

function walkChain(db: Db, opts: { against?: ChainHead }): ChainVerification {
  // Pages of rows by id inside one read transaction: a consistent snapshot, bounded memory,
  // and cheaper per row than a statement iterator.
  // prev_hash is not read on the hot path: each row is hashed with the hash of the row before
  // it as the walk saw it, so a wrong stored prev_hash shows as a mismatch, diagnosed below.
  const page = db.prepare('SELECT id, ts, actor, action, subject, details, hash FROM audit_log WHERE id > ? ORDER BY id LIMIT 4096').raw(true);
  const storedPrev = db.prepare('SELECT prev_hash FROM audit_log WHERE id = ?').pluck(true);
  let prev = GENESIS_HASH;
  let expectedId = 1;
  let rows = 0;
  let lastId = 0;
  let firstBroken: ChainBreak | null = null;
  let againstSeen: string | null = null;
  let after = -Infinity;
  for (;;) {
    const batch = page.all(after) as [number, string, string, string, string, string, string][];
    if (batch.length === 0) break;
    after = batch[batch.length - 1][0];
    for (const r of batch) {
      rows++;
      const [id, ts, actor, action, subject, details, hash] = r;
      if (opts.against && id === opts.against.lastId) againstSeen = hash;
      lastId = id;
      if (firstBroken) {
        prev = hash;
        continue;
      }
      if (id !== expectedId) {
        firstBroken = {
          id,
          position: rows,
          reason: 'id_gap',
          message: id > expectedId
            ? `Row ${expectedId}${id - expectedId > 1 ? `..${id - 1}` : ''} is missing before row ${id}: rows were deleted.`
            : `Row ${id} appears out of order after row ${expectedId - 1}: rows were inserted or reordered.`,
        };
      } else if (computeRowHash(prev, id, ts, actor, action, subject, details) !== hash) {
        // Only now look closer, to say what is wrong (the mismatch alone already proves a change).
        const prevHash = storedPrev.get(id) as string;
        if (prevHash !== prev) {
          firstBroken = { id, position: rows, reason: 'prev_hash_mismatch', message: `Row ${id} does not link to the row before it (prevHash ${String(prevHash).slice(0, 12)}…, expected ${prev.slice(0, 12)}…): a row before it was changed, removed or reordered.` };
        } else {
          let reason: ChainBreak['reason'] = 'hash_mismatch';
          let why = `its content no longer matches its hash (action ${action}, subject ${subject})`;
          try {
            const parsed = JSON.parse(details) as unknown;
            if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
            if (details !== canonicalJson(parsed)) why = 'its details are no longer the canonical text that was hashed';
          } catch {
            reason = 'details_not_json';
            why = 'its details are not a JSON object';
          }
          firstBroken = { id, position: rows, reason, message: `Row ${id} was edited: ${why}.` };
        }
      }
      prev = hash;
      expectedId = id + 1;
    }
  }
  const head: ChainHead = { count: rows, lastId, hash: rows ? prev : GENESIS_HASH };
  let against: AgainstResult | null = null;
  if (opts.against) {
    const exp = opts.against;
    if (exp.count === 0) against = { ok: true, expected: exp, message: 'The recorded head is the empty log; nothing to reach.' };
    else if (againstSeen === null) {
      against = { ok: false, expected: exp, message: `The log no longer reaches the recorded head (row ${exp.lastId}, ${exp.count} rows): it now ends at row ${lastId} with ${rows} rows. Its tail was cut.` };
    } else if (againstSeen !== exp.hash) {
      against = { ok: false, expected: exp, message: `Row ${exp.lastId} no longer has the recorded hash ${exp.hash.slice(0, 12)}… (found ${againstSeen.slice(0, 12)}…): the log was rewritten since that export.` };
    } else if (rows < exp.count) {
      against = { ok: false, expected: exp, message: `The log holds ${rows} rows, fewer than the ${exp.count} recorded: rows were removed.` };
    } else against = { ok: true, expected: exp, message: `The log still reaches the recorded head (row ${exp.lastId}); ${rows - exp.count} rows were added since.` };
  }
  const ok = firstBroken === null && (against === null || against.ok);
  let message: string;
  if (firstBroken) message = `Audit chain BROKEN at row ${firstBroken.id}: ${firstBroken.message}`;
  else if (against && !against.ok) message = `Audit chain intact internally, but ${against.message}`;
  else message = `Audit chain intact: ${rows} rows, head ${head.hash.slice(0, 16)}…${against ? `; ${against.message}` : ''}`;
  return { ok, rows, head, firstBroken, against, message };
}

export interface AuditQuery {
  action?: string;
  /** Inclusive lower bound on ts (RFC 3339 UTC). */
  from?: string;
  /** Exclusive upper bound on ts. */
  to?: string;
  limit?: number;
  /** Opaque cursor from a previous page's nextCursor. */
  cursor?: string | null;
}

export interface AuditPage {
  rows: AuditRow[];
  nextCursor: string | null;
}

function encodeCursor(ts: string, id: number): string {
  return Buffer.from(`${ts}|${id}`, 'utf8').toString('base64url');
}
function decodeCursor(c: string): { ts: string; id: number } {
  const text = Buffer.from(c, 'base64url').toString('utf8');
  const i = text.lastIndexOf('|');
  const id = Number(text.slice(i + 1));
  if (i < 0 || !Number.isInteger(id)) throw new OpsError('ERR_USAGE', 'The audit cursor is not one this console issued. Start again without --cursor.');
  return { ts: text.slice(0, i), id };
}

/** Normalises a user-given time bound to RFC 3339 UTC (accepts a date, or any Date.parse form). */
export function normaliseTs(flag: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new OpsError('ERR_USAGE', `${flag} expects a date or time such as 2025-10-29 or 2025-10-29T02:00:00Z, got "${value}".`);
  return new Date(ms).toISOString();
}

/**
 * Newest first, filtered by action and a time range [from, to), paged by an
 * opaque cursor. Served by the (action, ts, id) and (ts, id) indexes.
 */
export function queryAudit(db: Db, q: AuditQuery = {}): AuditPage {
  const limit = Math.max(1, Math.min(q.limit ?? 100, 10_000));
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (q.action) {
    where.push('action = ?');
    args.push(q.action);
  }
  if (q.from) {
    where.push('ts >= ?');
    args.push(q.from);
  }
  if (q.to) {
    where.push('ts < ?');
    args.push(q.to);
  }
  if (q.cursor) {
    const c = decodeCursor(q.cursor);
    where.push('(ts < ? OR (ts = ? AND id < ?))');
    args.push(c.ts, c.ts, c.id);
  }
  const sql = `SELECT id, ts, actor, action, subject, details, prev_hash, hash FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ts DESC, id DESC LIMIT ?`;
  const raw = db.prepare(sql).raw(true).all(...args, limit + 1) as RawRow[];
  const more = raw.length > limit;
  const rows = raw.slice(0, limit).map(toRow);
  const last = rows[rows.length - 1];
  return { rows, nextCursor: more && last ? encodeCursor(last.ts, last.id) : null };
}

/**
 * Rows by action (any of `actions`), in id order, for other services' checks
 * (runbooks): optionally after an id, with a subject prefix, newest first,
 * limited. The one way to read the log by action set.
 */
export function findAudit(db: Db, q: { actions?: string[]; afterId?: number; since?: string; subjectPrefix?: string; newestFirst?: boolean; limit?: number } = {}): AuditRow[] {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (q.actions) {
    if (q.actions.length === 0) return [];
    where.push(`action IN (${q.actions.map(() => '?').join(',')})`);
    args.push(...q.actions);
  }
  if (q.afterId !== undefined) {
    where.push('id > ?');
    args.push(q.afterId);
  }
  if (q.since !== undefined) {
    where.push('ts >= ?');
    args.push(q.since);
  }
  if (q.subjectPrefix !== undefined) {
    where.push('substr(subject, 1, ?) = ?');
    args.push(q.subjectPrefix.length, q.subjectPrefix);
  }
  const sql = `SELECT id, ts, actor, action, subject, details, prev_hash, hash FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id ${q.newestFirst ? 'DESC' : 'ASC'} LIMIT ?`;
  return (db.prepare(sql).raw(true).all(...args, Math.max(1, Math.min(q.limit ?? 10_000, 100_000))) as RawRow[]).map(toRow);
}

/** The newest row with one of these actions (or null). */
export function latestAudit(db: Db, actions: string[]): AuditRow | null {
  return findAudit(db, { actions, newestFirst: true, limit: 1 })[0] ?? null;
}

/** Streams rows in id order within an optional time range (for exports). */
export function* iterateAudit(db: Db, range: { from?: string; to?: string } = {}): Generator<AuditRow> {
  const where: string[] = [];
  const args: string[] = [];
  if (range.from) {
    where.push('ts >= ?');
    args.push(range.from);
  }
  if (range.to) {
    where.push('ts < ?');
    args.push(range.to);
  }
  const it = db.prepare(`SELECT id, ts, actor, action, subject, details, prev_hash, hash FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id`).raw(true).iterate(...args) as IterableIterator<RawRow>;
  for (const r of it) yield toRow(r);
}


// ---------------------------------------------------------------------------
// Paging for people (issue 11): total, offset pages, jump to a date, one row's detail.

/** Filters of the audit view: action (prefix, so "mirror." matches every mirror event), actor and subject (substring), time range [from, to). */
export interface AuditFilter {
  action?: string;
  actor?: string;
  subject?: string;
  from?: string;
  to?: string;
}

export interface AuditOffsetPage {
  rows: AuditRow[];
  /** Rows matching the filter (the list's length). */
  total: number;
  /** Index of rows[0] in the newest-first list. */
  offset: number;
}

function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** WHERE clause of a filter. Action is a prefix range on the (action, ts, id) index. */
function filterSql(f: AuditFilter): { where: string[]; args: (string | number)[] } {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (f.action) {
    where.push('action >= ? AND action < ?');
    args.push(f.action, `${f.action}\uffff`);
  }
  if (f.actor) {
    where.push("actor LIKE ? ESCAPE '\\'");
    args.push(`%${likeEscape(f.actor)}%`);
  }
  if (f.subject) {
    where.push("subject LIKE ? ESCAPE '\\'");
    args.push(`%${likeEscape(f.subject)}%`);
  }
  if (f.from) {
    where.push('ts >= ?');
    args.push(f.from);
  }
  if (f.to) {
    where.push('ts < ?');
    args.push(f.to);
  }
  return { where, args };
}

const isUnfiltered = (f: AuditFilter): boolean => !f.action && !f.actor && !f.subject && !f.from && !f.to;

/** How many rows match (the unfiltered count is the chain head's id: ids run 1..n without gaps). */
export function countAudit(db: Db, f: AuditFilter = {}): number {
  if (isUnfiltered(f)) return ((db.prepare('SELECT id FROM audit_log ORDER BY id DESC LIMIT 1').get() as { id: number } | undefined)?.id ?? 0);
  const { where, args } = filterSql(f);
  return (db.prepare(`SELECT count(*) AS n FROM audit_log WHERE ${where.join(' AND ')}`).get(...args) as { n: number }).n;
}

/**
 * One page of the newest-first list (log order: id descending) at `offset`.
 * Unfiltered, the page is an id range (ids have no gaps), so any offset of a
 * million-row log costs one index seek.
 */
export function pageAudit(db: Db, q: AuditFilter & { offset?: number; limit?: number; total?: number }): AuditOffsetPage {
  const limit = Math.max(1, Math.min(q.limit ?? 100, 1000));
  const offset = Math.max(0, Math.floor(q.offset ?? 0));
  const total = q.total ?? countAudit(db, q);
  const cols = 'id, ts, actor, action, subject, details, prev_hash, hash';
  let raw: RawRow[];
  if (isUnfiltered(q)) {
    const top = total - offset;
    raw = db.prepare(`SELECT ${cols} FROM audit_log WHERE id <= ? AND id > ? ORDER BY id DESC`).raw(true).all(top, top - limit) as RawRow[];
  } else {
    const { where, args } = filterSql(q);
    raw = db.prepare(`SELECT ${cols} FROM audit_log WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ? OFFSET ?`).raw(true).all(...args, limit, offset) as RawRow[];
  }
  return { rows: raw.map(toRow), total, offset };
}

/** Jump to a date: the offset of the newest row at or before `at` in the filtered newest-first list. */
export function locateAudit(db: Db, at: string, f: AuditFilter = {}): { offset: number; total: number } {
  const total = countAudit(db, f);
  const { where, args } = filterSql(f);
  where.push('ts > ?');
  args.push(at);
  const newer = (db.prepare(`SELECT count(*) AS n FROM audit_log WHERE ${where.join(' AND ')}`).get(...args) as { n: number }).n;
  return { offset: Math.min(newer, Math.max(0, total - 1)), total };
}

export interface AuditRowDetail {
  row: AuditRow;
  /** The row's hash recomputed from its fields matches, and its prevHash is the previous row's hash. */
  hashOk: boolean;
  linkOk: boolean;
  previousId: number | null;
  nextId: number | null;
}

/** One row with its own chain check (hash and link to the previous row). */
export function auditRowDetail(db: Db, id: number): AuditRowDetail {
  const cols = 'id, ts, actor, action, subject, details, prev_hash, hash';
  const r = db.prepare(`SELECT ${cols} FROM audit_log WHERE id = ?`).raw(true).get(id) as RawRow | undefined;
  if (!r) throw new OpsError('ERR_INPUT_NOT_FOUND', `The audit log has no row ${id}.`);
  const row = toRow(r);
  const prev = id > 1 ? (db.prepare('SELECT hash FROM audit_log WHERE id = ?').raw(true).get(id - 1) as [string] | undefined) : undefined;
  const next = db.prepare('SELECT id FROM audit_log WHERE id = ?').raw(true).get(id + 1) as [number] | undefined;
  const hashOk = computeRowHash(row.prevHash, row.id, row.ts, row.actor, row.action, row.subject, r[5]) === row.hash;
  const linkOk = id === 1 ? row.prevHash === GENESIS_HASH : !!prev && prev[0] === row.prevHash;
  return { row, hashOk, linkOk, previousId: id > 1 ? id - 1 : null, nextId: next ? next[0] : null };
}
