/**
 * Trusted keys pinned per tenant in the workspace database. Every change
 * (add, rotate, revoke) needs a reason (runbook 9: a change record) and writes
 * its audit row in the same transaction as the change. Trust never comes from
 * a bundle or kit: only an operator adds keys, after confirming the fingerprint.
 */
import { OpsError } from '../../../shared/errors';
import { appendAudit, computeRowHash, GENESIS_HASH } from '../audit/index';
import type { Db } from '../db/index';
import { loadPublicKey, type TrustedKey } from '../verify/keys';

export interface KeyRecord {
  tenant: string;
  fingerprint: string;
  algorithm: string;
  pem: string;
  label: string | null;
  addedAt: string;
  addedBy: string;
  reason: string;
  /** Fingerprint of the key this one rotated in for. */
  replaces: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
  revokedReason: string | null;
  status: 'active' | 'revoked';
}

const TENANT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function checkTenant(tenant: string | undefined): string {
  const t = (tenant ?? '').trim();
  if (!TENANT_RE.test(t)) {
    throw new OpsError('ERR_USAGE', t ? `"${t}" is not a valid tenant name (letters, digits, ".", "_", "-"; up to 128).` : 'A tenant is required (--tenant <name>): keys are trusted per tenant.');
  }
  return t;
}

function checkReason(reason: string | undefined, what: string): string {
  const r = (reason ?? '').trim();
  if (r.length < 3) {
    throw new OpsError('ERR_USAGE', `A reason is required to ${what} (--reason "…", for example the change ticket): runbook 9 needs a change record for every key change.`);
  }
  return r;
}

/** Normalises `sha256:<hex>` (case, surrounding space, optional colons between hex pairs). */
export function normaliseFingerprint(fp: string): string {
  const t = fp.trim().toLowerCase();
  const m = /^sha256:([0-9a-f:]+)$/.exec(t);
  if (!m) return t;
  return `sha256:${m[1].replace(/:/g, '')}`;
}

type KeyDbRow = {
  tenant: string;
  fingerprint: string;
  algorithm: string;
  pem: string;
  label: string | null;
  added_at: string;
  added_by: string;
  reason: string;
  replaces: string | null;
  revoked_at: string | null;
  revoked_by: string | null;
  revoked_reason: string | null;
};

function toRecord(r: KeyDbRow): KeyRecord {
  return {
    tenant: r.tenant,
    fingerprint: r.fingerprint,
    algorithm: r.algorithm,
    pem: r.pem,
    label: r.label,
    addedAt: r.added_at,
    addedBy: r.added_by,
    reason: r.reason,
    replaces: r.replaces,
    revokedAt: r.revoked_at,
    revokedBy: r.revoked_by,
    revokedReason: r.revoked_reason,
    status: r.revoked_at ? 'revoked' : 'active',
  };
}

/** Reads a PEM public key and tells its algorithm and fingerprint (to show the operator before confirming). */
export function inspectPublicKey(pem: string): { algorithm: string; fingerprint: string; pem: string } {
  const k = loadPublicKey(pem, 'workspace');
  return { algorithm: k.algorithm, fingerprint: k.fingerprint, pem: k.pem };
}

export interface AddKeyInput {
  pem: string;
  tenant: string;
  /** The fingerprint the operator confirmed (typed, or accepted at the prompt). Must equal the key's. */
  confirmFingerprint: string;
  reason: string;
  label?: string;
  operator?: string;
}

function getRecord(db: Db, tenant: string, fingerprint: string): KeyRecord | null {
  const r = db.prepare('SELECT * FROM trusted_keys WHERE tenant = ? AND fingerprint = ?').get(tenant, fingerprint) as KeyDbRow | undefined;
  return r ? toRecord(r) : null;
}

function prepareNewKey(db: Db, input: AddKeyInput, what: string) {
  const tenant = checkTenant(input.tenant);
  const reason = checkReason(input.reason, what);
  const key = inspectPublicKey(input.pem);
  const confirmed = normaliseFingerprint(input.confirmFingerprint ?? '');
  if (confirmed !== key.fingerprint) {
    throw new OpsError(
      'ERR_FINGERPRINT_MISMATCH',
      `The key's fingerprint is ${key.fingerprint}, but ${confirmed ? `${confirmed} was confirmed` : 'no fingerprint was confirmed'}. Nothing was trusted. Compare the fingerprint with the one published by the Export Center over a separate channel.`,
      { details: { actual: key.fingerprint, confirmed: confirmed || null } },
    );
  }
  const existing = getRecord(db, tenant, key.fingerprint);
  if (existing?.status === 'active') {
    throw new OpsError('ERR_USAGE', `Key ${key.fingerprint} is already trusted for tenant ${tenant} (since ${existing.addedAt}). Nothing was changed.`);
  }
  if (existing?.status === 'revoked') {
    throw new OpsError('ERR_USAGE', `Key ${key.fingerprint} was revoked for tenant ${tenant} on ${existing.revokedAt} (${existing.revokedReason}). A revoked key cannot be trusted again: ask the Export Center for a new key.`);
  }
  const label = input.label?.trim() || null;
  return { tenant, reason, key, label };
}

const INSERT_SQL = `INSERT INTO trusted_keys (tenant, fingerprint, algorithm, pem, label, added_at, added_by, reason, replaces)
  VALUES (@tenant, @fingerprint, @algorithm, @pem, @label, @added_at, @added_by, @reason, @replaces)`;

/** Trusts a public key for a tenant (audited as keys.added in the same transaction). */
export function addTrustedKey(db: Db, input: AddKeyInput): KeyRecord {
  const { tenant, reason, key, label } = prepareNewKey(db, input, 'trust a key');
  return db.transaction(() => {
    const row = appendAudit(db, { action: 'keys.added', subject: `${tenant}/${key.fingerprint}`, operator: input.operator, details: { tenant, fingerprint: key.fingerprint, algorithm: key.algorithm, label, reason } });
    db.prepare(INSERT_SQL).run({ tenant, fingerprint: key.fingerprint, algorithm: key.algorithm, pem: key.pem, label, added_at: row.ts, added_by: row.actor, reason, replaces: null });
    return getRecord(db, tenant, key.fingerprint)!;
  }).immediate();
}

/**
 * Rotation: trusts the new key, and keeps the old one trusted (for verifying
 * bundles it signed) until it is revoked. Audited as keys.rotated.
 */
export function rotateTrustedKey(db: Db, input: AddKeyInput & { replaces: string }): KeyRecord {
  const { tenant, reason, key, label } = prepareNewKey(db, input, 'rotate a key');
  const old = normaliseFingerprint(input.replaces ?? '');
  const oldRec = getRecord(db, tenant, old);
  if (!oldRec || oldRec.status !== 'active') {
    throw new OpsError('ERR_KEY_NOT_FOUND', `--replaces ${old || '(empty)'} is not a key trusted for tenant ${tenant}${oldRec ? ` (it was revoked on ${oldRec.revokedAt})` : ''}. Run \`mirror keys list --tenant ${tenant}\` to see the trusted keys.`);
  }
  return db.transaction(() => {
    const row = appendAudit(db, { action: 'keys.rotated', subject: `${tenant}/${key.fingerprint}`, operator: input.operator, details: { tenant, fingerprint: key.fingerprint, algorithm: key.algorithm, label, reason, replaces: old } });
    db.prepare(INSERT_SQL).run({ tenant, fingerprint: key.fingerprint, algorithm: key.algorithm, pem: key.pem, label, added_at: row.ts, added_by: row.actor, reason, replaces: old });
    return getRecord(db, tenant, key.fingerprint)!;
  }).immediate();
}

/** Stops trusting a key for a tenant (audited as keys.revoked). The record stays, marked revoked. */
export function revokeTrustedKey(db: Db, input: { tenant: string; fingerprint: string; reason: string; operator?: string }): KeyRecord {
  const tenant = checkTenant(input.tenant);
  const reason = checkReason(input.reason, 'revoke a key');
  const fp = normaliseFingerprint(input.fingerprint ?? '');
  const rec = getRecord(db, tenant, fp);
  if (!rec) throw new OpsError('ERR_KEY_NOT_FOUND', `No key ${fp || '(empty)'} is recorded for tenant ${tenant}. Run \`mirror keys list --tenant ${tenant}\` to see the trusted keys.`);
  if (rec.status === 'revoked') throw new OpsError('ERR_KEY_NOT_FOUND', `Key ${fp} of tenant ${tenant} was already revoked on ${rec.revokedAt}. Nothing was changed.`);
  return db.transaction(() => {
    const row = appendAudit(db, { action: 'keys.revoked', subject: `${tenant}/${fp}`, operator: input.operator, details: { tenant, fingerprint: fp, reason } });
    db.prepare('UPDATE trusted_keys SET revoked_at = ?, revoked_by = ?, revoked_reason = ? WHERE tenant = ? AND fingerprint = ?').run(row.ts, row.actor, reason, tenant, fp);
    return getRecord(db, tenant, fp)!;
  }).immediate();
}

/** Every recorded key (active first, then revoked), optionally for one tenant. */
export function listKeyRecords(db: Db, opts: { tenant?: string; includeRevoked?: boolean } = {}): KeyRecord[] {
  const where: string[] = [];
  const args: string[] = [];
  if (opts.tenant) {
    where.push('tenant = ?');
    args.push(opts.tenant);
  }
  if (!opts.includeRevoked) where.push('revoked_at IS NULL');
  const rows = db.prepare(`SELECT * FROM trusted_keys ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY tenant, revoked_at IS NOT NULL, added_at, id`).all(...args) as KeyDbRow[];
  return rows.map(toRecord);
}

/** The keys verification trusts: active keys of the tenant (or of every tenant), source 'workspace'. */
export function listTrustedKeys(db: Db, tenant?: string): TrustedKey[] {
  return listKeyRecords(db, { tenant }).map((r) => ({
    pem: r.pem,
    fingerprint: r.fingerprint,
    algorithm: r.algorithm,
    source: 'workspace' as const,
    tenant: r.tenant,
    ...(r.label ? { label: r.label } : {}),
  }));
}

/** Tenants with at least one active key. */
export function trustedTenants(db: Db): string[] {
  return (db.prepare('SELECT DISTINCT tenant FROM trusted_keys WHERE revoked_at IS NULL ORDER BY tenant').all() as { tenant: string }[]).map((r) => r.tenant);
}

/**
 * A pinned key the audit log does not back: trust is derived from the audited
 * key events (keys.added / keys.rotated, then keys.revoked), so a row written
 * into `trusted_keys` behind the console's back (sqlite3, a script) is found.
 */
export interface TrustStoreProblem {
  tenant: string;
  fingerprint: string;
  problem: 'not_audited' | 'revoked_in_audit' | 'key_mismatch';
  message: string;
}

type KeyEventRow = { id: number; ts: string; actor: string; action: string; subject: string; details: string; prev_hash: string; hash: string };

/**
 * Whether one key event row is a genuine link of the chain: its hash
 * recomputes, it links to the row before it, and the row after it links to it.
 * (A full walk is `mirror audit verify`; this local check keeps a forged event
 * row inserted to cover a forged key from counting, at the cost of three reads.)
 */
function eventInChain(db: Db, r: KeyEventRow): boolean {
  if (computeRowHash(r.prev_hash, r.id, r.ts, r.actor, r.action, r.subject, r.details) !== r.hash) return false;
  const before = db.prepare('SELECT hash FROM audit_log WHERE id = ?').pluck(true).get(r.id - 1) as string | undefined;
  if ((before ?? (r.id === 1 ? GENESIS_HASH : undefined)) !== r.prev_hash) return false;
  const after = db.prepare('SELECT prev_hash FROM audit_log WHERE id = ?').pluck(true).get(r.id + 1) as string | undefined;
  return after === undefined || after === r.hash;
}

/** Checks every active pinned key (of one tenant, or all) against the audited key events. Empty: all backed. */
export function trustStoreProblems(db: Db, tenant?: string): TrustStoreProblem[] {
  const events = db.prepare("SELECT id, ts, actor, action, subject, details, prev_hash, hash FROM audit_log WHERE action IN ('keys.added', 'keys.rotated', 'keys.revoked') ORDER BY id").all() as KeyEventRow[];
  const state = new Map<string, 'active' | 'revoked'>();
  for (const e of events) {
    let d: { tenant?: unknown; fingerprint?: unknown };
    try {
      d = JSON.parse(e.details) as typeof d;
    } catch {
      continue;
    }
    if (typeof d.tenant !== 'string' || typeof d.fingerprint !== 'string' || !eventInChain(db, e)) continue;
    const k = `${d.tenant}\0${d.fingerprint}`;
    if (e.action === 'keys.revoked') {
      if (state.has(k)) state.set(k, 'revoked');
    } else if (state.get(k) !== 'revoked') state.set(k, 'active');
  }
  const problems: TrustStoreProblem[] = [];
  for (const r of listKeyRecords(db, { tenant })) {
    const audited = state.get(`${r.tenant}\0${r.fingerprint}`);
    const where = `Key ${r.fingerprint} of tenant "${r.tenant}"`;
    if (!audited) {
      problems.push({ tenant: r.tenant, fingerprint: r.fingerprint, problem: 'not_audited', message: `${where} is in the trust store, but no audited event added it (no keys.added or keys.rotated row in the audit chain): it was written into console.db outside the console.` });
      continue;
    }
    if (audited === 'revoked') {
      problems.push({ tenant: r.tenant, fingerprint: r.fingerprint, problem: 'revoked_in_audit', message: `${where} was revoked (audited keys.revoked), but the trust store shows it active again: its revocation was undone outside the console.` });
      continue;
    }
    let actual: string | null = null;
    try {
      actual = loadPublicKey(r.pem, 'workspace').fingerprint;
    } catch {
      actual = null;
    }
    if (actual !== r.fingerprint) {
      problems.push({ tenant: r.tenant, fingerprint: r.fingerprint, problem: 'key_mismatch', message: `${where} is stored with ${actual ? `the key bytes of ${actual}` : 'key bytes that are not a valid public key'}: the key was replaced in console.db outside the console.` });
    }
  }
  return problems;
}

/** What to do about a trust store problem (shown with the refusal and by `mirror audit verify`). */
export const TRUST_STORE_ACTION =
  'Preserve console.db as evidence (copy it aside) and report to security. Then stop trusting the key with `mirror keys revoke <fingerprint> --tenant <tenant> --reason "…"` (audited), and compare `mirror keys list` with your change records.';
